"""Every way a council site lets us down becomes a clear error recorded on the council,
never a crash and never a partial overwrite of what we already hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.models import Meeting, MeetingFetchFailure
from digest.runtime import Runtime
from tests.integration.collecting import (
    changes_of,
    collect,
    council,
    meetings_of,
    point_at_fake,
    snapshot,
)
from tests.integration.helpers import make_admin
from tests.support.clock import Clock
from tests.support.moderngov import (
    FakeModernGov,
    FakeSite,
    Reply,
    fixture,
    getmeetings_xml,
    manchester_like,
    on,
)
from tests.support.web import post_form, text

HOST = "democracy.wigan.test"
XML = "text/xml; charset=utf-8"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<getmeetings><meetingscount>&lol4;</meetingscount></getmeetings>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE getmeetings [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<getmeetings><meetingscount>&secret;</meetingscount></getmeetings>"""


@dataclass(frozen=True)
class Fault:
    reply: Reply
    expected: str
    settings: dict[str, Any] | None = None


def _real_list(rt: Runtime) -> bytes:
    return getmeetings_xml(manchester_like(rt.now().date()))


FAULTS = {
    "sharepoint error page with 200": Fault(
        Reply(fixture("error_leeds_sharepoint_error_page_2016.html"), content_type="text/html"),
        'answered with an HTML page ("Error") instead of ModernGov XML',
    ),
    "javascript redirect stub labelled as XML": Fault(
        Reply(fixture("error_denbighshire_http_redirect_script_2016.html"), content_type=XML),
        "answered with an HTML page instead of ModernGov XML",
    ),
    "empty body": Fault(Reply(b"  \r\n"), "empty body"),
    "truncated XML": Fault(Reply(b"TRUNCATE"), "not well-formed XML (truncated or broken"),
    "entity bomb": Fault(Reply(BILLION_LAUGHS), "declares a DTD or entities"),
    "external entity": Fault(Reply(EXTERNAL_ENTITY), "declares a DTD or entities"),
    "XML of another operation": Fault(
        Reply(fixture("getcouncillorsbyward_east_herts_empty_2016.xml")),
        "not a ModernGov answer (root <councillorsbyward>",
    ),
    "403": Fault(Reply(b"Forbidden", 403, "text/plain"), "HTTP 403 Forbidden: the site refused us"),
    "404": Fault(
        Reply(b"", 404, "text/plain"), "HTTP 404 Not Found: no web service at this address"
    ),
    "500": Fault(Reply(b"oops", 500, "text/plain"), "HTTP 500 Internal Server Error: the site had"),
    "503": Fault(Reply(b"", 503, "text/plain"), "HTTP 503 Service Unavailable"),
    "timeout": Fault(Reply(b"", delay=1.0), "did not answer within 0.3 seconds", {"timeout": 0.3}),
    "oversized (declared)": Fault(
        Reply(b"<getmeetings>" + b" " * 5000 + b"</getmeetings>"),
        "larger than 1,000 bytes",
        {"max_response_bytes": 1000},
    ),
    "oversized (streamed)": Fault(
        Reply(b"<getmeetings>" + b" " * 5000 + b"</getmeetings>", chunked=True),
        "larger than 1,000 bytes",
        {"max_response_bytes": 1000},
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_bad_answer_is_a_recorded_error_and_good_data_stays(
    name: str, rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    fault = FAULTS[name]
    site = fake_moderngov.add_site(HOST, FakeSite(meetings=manchester_like(rt.now().date())))
    point_at_fake(rt, "wigan", fake_moderngov, HOST)
    assert collect(rt, "wigan").outcomes[0].ok
    good, changes = snapshot(rt, "wigan"), changes_of(rt, "wigan")
    succeeded_at = rt.now()

    reply = fault.reply
    if reply.body == b"TRUNCATE":
        whole = _real_list(rt)
        reply = Reply(whole[: len(whole) // 2])
    site.override = on("GetMeetings", reply)
    clock.advance(hours=6)
    report = collect(rt, "wigan", settings=fault.settings)

    (outcome,) = report.outcomes
    assert not outcome.ok and outcome.error is not None
    assert fault.expected in outcome.error
    wigan = council(rt, "wigan")
    assert wigan.last_error == outcome.error
    assert wigan.last_error_at == rt.now() and wigan.consecutive_failures == 1
    assert wigan.last_success_at == succeeded_at
    assert snapshot(rt, "wigan") == good and changes_of(rt, "wigan") == changes

    clock.advance(hours=6)
    collect(rt, "wigan", settings=fault.settings)
    assert council(rt, "wigan").consecutive_failures == 2

    site.override = None
    clock.advance(hours=6)
    assert collect(rt, "wigan").outcomes[0].ok
    healed = council(rt, "wigan")
    assert healed.consecutive_failures == 0 and healed.last_error is None
    assert healed.last_success_at == rt.now()


def test_a_detail_failing_midway_leaves_that_meeting_untouched_and_stores_the_rest(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    site = fake_moderngov.add_site(HOST, FakeSite(meetings=manchester_like(rt.now().date())))
    point_at_fake(rt, "wigan", fake_moderngov, HOST)
    collect(rt, "wigan")
    good = snapshot(rt, "wigan")
    # Two meetings move; the detail of the second one cannot be had.
    for meeting in site.meetings:
        if meeting.id in ("4966", "4968"):
            meeting.date += timedelta(days=1)
    site.override = on("GetMeeting", Reply(b"", 500, "text/plain"), meeting_id="4968")
    clock.advance(hours=1)

    (outcome,) = collect(rt, "wigan").outcomes

    assert outcome.ok and outcome.changed == 1
    after = snapshot(rt, "wigan")
    source_id = [c.key for c in Meeting.__table__.columns].index("source_id")
    by_id = {row[source_id]: row for row in good}
    assert {row[source_id]: row for row in after}["4968"] == by_id["4968"]  # untouched
    assert {row[source_id]: row for row in after}["4966"] != by_id["4966"]
    with rt.read_sessions() as session:
        (failure,) = session.scalars(sa.select(MeetingFetchFailure))
    assert failure.source_id == "4968" and failure.error.startswith("HTTP 500")


def test_a_meeting_that_keeps_failing_no_longer_blocks_its_council(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov, client: FlaskClient
) -> None:
    """ModernGov's "Object reference not set" 500 for one meeting, for good: the others
    are stored, the failing one is recorded with its error, retried at every run, shown
    to admins, and stored once it reads."""
    site = fake_moderngov.add_site(HOST, FakeSite(meetings=manchester_like(rt.now().date())))
    broken = Reply(b"Object reference not set to an instance of an object.", 500, "text/plain")
    site.override = on("GetMeeting", broken, meeting_id="4967")
    point_at_fake(rt, "wigan", fake_moderngov, HOST)

    for attempt in (1, 2):
        (outcome,) = collect(rt, "wigan").outcomes
        assert outcome.ok, outcome.error
        assert set(meetings_of(rt, "wigan")) == {"4966", "4968"}
        with rt.read_sessions() as session:
            (failure,) = session.scalars(sa.select(MeetingFetchFailure))
        assert (failure.source_id, failure.attempts) == ("4967", attempt)
        assert "HTTP 500" in failure.error
        clock.advance(hours=6)

    make_admin(rt)
    form = {"email": "admin@councildigest.example.org", "password": "correct horse battery staple"}
    assert post_form(client, "/admin/login", "/admin/login", form).status_code == 303
    page = text(client.get("/admin/councils/wigan"))
    assert "Meetings that could not be read" in page and "4967" in page

    site.override = None
    (outcome,) = collect(rt, "wigan").outcomes
    assert outcome.ok and outcome.new == 1
    assert set(meetings_of(rt, "wigan")) == {"4966", "4967", "4968"}
    with rt.read_sessions() as session:
        assert session.scalars(sa.select(MeetingFetchFailure)).all() == []


def test_one_council_failing_does_not_stop_the_others(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    today = rt.now().date()
    fake_moderngov.add_site(HOST, FakeSite(meetings=manchester_like(today)))
    fake_moderngov.add_site(
        "democracy.bolton.test",
        FakeSite(override=on("GetMeetings", Reply(b"", 503, "text/plain"))),
    )
    fake_moderngov.add_site(
        "democracy.bury.test", FakeSite(meetings=manchester_like(today, start_id=100))
    )
    point_at_fake(rt, "wigan", fake_moderngov, HOST)
    point_at_fake(rt, "bolton", fake_moderngov, "democracy.bolton.test")
    point_at_fake(rt, "bury", fake_moderngov, "democracy.bury.test")

    report = collect(rt)  # every enabled council

    assert {o.slug: o.ok for o in report.outcomes} == {"wigan": True, "bolton": False, "bury": True}
    assert len(meetings_of(rt, "wigan")) == len(meetings_of(rt, "bury")) == 3
    assert "HTTP 503" in (council(rt, "bolton").last_error or "")
    assert report.summary().startswith("2 of 3 councils collected; 6 new and 0 changed meetings")
    assert report.summary().endswith("1 failed: bolton")


def test_an_unreachable_host_is_a_recorded_error(rt: Runtime) -> None:
    from tests.support.smtp import free_port

    with rt.sessions.begin() as session:
        from digest import councils, enablement

        wigan = councils.get_by_slug(session, "wigan")
        assert wigan is not None
        enablement.enable(session, wigan, rt.now(), base_url=f"http://127.0.0.1:{free_port()}")
    (outcome,) = collect(rt, "wigan").outcomes
    assert not outcome.ok and "127.0.0.1: connection refused" in (outcome.error or "")


def test_councils_that_cannot_be_collected_as_configured_say_why(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    from digest import councils

    fake_moderngov.add_site(HOST, FakeSite(meetings=manchester_like(rt.now().date())))
    point_at_fake(rt, "wigan", fake_moderngov, HOST)
    point_at_fake(rt, "adur", fake_moderngov, "democracy.adur-worthing.test")
    with rt.sessions.begin() as session:
        adur = councils.get_by_slug(session, "adur")
        no_source = next(c for c in councils.search(session) if not c.base_url)
        assert adur is not None
        adur.committee_filter = "(Adur"  # broken by hand in the database
        slug, name = no_source.slug, no_source.name

    report = collect(rt, "wigan", "adur", slug)

    outcomes = {o.slug: o for o in report.outcomes}
    assert outcomes["wigan"].ok
    assert "not a valid regular expression" in (outcomes["adur"].error or "")
    assert outcomes[slug].error == f"{name} has no democracy website address (base URL)"
    assert council(rt, "adur").consecutive_failures == 1
