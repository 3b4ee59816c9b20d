"""CMIS pages read straight from the real Birmingham fixtures (tests/fixtures/cmis/)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from digest.collector import cmis
from digest.collector.http_client import Fetched, FetchError, Validator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cmis"
PAGE = "https://birmingham.cmis.uk.com/birmingham/"


def fetched(name: str | bytes, url: str = PAGE) -> Fetched:
    body = name if isinstance(name, bytes) else (FIXTURES / name).read_bytes()
    return Fetched(url, url, 200, body, "text/html", Validator())


def test_module_id_and_calendar_address_come_from_the_base_page_and_list_view() -> None:
    assert cmis.module_id(fetched("base_page_view_actions_birmingham_trimmed.html")) == "397"
    template = cmis.calendar_template(fetched("list_view_birmingham_trimmed.html"))
    assert template == (
        "https://birmingham.cmis.uk.com/birmingham/Meetings/tabid/70/ctl/"
        "MeetingCalendarPublicNoJava/mid/397/Date/{date}/Default.aspx"
    )
    assert cmis.list_view_url(PAGE, "397") == f"{PAGE}?ctl=MeetingCalendarListView&mid=397"
    with pytest.raises(FetchError, match="no CMIS meetings calendar"):
        cmis.module_id(fetched(b"<html><body>Welcome</body></html>"))


def test_a_month_page_lists_its_meetings_with_date_time_and_ids() -> None:
    found = cmis.parse_month(fetched("calendar_month_birmingham_trimmed.html"), date(2026, 6, 1))
    assert [
        (m.source_id, m.committee_id, m.date, m.time_text, m.committee_title) for m in found
    ] == [
        ("15028", "6", date(2026, 6, 8), "10:00", "Licensing Sub-Committee A"),
        ("15029", "7", date(2026, 6, 9), "10:00", "Licensing Sub-Committee B"),
        ("15030", "7", date(2026, 6, 9), "12:00", "Licensing Sub-Committee B"),
        ("15099", "4", date(2026, 6, 30), "14:00", "Planning Committee"),
    ]
    assert found[0].page_url.endswith(
        "/Meeting/15028/Committee/6/SelectedTab/Documents/Default.aspx"
    )
    # The day headings carry no year: a December page running into January.
    december = cmis.parse_month(
        fetched(
            (FIXTURES / "calendar_month_birmingham_trimmed.html")
            .read_bytes()
            .replace(b"Tuesday, 30 June", b"Friday, 1 January")
        ),
        date(2026, 12, 1),
    )
    assert december[-1].date == date(2027, 1, 1)


def test_months_cover_the_window() -> None:
    assert list(cmis.months(date(2026, 11, 18), date(2027, 1, 31))) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]


def test_meeting_details_and_documents() -> None:
    page = (FIXTURES / "meeting_summary_birmingham_trimmed.html").read_text()
    docs = (FIXTURES / "meeting_documents_with_minutes_birmingham_trimmed.html").read_text()
    body = page.replace(
        "</body>", docs[docs.index("<body>") + 6 : docs.index("</body>")] + "</body>"
    )
    detail = cmis.parse_meeting(fetched(body.encode()), "15028")
    assert (detail.date, detail.time_text, detail.status_text, detail.venue) == (
        date(2026, 8, 3),
        "10:00",
        "Scheduled",
        "On-line meeting",
    )
    assert [d.title for d in detail.documents] == [
        "Minutes of the previous meeting",
        "Final Planning Minutes 16042026",
        "Final Agenda Reports - 9th July 2026",
    ]
    assert (
        detail.documents[1].url
        == "https://birmingham.cmis.uk.com/Birmingham/Document.ashx?id=abc123"
    )
    assert detail.minutes_published and detail.agenda_published
    without = cmis.parse_meeting(
        fetched("meeting_documents_no_minutes_birmingham_trimmed.html"), "15029"
    )
    assert [d.title for d in without.documents] == ["Agenda Contents"]
    assert not without.minutes_published and without.agenda_published
    assert cmis.is_minutes("Final Planning Minutes 16042026")
    assert not cmis.is_minutes("Minutes of the previous meeting")


def test_an_error_page_is_not_an_empty_month() -> None:
    error = (Path(__file__).resolve().parent.parent / "fixtures" / "moderngov").joinpath(
        "error_leeds_sharepoint_error_page_2016.html"
    )
    with pytest.raises(FetchError, match="not a CMIS page"):
        cmis.parse_month(fetched(error.read_bytes()), date(2026, 6, 1))
