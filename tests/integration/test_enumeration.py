"""The subscribe form answers identically whatever the address's state, so nobody can
learn whether an address is subscribed, pending, unsubscribed, suppressed or erased."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import subscriptions, suppressions
from digest.models import OutboxMessage, Subscriber, SuppressionReason
from digest.runtime import Runtime
from tests.integration.helpers import ORIGIN, active_subscription, take_in
from tests.support.web import subscribe, text


def normalised(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def test_identical_responses_for_every_address_state(client: FlaskClient, rt: Runtime) -> None:
    active_subscription(rt, "active@example.net", "wigan")
    subscribe(client, "wigan", "pending@example.net")
    take_in(rt)
    unsubscribed = active_subscription(rt, "unsubscribed@example.net", "wigan")
    erased = active_subscription(rt, "erased@example.net", "wigan")
    with rt.sessions.begin() as session:
        subscriptions.unsubscribe(
            session,
            subscription_id=unsubscribed,
            now=rt.now(),
            origin=ORIGIN,
            secret_key=rt.config.site.secret_key,
        )
        suppressions.suppress(
            session,
            rt.config.site.secret_key,
            "bounced@example.net",
            SuppressionReason.HARD_BOUNCE,
            rt.now(),
        )
        erased_id = session.scalar(
            sa.select(Subscriber.id).where(Subscriber.email == "erased@example.net")
        )
        assert erased_id is not None and erased
        subscriptions.erase(
            session, subscriber_id=erased_id, now=rt.now(), secret_key=rt.config.site.secret_key
        )

    answers = {}
    for state in ("new", "pending", "active", "unsubscribed", "bounced", "erased"):
        response = subscribe(client, "wigan", f"{state}@example.net")
        follow = client.get(response.headers["Location"])
        answers[state] = (
            response.status_code,
            response.headers["Location"],
            sorted(name for name, _ in response.headers if name != "Set-Cookie"),
            normalised(text(response)),
            follow.status_code,
            normalised(text(follow)),
        )
    first = answers["new"]
    assert all(answer == first for answer in answers.values())
    take_in(rt)

    with rt.read_sessions() as session:
        queued = {
            (m.recipient.split("@")[0], m.purpose)
            for m in session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.created_at == rt.now())
            )
        }
    # What differs is only the email that goes to the address itself.
    assert ("new", "confirm_subscription") in queued
    assert ("pending", "confirm_subscription") in queued
    assert ("active", "already_subscribed") in queued
    assert ("unsubscribed", "confirm_subscription") in queued
    assert ("erased", "confirm_subscription") in queued
    assert not any(who == "bounced" for who, _ in queued)
