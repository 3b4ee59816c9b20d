"""Issue 19, admin findings: a probe failure does not outlive the address it was about,
the councils list opens on something useful, and Enable asks before emailing people."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.clock import utcnow
from digest.models import Council, CouncilStatus, OutboxMessage
from digest.runtime import Runtime
from tests.integration.collecting import collect, council, point_at_fake
from tests.integration.helpers import active_subscription, make_admin, professional_request
from tests.integration.test_admin_console import login
from tests.support.clock import Clock
from tests.support.moderngov import FakeModernGov, FakeSite, Reply, manchester_like
from tests.support.smtp import free_port
from tests.support.web import post_form, text


def probe_row(client: FlaskClient, slug: str) -> str:
    page = text(client.get(f"/admin/councils/{slug}"))
    return page.split("Last probe", 1)[1].split("</tr>", 1)[0]


def test_a_probe_failure_goes_when_the_address_is_fixed(
    client: FlaskClient, rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    clock.set(utcnow())
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    active_subscription(rt, "r@example.net", "wigan")
    make_admin(rt)
    login(client)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    post_form(
        client, "/admin/councils/wigan", "/admin/councils/wigan/base-url", {"base_url": nowhere}
    )
    post_form(client, "/admin/councils/wigan", "/admin/councils/wigan/probe")
    assert "Failed" in probe_row(client, "wigan")
    assert "probe failed" in text(client.get("/admin/queue"))

    fixed = fake_moderngov.url("127.0.0.1")
    post_form(
        client, "/admin/councils/wigan", "/admin/councils/wigan/base-url", {"base_url": fixed}
    )
    row = probe_row(client, "wigan")
    assert "Failed" not in row and "never" in row
    assert "probe failed" not in text(client.get("/admin/queue"))
    assert council(rt, "wigan").last_probe_ok is None

    post_form(client, "/admin/councils/wigan", "/admin/councils/wigan/probe")
    assert "OK" in probe_row(client, "wigan") and council(rt, "wigan").last_probe_ok


def test_a_probe_failure_is_history_once_a_collection_succeeds(
    client: FlaskClient, rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    clock.set(utcnow())
    site = fake_moderngov.add_site(
        "127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date()))
    )
    point_at_fake(rt, "wigan", fake_moderngov, "127.0.0.1")
    make_admin(rt)
    login(client)
    site.override = lambda request: Reply(b"", 503, "text/plain")  # a bad moment
    post_form(client, "/admin/councils/wigan", "/admin/councils/wigan/probe")
    assert 'tag-cancelled">Failed' in probe_row(client, "wigan")

    site.override = None
    clock.advance(minutes=5)
    assert collect(rt, "wigan").failed == []
    row = probe_row(client, "wigan")
    assert "tag-cancelled" not in row and "a collection has succeeded since" in row


def test_the_councils_list_opens_on_something_and_says_when_a_filter_is_empty(
    client: FlaskClient, rt: Runtime
) -> None:
    make_admin(rt)
    login(client)
    fresh = text(client.get("/admin/councils"))  # nothing enabled yet: all councils
    assert "Wigan Metropolitan Borough Council" in fresh and "382 councils" in fresh
    assert '<option value="all" selected' in fresh

    empty = text(client.get("/admin/councils?status=paused"))
    assert "No councils match this filter" in empty
    assert 'href="/admin/councils?status=all">Show all councils' in empty

    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council).where(Council.slug == "leeds").values(status=CouncilStatus.ENABLED)
        )
    enabled = text(client.get("/admin/councils"))  # once any are enabled: those
    assert "1 council enabled" in enabled and "Leeds" in enabled and "Wigan" not in enabled


def test_enable_asks_first_saying_how_many_people_will_be_emailed(
    client: FlaskClient, rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    clock.set(utcnow())
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    active_subscription(rt, "a@example.net", "wigan")
    active_subscription(rt, "b@example.net", "wigan")
    make_admin(rt)
    login(client)
    post_form(
        client,
        "/admin/councils/wigan",
        "/admin/councils/wigan/base-url",
        {"base_url": fake_moderngov.url("127.0.0.1")},
    )
    queue = text(client.get("/admin/queue"))
    assert 'href="/admin/councils/wigan/enable?back=/admin/queue"' in queue

    def live_emails() -> int:
        with rt.read_sessions() as session:
            return (
                session.scalar(
                    sa.select(sa.func.count()).where(OutboxMessage.purpose == "council_live")
                )
                or 0
            )

    # A POST without the confirmation (an old form, a replay) only leads to the question.
    unconfirmed = post_form(
        client, "/admin/queue", "/admin/councils/wigan/enable", {"back": "/admin/queue"}
    )
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["Location"].endswith(
        "/admin/councils/wigan/enable?back=/admin/queue"
    )
    assert council(rt, "wigan").status == CouncilStatus.WAITLIST and live_emails() == 0

    question = text(client.get(unconfirmed.headers["Location"]))
    assert "<strong>2 people</strong> waiting for it will be emailed" in question
    assert "Enable and email 2 people" in question
    assert 'name="confirm" value="yes"' in question and 'name="csrf_token"' in question

    confirmed = post_form(
        client,
        "/admin/councils/wigan/enable",
        "/admin/councils/wigan/enable",
        {"back": "/admin/queue", "confirm": "yes"},
    )
    assert confirmed.headers["Location"].endswith("/admin/queue")
    rt.wait_for_background()
    assert council(rt, "wigan").status == CouncilStatus.ENABLED and live_emails() == 2


def test_approving_a_request_asks_first_too(
    client: FlaskClient, rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    """ "Approve and enable" switches the council on and emails everyone waiting, so it
    leads to the same question as Enable; only the confirmed answer enables."""
    clock.set(utcnow())
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    active_subscription(rt, "a@example.net", "wigan")
    request_id = professional_request(rt, "wigan", "pat@observer.example")
    make_admin(rt)
    login(client)
    post_form(
        client,
        "/admin/councils/wigan",
        "/admin/councils/wigan/base-url",
        {"base_url": fake_moderngov.url("127.0.0.1")},
    )
    asked = post_form(
        client, "/admin/requests", f"/admin/requests/{request_id}/decide", {"decision": "approve"}
    )
    assert asked.status_code == 303
    assert asked.headers["Location"].endswith("/admin/councils/wigan/enable?back=/admin/requests")
    assert council(rt, "wigan").status == CouncilStatus.WAITLIST

    question = text(client.get(asked.headers["Location"]))
    assert "<strong>1 person</strong> waiting for it will be emailed" in question
    confirmed = post_form(
        client,
        asked.headers["Location"],
        "/admin/councils/wigan/enable",
        {"back": "/admin/requests", "confirm": "yes"},
    )
    assert confirmed.headers["Location"].endswith("/admin/requests")
    rt.wait_for_background()
    assert council(rt, "wigan").status == CouncilStatus.ENABLED
    assert "Approve and enable" not in text(client.get("/admin/requests"))
