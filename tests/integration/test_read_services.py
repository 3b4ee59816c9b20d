"""Read-side services that views, jobs and /metrics call instead of querying."""

from __future__ import annotations

import sqlalchemy as sa

from digest import councils, professional_requests, stats, subscribers
from digest.models import Council, CouncilStatus, Subscription, SubscriptionKind
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription, professional_request, queue_notice


def test_a_professional_adds_councils_as_a_professional(rt: Runtime) -> None:
    active_subscription(rt, "res@example.net", "manchester")
    pro = active_subscription(rt, "pro@example.net", "manchester")
    with rt.sessions.begin() as session:
        session.get_one(Subscription, pro).kind = SubscriptionKind.PROFESSIONAL
    with rt.read_sessions() as session:
        res_id = subscribers.by_email(session, "res@example.net")
        pro_id = subscribers.by_email(session, "pro@example.net")
        assert res_id is not None and pro_id is not None
        assert subscribers.kind_for_added_council(session, res_id.id) == SubscriptionKind.RESIDENT
        assert (
            subscribers.kind_for_added_council(session, pro_id.id) == SubscriptionKind.PROFESSIONAL
        )
        assert stats.active_subscribers(session) == 2


def test_the_admin_look_up_shows_the_newest_emails_first(rt: Runtime) -> None:
    active_subscription(rt, "someone@example.net", "manchester")
    with rt.read_sessions() as session:
        found = subscribers.by_email(session, "someone@example.net")
        assert found is not None
    queue_notice(rt, "someone@example.net", "later", subscriber_id=found.id)
    with rt.read_sessions() as session:
        oldest_first = subscribers.emails_of(session, found.id)
        lookup = subscribers.look_up(session, rt.config.site.secret_key, "someone@example.net")
        nobody = subscribers.look_up(session, rt.config.site.secret_key, "nobody@example.net")
    assert len(oldest_first) >= 2
    assert [m.id for m in lookup.messages] == [m.id for m in reversed(oldest_first)]
    assert lookup.subscriber is not None and lookup.subscriber.id == found.id
    assert [c.slug for _, c in lookup.subscriptions] == ["manchester"]
    assert lookup.consent and lookup.suppression is None
    assert (nobody.subscriber, nobody.messages, nobody.suppression) == (None, [], None)


def test_councils_never_collected_and_open_requests(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        for slug in ("manchester", "leeds"):
            council = session.scalars(sa.select(Council).where(Council.slug == slug)).one()
            council.status = CouncilStatus.ENABLED
        leeds = session.scalars(sa.select(Council).where(Council.slug == "leeds")).one()
        leeds.last_attempt_at = rt.now()
        leeds_id = leeds.id
    professional_request(rt, "bolton", "a@firm.example")
    professional_request(rt, "bolton", "b@firm.example", confirm=False)
    with rt.read_sessions() as session:
        assert councils.never_collected(session) == ["manchester"]
        assert [c.slug for c in councils.enabled(session)] == ["leeds", "manchester"]
        by_name = [c.name for c in councils.enabled(session, by_name=True)]
        assert by_name == sorted(by_name) and len(by_name) == 2
        assert councils.enabled_ids(session, ["leeds", "bolton", "nowhere"]) == {"leeds": leeds_id}
        assert professional_requests.count_open(session) == 1
        health = stats.health(session, rt.now(), "scheduler")
    assert (health.scheduler_beat, health.sending_stopped) == (None, None)
