"""Topics where people see them: the meeting page, a council's topic page and its Atom
feed, the API; digests filtered to a subscriber's topics; retagging after the taxonomy
changes."""

from __future__ import annotations

from datetime import date, timedelta

import lxml.etree
import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import councils, topics
from digest.models import AgendaItem, Digest, OutboxMessage, Subscriber, Subscription
from digest.runtime import Runtime
from digest.weekly.build import BuildSettings, build_council_digest
from digest.weekly.weeks import IsoWeek
from tests.integration.helpers import active_subscription
from tests.support.clock import Clock
from tests.support.meetings import BUILD_AT, WEEK, Item, add_meeting, arrange_busy_week, enable
from tests.support.web import text


def _busy(rt: Runtime, clock: Clock) -> dict[str, int]:
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now - timedelta(days=30))
        council.last_success_at = BUILD_AT - timedelta(hours=3)
        ids = {name: m.id for name, m in arrange_busy_week(session, council).items()}
    clock.set(BUILD_AT)
    return ids


def _choose(rt: Runtime, subscription_id: int, slugs: list[str]) -> None:
    with rt.sessions.begin() as session:
        session.get_one(Subscription, subscription_id).topics = slugs


def _build(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "manchester")
        assert council is not None
        build_council_digest(
            session,
            council,
            IsoWeek.parse(WEEK),
            rt.now(),
            BuildSettings.from_config(rt.config),
            rt.links,
        )


def test_meeting_page_topic_page_feed_and_api(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    ids = _busy(rt, clock)
    page = text(client.get(f"/councils/manchester/meetings/{ids['executive']}"))
    assert '<h2 id="topics-heading">Topics</h2>' in page
    assert 'href="/councils/manchester/topics/budget-finance"' in page
    assert "Schools and SEND" in page

    topic = client.get("/councils/manchester/topics/schools-send")
    assert topic.status_code == 200
    body = text(topic)
    assert "SEND Home to School Transport" in body
    assert "To approve the revised SEND transport policy." in body  # the decision
    assert "Revenue Budget" not in body
    assert client.get("/councils/manchester/topics/no-such-topic").status_code == 404

    feed = client.get("/councils/manchester/topics/schools-send/feed.atom")
    assert feed.mimetype == "application/atom+xml"
    root = lxml.etree.fromstring(feed.get_data())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = root.xpath("//a:entry/a:title/text()", namespaces=ns)
    assert any("SEND Home to School Transport" in t for t in titles)
    assert not any("Revenue Budget" in t for t in titles)

    listed = client.get("/api/v1/topics").get_json()
    slugs = [t["slug"] for t in listed["topics"]]
    assert 20 <= len(slugs) <= 30 and {"planning", "housing", "schools-send"} <= set(slugs)
    api = client.get("/api/v1/councils/manchester/meetings").get_json()
    executive = next(m for m in api["recent"] if m["id"] == ids["executive"])
    by_title = {i["title"]: i["topics"] for i in executive["agenda_items"]}
    assert by_title["Apologies for Absence"] == []
    assert "schools-send" in by_title["SEND Home to School Transport"]
    assert "budget-finance" in by_title["Revenue Budget 2027/28 and Medium Term Financial Strategy"]


def test_filtered_digest_holds_only_matching_items_and_is_skipped_when_nothing_matches(
    rt: Runtime, clock: Clock
) -> None:
    _busy(rt, clock)
    active_subscription(rt, "all@example.net", "manchester")
    planning = active_subscription(rt, "planner@example.net", "manchester")
    planning_too = active_subscription(rt, "planner2@example.net", "manchester")
    flooding = active_subscription(rt, "flood@example.net", "manchester")
    _choose(rt, planning, ["planning"])
    _choose(rt, planning_too, ["planning"])
    _choose(rt, flooding, ["flooding"])
    _build(rt)
    _build(rt)  # again: nothing new rendered or queued

    with rt.read_sessions() as session:
        digests = {d.topics: d for d in session.scalars(sa.select(Digest))}
        rows = {
            m.recipient: m
            for m in session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.purpose == "weekly_digest")
            )
        }
    assert set(digests) == {"", "planning", "flooding"}
    full, only_planning = digests[""], digests["planning"]
    assert digests["flooding"].is_quiet and digests["flooding"].body_text == ""
    # One rendering per selection, shared; nothing queued for the flooding-only choice.
    assert set(rows) == {"all@example.net", "planner@example.net", "planner2@example.net"}
    assert rows["all@example.net"].digest_id == full.id
    assert rows["planner@example.net"].digest_id == only_planning.id
    assert rows["planner2@example.net"].digest_id == only_planning.id
    assert {r.reference for r in rows.values()} == {f"digest:{full.id}"}

    body = only_planning.body_text
    assert (
        "only meetings and items on the topics you chose: this week, Planning and development"
        in body
    )
    assert "126952/FO/2026 - 1 Great Ancoats Street" in body
    for other in (
        "Revenue Budget",
        "Home to School Transport",
        "Inspection of Children",
        "Free School Meals",
    ):
        assert other in full.body_text and other not in body, other
    assert "Revenue Budget" not in only_planning.body_html


