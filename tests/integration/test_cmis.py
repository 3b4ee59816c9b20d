"""CMIS councils collected from a fake CMIS site built from the real Birmingham pages
(tests/support/cmis.py): the month calendar pages for the window, meeting pages with and
without minutes, a cancelled meeting, a moved meeting, a slow host and an error page,
through the `digest` commands people use and the same guarantees as ModernGov."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from flask.testing import FlaskClient

from digest.cli import main
from digest.clock import utcnow
from digest.collector import cmis
from digest.models import MeetingStatus
from digest.runtime import Runtime
from digest.weekly.weeks import IsoWeek
from tests.integration.collecting import (
    changes_of,
    collect,
    council,
    meetings_of,
    point_at_fake,
    snapshot,
    write_config,
)
from tests.integration.helpers import active_subscription
from tests.support.clock import Clock
from tests.support.cmis import CmisMeeting, CmisSite, birmingham_like
from tests.support.moderngov import (
    FakeModernGov,
    FakeSite,
    Reply,
    fixture,
    manchester_like,
)
from tests.support.web import text

LONDON = ZoneInfo("Europe/London")
HOST = "birmingham.cmis.test"


def cmis_site(fake: FakeModernGov, today: date, host: str = HOST, **options: object) -> CmisSite:
    site = CmisSite(root=fake.url(host), cmis_meetings=birmingham_like(today), **options)  # type: ignore[arg-type]
    fake.add_site(host, site)
    return site


def months_of_window(rt: Runtime, today: date) -> list[str]:
    cfg = rt.config.collector
    start, end = today - timedelta(days=cfg.days_back), today + timedelta(days=cfg.days_ahead)
    return [m.isoformat() for m in cmis.months(start, end)]


def test_enable_collect_and_build_birmingham_from_its_cmis_pages(
    tmp_path: Path, rt: Runtime, clock: Clock, client: FlaskClient, fake_moderngov: FakeModernGov
) -> None:
    """The issue's "done when": enabling Birmingham against the fake yields meeting pages
    and a weekly digest."""
    clock.set(utcnow())  # the commands run on the real clock
    today = clock.now.astimezone(LONDON).date()
    site = cmis_site(fake_moderngov, today, host="127.0.0.1")
    config = write_config(tmp_path, rt)
    runner = CliRunner()
    active_subscription(rt, "reader@example.net", "birmingham")

    enabled = runner.invoke(
        main,
        [
            "--config",
            str(config),
            "councils",
            "enable",
            "birmingham",
            "--base-url",
            fake_moderngov.url("127.0.0.1") + "/birmingham/",
        ],
    )
    assert enabled.exit_code == 0, enabled.output
    assert "1 of 1 councils collected; 5 new and 0 changed meetings" in enabled.output
    # One request per month page of the window, each month once.
    assert site.requested_months == months_of_window(rt, today)

    collected = runner.invoke(main, ["--config", str(config), "collect", "birmingham"])
    assert collected.exit_code == 0, collected.output
    assert "1 of 1 councils collected; 0 new and 0 changed meetings" in collected.output

    meetings = meetings_of(rt, "birmingham")
    assert set(meetings) == {"15028", "15029", "15099", "15115", "15042"}
    held = meetings["15028"]
    assert held.committee == "Licensing Sub-Committee A" and held.status == MeetingStatus.HELD
    assert held.minutes_published and held.committee_source_id == "6"
    assert held.source_url.endswith("/Meeting/15028/Committee/6/SelectedTab/Documents/Default.aspx")
    assert meetings["15029"].minutes_published is False
    assert meetings["15115"].status == MeetingStatus.CANCELLED
    planning = meetings["15099"]
    assert planning.venue == "Council House, Committee Room 2"
    assert planning.start_at.astimezone(LONDON).strftime("%H:%M") == "14:00"

    api = client.get("/api/v1/councils/birmingham/meetings").get_json()
    recent = {m["committee"]: m for m in api["recent"]}
    docs = recent["Licensing Sub-Committee A"]["documents"]
    assert [d["title"] for d in docs] == [
        "Minutes of the previous meeting",  # on the agenda: not this meeting's minutes
        "Final Planning Minutes 16042026",
        "Final Agenda Reports - 9th July 2026",
    ]
    assert docs[1]["url"].endswith("/Birmingham/Document.ashx?id=abc123-15028")

    page = text(client.get("/councils/birmingham"))
    assert "Planning Committee" in page and "Cancelled" in page
    assert "can't collect" not in page
    meeting_page = text(client.get(f"/councils/birmingham/meetings/{held.id}"))
    assert "Licensing Sub-Committee A" in meeting_page
    assert "Final Planning Minutes 16042026" in meeting_page

    week = IsoWeek.of(clock.now, LONDON)
    built = runner.invoke(main, ["--config", str(config), "build", "--week", week.label])
    assert built.exit_code == 0, built.output
    assert "1 digests built" in built.output and "1 emails queued" in built.output
    archive = text(client.get(f"/councils/birmingham/digests/{week.label}"))
    assert "Licensing Sub-Committee A" in archive and "Planning Committee" in archive


def test_unchanged_month_pages_cost_one_conditional_request_each(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    today = clock.now.astimezone(LONDON).date()
    site = cmis_site(fake_moderngov, today)
    site.etag = True
    point_at_fake(rt, "birmingham", fake_moderngov, HOST)
    base = council(rt, "birmingham").base_url
    assert base.startswith("http://birmingham.cmis.test")
    with rt.sessions.begin() as session:
        from digest import councils

        found = councils.get_by_slug(session, "birmingham")
        assert found is not None
        found.base_url = base + "/birmingham"

    first = collect(rt, "birmingham")
    assert first.outcomes[0].ok, first.outcomes[0].error
    fake_moderngov.clear_log()
    second = collect(rt, "birmingham")
    assert second.outcomes[0].ok and second.outcomes[0].new == 0
    log = fake_moderngov.requests_to(HOST)
    months = [r for r in log if "MeetingCalendarPublicNoJava" in r.path]
    assert len(months) == len(months_of_window(rt, today))
    assert all(r.status == 304 and r.headers.get("If-None-Match") for r in months)
    # Base page + list view + the months; no meeting page (nothing is due a recheck).
    assert len(log) == 2 + len(months)


def test_a_cancelled_and_a_moved_meeting_are_changes(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    today = clock.now.astimezone(LONDON).date()
    site = cmis_site(fake_moderngov, today)
    _point(rt, fake_moderngov)
    assert collect(rt, "birmingham").outcomes[0].ok
    moved = next(m for m in site.cmis_meetings if m.id == "15099")
    moved.date = today + timedelta(days=5)
    cancelled = next(m for m in site.cmis_meetings if m.id == "15042")
    cancelled.status = "Cancelled"
    clock.advance(hours=13)  # upcoming meetings are looked at again

    report = collect(rt, "birmingham")
    assert report.outcomes[0].ok, report.outcomes[0].error
    kinds = [(sid, kind) for sid, kind, _ in changes_of(rt, "birmingham")]
    assert ("15099", "rescheduled") in kinds and ("15042", "cancelled") in kinds
    meetings = meetings_of(rt, "birmingham")
    assert meetings["15099"].start_date == today + timedelta(days=5)
    assert meetings["15042"].status == MeetingStatus.CANCELLED


def test_minutes_appearing_later_are_picked_up(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    today = clock.now.astimezone(LONDON).date()
    site = cmis_site(fake_moderngov, today)
    _point(rt, fake_moderngov)
    assert collect(rt, "birmingham").outcomes[0].ok
    assert meetings_of(rt, "birmingham")["15029"].minutes_published is False
    next(m for m in site.cmis_meetings if m.id == "15029").minutes = True
    clock.advance(hours=13)
    assert collect(rt, "birmingham").outcomes[0].ok
    assert meetings_of(rt, "birmingham")["15029"].minutes_published is True
    assert ("15029", "minutes_published") in [
        (sid, kind) for sid, kind, _ in changes_of(rt, "birmingham")
    ]


def test_an_error_page_or_a_slow_host_is_a_recorded_error_and_nothing_changes(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    """Never partial: a month page that is an HTML error page, or a host slower than the
    CMIS timeout, leaves what we hold untouched and records why; a ModernGov council on
    another host is collected all the same."""
    today = clock.now.astimezone(LONDON).date()
    site = cmis_site(fake_moderngov, today)
    _point(rt, fake_moderngov)
    fake_moderngov.add_site("democracy.wigan.test", FakeSite(meetings=manchester_like(today)))
    point_at_fake(rt, "wigan", fake_moderngov, "democracy.wigan.test")
    assert collect(rt, "birmingham").outcomes[0].ok
    before = snapshot(rt, "birmingham")
    site.cmis_meetings.append(CmisMeeting("15200", "4", "Planning Committee", today))
    next(m for m in site.cmis_meetings if m.id == "15028").status = "Cancelled"

    site.month_override = Reply(
        fixture("error_leeds_sharepoint_error_page_2016.html"), content_type="text/html"
    )
    report = collect(rt, "birmingham", "wigan")
    outcomes = {o.slug: o for o in report.outcomes}
    assert outcomes["wigan"].ok and outcomes["wigan"].new == 3
    assert not outcomes["birmingham"].ok
    error = outcomes["birmingham"].error or ""
    assert error.startswith("calendar for ") and "not a CMIS page" in error
    assert snapshot(rt, "birmingham") == before
    assert council(rt, "birmingham").last_error == error

    site.month_override = None
    site.month_delay = 1.5
    slow = collect(rt, "birmingham", settings={"cmis_timeout": 0.5, "timeout": 30.0})
    assert not slow.outcomes[0].ok
    assert "did not answer within 0.5 seconds" in (slow.outcomes[0].error or "")
    assert snapshot(rt, "birmingham") == before
    assert council(rt, "birmingham").consecutive_failures == 2

    site.month_delay = 0.0
    recovered = collect(rt, "birmingham")
    assert recovered.outcomes[0].ok and recovered.outcomes[0].new == 1
    assert council(rt, "birmingham").last_error is None


def test_a_meeting_page_that_fails_is_left_out_and_recorded(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    """As for ModernGov: one unreadable meeting is left out (never stored half-read) and
    recorded; the council's other meetings are collected."""
    today = clock.now.astimezone(LONDON).date()
    site = cmis_site(fake_moderngov, today)
    site.cmis_meetings.append(CmisMeeting("15300", "99", "Gone Committee", today))
    _point(rt, fake_moderngov)
    # Meeting 15300 is listed but its page is a server error.
    site.override = lambda request: (
        Reply(b"<html><body>Runtime Error</body></html>", 500, "text/html")
        if "/Meeting/15300/" in request.path
        else None
    )
    report = collect(rt, "birmingham")
    assert report.outcomes[0].ok, report.outcomes[0].error
    meetings = meetings_of(rt, "birmingham")
    assert "15300" not in meetings and "15028" in meetings
    with rt.read_sessions() as session:
        from digest.collector import health

        failures = health.meeting_failures(session, council(rt, "birmingham").id)
    assert [f.source_id for f in failures] == ["15300"]
    assert "HTTP 500" in failures[0].error


def _point(rt: Runtime, fake: FakeModernGov) -> None:
    point_at_fake(rt, "birmingham", fake, HOST)
    with rt.sessions.begin() as session:
        from digest import councils

        found = councils.get_by_slug(session, "birmingham")
        assert found is not None
        found.base_url = fake.url(HOST) + "/birmingham"
