"""A fake CMIS site built from the real Birmingham pages in tests/fixtures/cmis/.

It is a `FakeSite` for the loopback server in tests/support/moderngov.py, so one server
plays ModernGov and CMIS hosts side by side. Pages are the fixtures themselves with the
meetings swapped in, in the fixtures' own markup:

    /birmingham/                                  base page (module id 397)
    /birmingham/?ctl=MeetingCalendarListView&mid=397
                                                  list view (this month; real links)
    /birmingham/Meetings/tabid/70/ctl/MeetingCalendarPublicNoJava/mid/397/Date/<yyyy-mm-dd>/Default.aspx
                                                  one month of `meetings`
    /birmingham/Meetings/tabid/70/ctl/ViewMeetingPublic/mid/397/Meeting/<id>/Committee/<cid>/
        SelectedTab/Documents/Default.aspx        a meeting: details + documents

The fixtures' absolute links name https://birmingham.cmis.uk.com; they are rewritten to
the fake's own address so every link stays on loopback.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from werkzeug.wrappers import Request

from tests.support.moderngov import FakeSite, Reply

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cmis"
REAL_ROOT = "https://birmingham.cmis.uk.com"
PREFIX = "/birmingham/Meetings/tabid/70"
MONTH_PATH = re.compile(
    r"/birmingham/Meetings/tabid/70/ctl/MeetingCalendarPublicNoJava/mid/397/Date/"
    r"(\d{4})-(\d{2})-(\d{2})/Default\.aspx$",
    re.I,
)
MEETING_PATH = re.compile(r"/ctl/ViewMeetingPublic/mid/397/Meeting/(\d+)/Committee/(\d+)/", re.I)
HTML = "text/html; charset=utf-8"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@dataclass
class CmisMeeting:
    id: str
    committee_id: str
    committee: str
    date: date
    time: str = "10:00"
    status: str = "Scheduled"
    venue: str = "Committee Rooms 3 & 4"
    minutes: bool = False  # the real "with minutes" documents, else the "no minutes" ones


@dataclass
class CmisSite(FakeSite):
    """A CMIS host. Links point at `root`, by default the address the request came to."""

    root: str = ""
    cmis_meetings: list[CmisMeeting] = field(default_factory=list)
    month_delay: float = 0.0  # seconds each month page takes (CMIS is slow)
    month_override: Reply | None = None  # e.g. an HTML error page for every month
    requested_months: list[str] = field(default_factory=list)

    def reply(self, request: Request) -> Reply:
        if self.override is not None:
            answer = self.override(request)
            if answer is not None:
                return answer
        path = request.path
        root = self.root or request.host_url.rstrip("/")
        if path.rstrip("/").lower() == "/birmingham":
            if request.args.get("ctl") == "MeetingCalendarListView":
                return self._page(fixture("list_view_birmingham_trimmed.html"), root)
            return self._page(fixture("base_page_view_actions_birmingham_trimmed.html"), root)
        month = MONTH_PATH.search(path)
        if month:
            first = date(int(month.group(1)), int(month.group(2)), 1)
            self.requested_months.append(first.isoformat())
            if self.month_override is not None:
                return self.month_override
            reply = self._maybe_304(request, self._rewrite(self.month_page(first), root).encode())
            return Reply(reply.body, reply.status, HTML, reply.headers, delay=self.month_delay)
        meeting = MEETING_PATH.search(path)
        if meeting:
            for m in self.cmis_meetings:
                if m.id == meeting.group(1):
                    return self._page(self.meeting_page(m), root)
            return Reply(b"<html><body>Server Error in '/' Application.</body></html>", 500, HTML)
        return Reply(b"<html><body>404 - Not Found</body></html>", 404, HTML)

    def _page(self, text: str, root: str) -> Reply:
        return Reply(self._rewrite(text, root).encode(), content_type=HTML)

    def _rewrite(self, text: str, root: str) -> str:
        return re.sub(r"https?://birmingham\.cmis\.uk\.com(?![\w.-])", root, text)

    def month_page(self, first: date) -> str:
        """The real month calendar page with its rows replaced by this month's meetings,
        in the fixture's own markup."""
        page = fixture("calendar_month_birmingham_trimmed.html")
        start = page.index('<tr class="rgRow"')
        end = page.index("</table>")
        # Like the real calendar grid, a month page runs on into the first days of the
        # next month: those meetings are on two pages.
        following = (first + timedelta(days=32)).replace(day=1)
        days: dict[date, list[CmisMeeting]] = {}
        for m in self.cmis_meetings:
            if first <= m.date < following + timedelta(days=6):
                days.setdefault(m.date, []).append(m)
        rows = []
        for n, day in enumerate(sorted(days)):
            links = "".join(
                f'\n    <p class="Meeting">\n      <a href="{REAL_ROOT}{PREFIX}/ctl/'
                f"ViewMeetingPublic/mid/397/Meeting/{m.id}/Committee/{m.committee_id}/"
                f'SelectedTab/Documents/Default.aspx">{m.time} {html.escape(m.committee)}</a>'
                "\n    </p>"
                for m in days[day]
            )
            css = "rgRow" if n % 2 == 0 else "rgAltRow"
            rows.append(
                f'<tr class="{css}" id="dnn_ctr397_MeetingCalendarPublicPrinter_grdRadMeeting'
                f'_ctl00__{n}">\n  <td class="SimpleCalendarDate">{day:%A}, {day.day} '
                f"{day:%B}</td>\n  <td>{links}\n  </td>\n</tr>\n"
            )
        return page[:start] + "".join(rows) + page[end:]

    def meeting_page(self, m: CmisMeeting) -> str:
        """The real "Meeting Details" block with this meeting's values, followed by the
        real documents list (with or without minutes)."""
        summary = fixture("meeting_summary_birmingham_trimmed.html")
        summary = summary.replace(
            '<div class="Value Committee">Licensing Sub-Committee A</div>',
            f'<div class="Value Committee">{html.escape(m.committee)}</div>',
        )
        summary = summary.replace(
            '<div class="Value DateTime">3 Aug 2026 - 10:00</div>',
            f'<div class="Value DateTime">{m.date.day} {m.date:%b %Y} - {m.time}</div>',
        )
        summary = summary.replace(
            '<div class="Value Venue">Scheduled</div>',
            f'<div class="Value Venue">{html.escape(m.status)}</div>',
        )
        summary = summary.replace(">On-line meeting</a>", f">{html.escape(m.venue)}</a>")
        name = "with_minutes" if m.minutes else "no_minutes"
        documents = fixture(f"meeting_documents_{name}_birmingham_trimmed.html")
        # Each meeting gets its own document addresses, as a real install's are.
        documents = re.sub(r"Document\.ashx\?id=(\w+)", rf"Document.ashx?id=\1-{m.id}", documents)
        body = documents[documents.index("<body>") + 6 : documents.index("</body>")]
        return summary.replace("</body>", body + "</body>")


def birmingham_like(today: date) -> list[CmisMeeting]:
    """Meetings around `today` with Birmingham's real committees: one held with minutes,
    one held without yet, one upcoming, one cancelled, one further ahead."""
    return [
        CmisMeeting(
            "15028", "6", "Licensing Sub-Committee A", today - timedelta(days=6), minutes=True
        ),
        CmisMeeting("15029", "7", "Licensing Sub-Committee B", today - timedelta(days=5)),
        CmisMeeting(
            "15099",
            "4",
            "Planning Committee",
            today + timedelta(days=3),
            time="14:00",
            venue="Council House, Committee Room 2",
        ),
        CmisMeeting(
            "15115",
            "38",
            "Standards Committee",
            today + timedelta(days=9),
            time="14:00",
            status="Cancelled",
        ),
        CmisMeeting(
            "15042",
            "4",
            "Planning Committee",
            today + timedelta(days=40),
            time="11:00",
        ),
    ]
