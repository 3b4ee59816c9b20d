"""The web side of summaries: meeting pages, the digest archive, the council page, the
Atom feed, the iCalendar feed and the digest API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import icalendar
import lxml.html
import pytest
from flask.testing import FlaskClient
from lxml import etree

from digest.mail.compose import MANAGE_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from digest.runtime import Runtime
from digest.weekly.build import BuildSettings, build_council_digest
from digest.weekly.weeks import IsoWeek
from tests.support.clock import Clock
from tests.support.meetings import BUILD_AT, WEEK, arrange_busy_week, enable
from tests.support.web import text

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def busy(rt: Runtime, clock: Clock) -> dict[str, int]:
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now)
        council.last_success_at = BUILD_AT - timedelta(hours=3)
        ids = {name: m.id for name, m in arrange_busy_week(session, council).items()}
    clock.set(BUILD_AT)
    return ids


@pytest.fixture
def built(rt: Runtime, busy: dict[str, int]) -> dict[str, int]:
    with rt.sessions.begin() as session:
        from digest import councils

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
    return busy


def test_meeting_page(client: FlaskClient, busy: dict[str, int]) -> None:
    page = client.get(f"/councils/manchester/meetings/{busy['executive']}")
    assert page.status_code == 200
    html = text(page)
    assert "<h1>Executive</h1>" in html
    assert "Wednesday 18 November 2026, 6:30pm" in html
    assert "What was decided" in html
    assert "<li>To recommend to Council a council tax increase of 4.99%.</li>" in html
    assert "Routine business: apologies and declarations of interest." in html
    assert "2 items considered in private, with the press and public excluded." in html
    assert "Disposal of Land" not in html
    # Papers: the reports pack first, the duplicate frontsheet once.
    assert html.index("Public reports pack 18th-Nov-2026") < html.index("Agenda frontsheet")
    assert html.count(">Agenda frontsheet<") == 1
    assert "Councillor Bev Craig (LAB), Leader" in html
    assert "<strong>SEND</strong>: Special educational needs" in html
    assert "View this meeting on the council's website" in html
    assert 'style="' not in html  # the CSP allows no inline styles
    # The meeting in plain words directly under When/Where/Status (SPEC §12.1).
    assert re.search(
        r"</dl>\s*<p class=\"summary\">The Executive met on Wednesday 18 November\. It noted "
        r"the forecast overspend of £4\.2m, approved the revised SEND transport policy and "
        r"took 2 items in private\.</p>",
        html,
    )
    assert '<p class="outcome-label">The committee resolved to:</p>' in html
    # Glossary markers are links to the definition, never inside a heading or a link.
    tree = lxml.html.document_fromstring(html)
    for marker in tree.xpath("//sup[@class='fn']/a"):
        target = marker.get("href").lstrip("#")
        assert tree.xpath(f"//li[@id='{target}']"), target
        assert not marker.xpath("ancestor::h1|ancestor::h2|ancestor::h3|ancestor::a/ancestor::a")
    assert tree.xpath("//h1//sup|//h2//sup|//h3//sup") == []
    # A term first used in an item title is linked from under the heading instead.
    assert tree.xpath("//p[@class='terms-used muted']/a[starts-with(@href, '#term-')]")


def test_meeting_page_without_minutes_and_cancelled(
    client: FlaskClient, busy: dict[str, int]
) -> None:
    scrutiny = text(client.get(f"/councils/manchester/meetings/{busy['scrutiny']}"))
    assert "The minutes have not been published yet, so this is the agenda" in scrutiny
    assert "Ofsted Inspection of Children" in scrutiny
    assert re.search(r'Terms explained below: <a href="#term-(\d+)">Ofsted \[\1\]</a>', scrutiny)
    cancelled = text(client.get(f"/councils/manchester/meetings/{busy['licensing']}"))
    assert "<strong>Cancelled.</strong> This meeting will not take place." in cancelled


def test_meeting_pages_404(client: FlaskClient, busy: dict[str, int]) -> None:
    assert client.get(f"/councils/leeds/meetings/{busy['executive']}").status_code == 404
    assert client.get("/councils/manchester/meetings/999999").status_code == 404
    assert client.get("/councils/atlantis/meetings/1").status_code == 404
    assert client.get("/councils/manchester/meetings/abc").status_code == 404


def test_council_page_links_meetings_and_latest_digest(
    client: FlaskClient, built: dict[str, int]
) -> None:
    html = text(client.get("/councils/manchester"))
    assert f'href="/councils/manchester/meetings/{built["council"]}"' in html
    assert "Latest weekly digest" in html
    assert f'href="/councils/manchester/digests/{WEEK}"' in html
    assert 'type="application/atom+xml"' in html
    assert 'href="/councils/manchester/meetings.ics"' in html


def test_digest_archive_and_week_page(client: FlaskClient, built: dict[str, int]) -> None:
    archive = text(client.get("/councils/manchester/digests"))
    assert "Week of 23 – 29 November 2026" in archive
    assert "Last week: 3 meetings, 4 decisions" in archive
    page = client.get(f"/councils/manchester/digests/{WEEK}")
    assert page.status_code == 200
    html = text(page)
    # The same content as the email ...
    assert "To note the forecast overspend of £4.2m." in html
    assert "Licensing Sub-Committee" in html and "Cancelled" in html
    assert "Notice of Motion" in html
    # ... without anybody's links, and styled by the site, not inline.
    assert UNSUBSCRIBE_PLACEHOLDER not in html and MANAGE_PLACEHOLDER not in html
    assert "/unsubscribe/" not in html and "/manage/" not in html
    assert 'style="' not in html
    assert client.get("/councils/manchester/digests/2026-W01").status_code == 404
    assert client.get("/councils/manchester/digests/not-a-week").status_code == 404
    assert client.get("/councils/leeds/digests").status_code == 200


def test_atom_feed(client: FlaskClient, rt: Runtime, built: dict[str, int]) -> None:
    response = client.get("/councils/manchester/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = etree.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "Manchester City Council: meetings and weekly digests"
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == f"{rt.config.site.base_url}/councils/manchester/feed.atom"
    entries = feed.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(ids) == len(set(ids)) == len(built) + 1  # every meeting and the digest
    digest = [e for e in entries if e.find(f"{ATOM}category").get("term") == "digest"]
    assert [e.findtext(f"{ATOM}id") for e in digest] == [
        f"{rt.config.site.base_url}/councils/manchester/digests/{WEEK}"
    ]
    assert digest[0].findtext(f"{ATOM}title", "").startswith("Manchester: 4 decisions")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert "Licensing Sub-Committee: Thursday 19 November 2026, 10am (cancelled)" in titles
    for entry in entries:
        updated = entry.findtext(f"{ATOM}updated", "")
        assert datetime.fromisoformat(updated.replace("Z", "+00:00")).tzinfo is not None
    assert client.get("/councils/atlantis/feed.atom").status_code == 404


def test_calendar(client: FlaskClient, rt: Runtime, busy: dict[str, int]) -> None:
    response = client.get("/councils/manchester/meetings.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(response.data)
    assert str(cal["VERSION"]) == "2.0" and str(cal["METHOD"]) == "PUBLISH"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    domain = "councildigest.example.org"
    # One event per upcoming meeting (from today on), past ones left out.
    assert set(events) == {
        f"meeting-{busy[name]}@{domain}" for name in ("council", "later", "moved_off")
    }
    council = events[f"meeting-{busy['council']}@{domain}"]
    assert str(council["SUMMARY"]) == "Council"
    assert council.decoded("DTSTART") == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert str(council["STATUS"]) == "CONFIRMED"
    assert str(council["LOCATION"]) == "Council Chamber, Level 2, Town Hall Extension"
    assert str(council["URL"]).endswith(f"/councils/manchester/meetings/{busy['council']}")
    cancelled = events[f"meeting-{busy['moved_off']}@{domain}"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["SUMMARY"]).startswith("CANCELLED: Economy and Regeneration")
    assert int(cancelled["SEQUENCE"]) == 1  # bumped so calendars apply the cancellation
    assert "This meeting has been cancelled." in str(cancelled["DESCRIPTION"])
    assert client.get("/councils/atlantis/meetings.ics").status_code == 404


def test_calendar_all_day_meeting(client: FlaskClient, rt: Runtime, clock: Clock) -> None:
    from tests.support.meetings import add_meeting

    with rt.sessions.begin() as session:
        council = enable(session, "leeds", clock.now)
        meeting = add_meeting(session, council, on=date(2026, 12, 1), at=None, committee="Board")
        meeting_id = meeting.id
    cal = icalendar.Calendar.from_ical(client.get("/councils/leeds/meetings.ics").data)
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]).startswith(f"meeting-{meeting_id}@")
    assert event.decoded("DTSTART") == date(2026, 12, 1)
    assert event.decoded("DTEND") == date(2026, 12, 2)


def test_digest_api(client: FlaskClient, built: dict[str, int]) -> None:
    listing = client.get("/api/v1/councils/manchester/digests").get_json()
    [summary] = listing["digests"]
    assert summary["week"] == WEEK and summary["starts_on"] == "2026-11-23"
    assert summary["counts"]["decisions"] == 4 and summary["quiet"] is False
    assert summary["url"].endswith(f"/councils/manchester/digests/{WEEK}")
    detail = client.get(summary["api_url"]).get_json()
    sections = {name: [m["id"] for m in items] for name, items in detail["sections"].items()}
    assert sections == {
        "reported": [built["audit"], built["executive"], built["scrutiny"]],
        "cancelled": [built["licensing"], built["moved_off"]],
        "minutes": [built["planning"]],
        "upcoming": [built["council"]],
    }
    assert client.get("/api/v1/councils/manchester/digests/2026-W02").status_code == 404
    assert client.get("/api/v1/councils/atlantis/digests").status_code == 404


def test_email_links_resolve(client: FlaskClient, rt: Runtime, built: dict[str, int]) -> None:
    for url in (
        rt.links.meeting("manchester", built["audit"]),
        rt.links.digests("manchester"),
        rt.links.digest("manchester", WEEK),
    ):
        assert url.startswith(rt.config.site.base_url)
        assert client.get(url.removeprefix(rt.config.site.base_url)).status_code == 200, url


def test_a_moved_meeting_is_shown_plainly(client: FlaskClient, rt: Runtime, clock: Clock) -> None:
    from digest.models import ChangeKind, MeetingStatus
    from tests.support.meetings import add_meeting

    with rt.sessions.begin() as session:
        council = enable(session, "leeds", clock.now)
        moved = add_meeting(
            session,
            council,
            on=date(2026, 11, 26),
            committee="Executive Board",
            status=MeetingStatus.RESCHEDULED,
            changes=[(ChangeKind.RESCHEDULED, datetime(2026, 11, 17, tzinfo=UTC))],
        ).id
    clock.set(BUILD_AT)
    page = text(client.get(f"/councils/leeds/meetings/{moved}"))
    assert "<strong>Moved.</strong> This meeting has been moved" in page
    with rt.sessions.begin() as session:
        from digest import councils

        leeds = councils.get_by_slug(session, "leeds")
        assert leeds is not None
        build_council_digest(
            session,
            leeds,
            IsoWeek.parse(WEEK),
            rt.now(),
            BuildSettings.from_config(rt.config),
            rt.links,
        )
    digest = client.get(f"/api/v1/councils/leeds/digests/{WEEK}").get_json()
    assert [m["id"] for m in digest["sections"]["upcoming"]] == [moved]
    week_page = text(client.get(f"/councils/leeds/digests/{WEEK}"))
    assert 'Board</a> <span class="dg-tag">Moved to this date</span>' in week_page