def test_quiet_filtered_digest_is_sent_when_quiet_weeks_is_send(rt: Runtime, clock: Clock) -> None:
    _busy(rt, clock)
    flooding = active_subscription(rt, "flood@example.net", "manchester")
    _choose(rt, flooding, ["flooding"])
    rt.config = rt.config.replace(digest={"quiet_weeks": "send"})
    _build(rt)
    with rt.read_sessions() as session:
        digest = session.scalars(sa.select(Digest).where(Digest.topics == "flooding")).one()
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.purpose == "weekly_digest")
            )
            == 1
        )
    assert digest.is_quiet and "Nothing on your topics this week" in digest.body_text


def test_items_are_tagged_again_when_the_taxonomy_changes(rt: Runtime, clock: Clock) -> None:
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now)
        add_meeting(session, council, on=date(2026, 11, 25), items=[Item("Local Plan Review")])
        session.execute(sa.update(AgendaItem).values(topics=[], topics_version="old"))
    with rt.sessions.begin() as session:
        assert topics.count_stale(session) == 1
        assert topics.retag_stale(session) == 1
        assert topics.count_stale(session) == 0
        item = session.scalars(sa.select(AgendaItem)).one()
        assert item.topics == ["planning"] and item.topics_version == topics.taxonomy().version


def test_manage_page_chooses_topics_per_subscription(client: FlaskClient, rt: Runtime) -> None:
    from tests.support.web import post_form

    subscription_id = active_subscription(rt, "chooser@example.net", "leeds")
    with rt.read_sessions() as session:
        subscriber_id = session.get_one(Subscription, subscription_id).subscriber_id
        secret = session.get_one(Subscriber, subscriber_id).link_secret
    manage = "/manage/" + rt.links.manage(subscriber_id, secret).rsplit("/", 1)[1]
    page = text(client.get(manage))
    assert "Topics in your Leeds City Council digest" in page and "All topics" in page
    saved = post_form(
        client,
        manage,
        manage + "/topics",
        {
            "subscription": str(subscription_id),
            "choice": "some",
            "topics": ["planning", "housing", "made-up"],
        },
    )
    assert saved.status_code == 303
    with rt.read_sessions() as session:
        assert session.get_one(Subscription, subscription_id).topics == ["housing", "planning"]
    assert "only: Housing and homelessness, Planning and development" in text(
        client.get(saved.headers["Location"])
    )
    post_form(
        client, manage, manage + "/topics", {"subscription": str(subscription_id), "choice": "all"}
    )
    with rt.read_sessions() as session:
        assert session.get_one(Subscription, subscription_id).topics == []
