"""CMIS (Civica's DotNetNuke committee system): meetings from the public HTML pages.

There is no public XML service, so the pages are read as DemocracyClub's CMIS scraper
reads them (research/moderngov.md §4):

    <base>/                                   the calendar module's id
                                              (dnn$ctr<mid>$MeetingCalendarPublic…$)
    <base>/?ctl=MeetingCalendarListView&mid=<mid>
                                              this month's list: a real meeting link gives
                                              the DNN path prefix (…/tabid/<n>) and mid
    <prefix>/ctl/MeetingCalendarPublicNoJava/<mid>/Date/<yyyy-mm-01>/Default.aspx
                                              one month of meetings, any month
    …/ViewMeetingPublic/mid/<mid>/Meeting/<id>/Committee/<cid>/SelectedTab/Documents/Default.aspx
                                              a meeting: "Meeting Details" label/value pairs
                                              (Committee, Date/Time, Status, Venue) and its
                                              documents (Document.ashx links)

One request per month page covers the window; a month page that is unchanged (304, or
the same bytes as last time) costs that one request and its meetings stand as we hold
them. CMIS hosts are slow (about 40 s for a month at Birmingham), hence `cmis_timeout`.
Meeting ids are unique per install; a meeting on several month pages is read once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from digest.collector.http_client import Fetched, Fetcher, FetchError
from digest.collector.parsed import (
    ListedCommittee,
    ListedMeeting,
    MeetingDetail,
    MeetingList,
    ParsedDocument,
)
from digest.collector.safexml import BadResponse
from digest.collector.sources import CouncilPlan, DetailAnswer, Listing, ValidatorSeen
from digest.htmltext import clean_inline, html_parser
from digest.models import CouncilSystem

# Most installs name the module MeetingCalendarPublic; some add a suffix
# (Nottinghamshire: MeetingCalendarPublicList), so match the stem.
MODULE_ID = re.compile(r"dnn\$ctr(\d+)\$MeetingCalendarPublic\w*\$")
MEETING_LINK = re.compile(r"/Meeting/(?P<meeting>\d+)/Committee/(?P<committee>\d+)/", re.I)
CALENDAR_LINK = re.compile(r"(?P<prefix>\S*/tabid/\d+)/ctl/\w+/(?P<mid>mid/\d+)/", re.I)
DAY_HEADING = re.compile(
    r"^\w+day,\s+(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]+)(?:\s+(?P<year>\d{4}))?$"
)
ENTRY = re.compile(r"^(?:(?P<time>\d{1,2}[:.]\d{2})\s+)?(?P<title>.+)$")
CANCELLED_MARK = re.compile(r"\s*[-–(]*\s*\bcancell?ed\b\s*[)–-]*\s*", re.I)
DATE_TIME = re.compile(
    r"(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]{3,9})\s+(?P<year>\d{4})"
    r"(?:\s*[-–,]?\s*(?P<time>\d{1,2}[:.]\d{2}))?"
)
_NOT_THIS_MEETINGS_MINUTES = re.compile(r"previous|last meeting|matters arising", re.I)


def base_page_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/"


def list_view_url(base_url: str, module_id: str) -> str:
    return f"{base_page_url(base_url)}?ctl=MeetingCalendarListView&mid={module_id}"


def months(start: date, end: date) -> Iterator[date]:
    """The first day of every month from start's to end's."""
    month = start.replace(day=1)
    while month <= end:
        yield month
        month = (
            month.replace(year=month.year + 1, month=1)
            if month.month == 12
            else (month.replace(month=month.month + 1))
        )


# Something every CMIS module page carries; an error or login page with HTTP 200 does not.
_CMIS_MARKS = (b"ModCMISMeetings", b"MeetingCalendarPublic", b"ViewMeetingPublic")


def _html(fetched: Fetched, what: str) -> lxml.html.HtmlElement:
    """The page as an lxml tree. An answer without the CMIS module is refused: a month
    page that is really an error page must not read as "no meetings this month"."""
    body = fetched.body
    if not any(mark in body for mark in _CMIS_MARKS):
        raise BadResponse(
            f"{what}{': ' if what else ''}the answer is not a CMIS page "
            "(an error page, a login or a firewall?)"
        )
    try:
        return lxml.html.document_fromstring(body, parser=html_parser())
    except (etree.ParserError, ValueError) as exc:
        raise BadResponse(
            f"{what}{': ' if what else ''}the page could not be read ({exc})"
        ) from exc


def _text(element: lxml.html.HtmlElement) -> str:
    return clean_inline(element.text_content())


def module_id(fetched: Fetched) -> str:
    found = MODULE_ID.search(fetched.body.decode("utf-8", "replace"))
    if found is None:
        raise BadResponse(
            "no CMIS meetings calendar on this page (is the base URL the council's CMIS home page?)"
        )
    return found.group(1)


def calendar_template(fetched: Fetched) -> str | None:
    """A month-calendar address with '{date}' for the month, lifted from a real meeting
    link on the list view (the path form needs the site's tabid, published nowhere else).
    None when the list shows no meeting."""
    page = _html(fetched, "CMIS meeting list")
    for href in page.xpath("//a/@href"):
        found = CALENDAR_LINK.search(urljoin(fetched.final_url, str(href)))
        if found:
            return (
                f"{found.group('prefix')}/ctl/MeetingCalendarPublicNoJava/"
                f"{found.group('mid')}/Date/{{date}}/Default.aspx"
            )
    return None


def month_url(template: str, month: date) -> str:
    return template.format(date=month.isoformat())


def parse_month(fetched: Fetched, month: date) -> list[ListedMeeting]:
    """One month page: day headings ("Monday, 8 June"; the year is the month's) each
    followed by a cell of links "10:00 Licensing Sub-Committee A"."""
    page = _html(fetched, "")
    found: list[ListedMeeting] = []
    for cell in page.iter("td", "th"):
        heading = DAY_HEADING.match(_text(cell))
        if heading is None:
            continue
        when = _date(heading.group("day"), heading.group("month"), heading.group("year") or "")
        if when is None:
            continue
        if heading.group("year") is None:
            when = _in_year_of(when, month)
        entries = cell.getnext()
        while entries is not None and entries.tag not in ("td", "th"):
            entries = entries.getnext()
        if entries is None:
            continue
        for link in entries.iter("a"):
            href = urljoin(fetched.final_url, link.get("href") or "")
            ids = MEETING_LINK.search(href)
            entry = ENTRY.match(_text(link))
            if ids is None or entry is None or urlsplit(href).scheme not in ("http", "https"):
                continue
            title = entry.group("title")
            cancelled = CANCELLED_MARK.search(title) is not None
            title = CANCELLED_MARK.sub(" ", title).strip(" -") or title
            found.append(
                ListedMeeting(
                    source_id=ids.group("meeting"),
                    committee_id=ids.group("committee"),
                    committee_title=title,
                    date=when,
                    time_text=(entry.group("time") or "").replace(".", ":"),
                    status_text="Cancelled" if cancelled else "",
                    is_webcast=False,
                    page_url=href,
                )
            )
    return found


def _date(day: str, month: str, year: str) -> date | None:
    # Without a year, a leap year so that "29 February" parses; _in_year_of corrects it.
    for pattern in ("%d %B %Y", "%d %b %Y"):
        try:
            # A calendar date, not an instant: no time zone applies.
            parsed = datetime.strptime(f"{day} {month} {year or 2000}", pattern)  # noqa: DTZ007
        except ValueError:
            continue
        return parsed.date()
    return None


def _in_year_of(when: date, page_month: date) -> date:
    """A day heading carries no year: it is the page's, except across the turn of the
    year (a December page running on into January, or starting in December)."""
    year = page_month.year
    if page_month.month == 12 and when.month == 1:
        year += 1
    elif page_month.month == 1 and when.month == 12:
        year -= 1
    try:
        return when.replace(year=year)
    except ValueError:  # 29 February in a year without one: not a real date
        return when.replace(year=year, day=28)


def details(page: lxml.html.HtmlElement) -> dict[str, str]:
    """The "Meeting Details" block as label → value. The CSS classes cannot be trusted
    (Status shares the `Value Venue` class), so the label's text names each field; a
    holder's own label and value are its direct children (holders nest)."""
    found: dict[str, str] = {}
    for holder in page.xpath(
        '//div[contains(concat(" ", normalize-space(@class), " "), " holder ")]'
    ):
        labels = holder.xpath(
            './div[contains(concat(" ", normalize-space(@class), " "), " DNNLabel ")]'
        )
        values = holder.xpath(
            './div[contains(concat(" ", normalize-space(@class), " "), " Value ")]'
        )
        if not labels or not values:
            continue
        label = _text(labels[0]).rstrip(":").strip()
        value = _text(values[0])
        if label and value and label not in found:
            found[label] = value
    return found


def is_minutes(title: str) -> bool:
    """This meeting's minutes, not the previous meeting's put on its agenda."""
    return "minute" in title.lower() and not _NOT_THIS_MEETINGS_MINUTES.search(title)


def parse_meeting(fetched: Fetched, source_id: str) -> MeetingDetail:
    page = _html(fetched, f"CMIS meeting {source_id}")
    fields = details(page)
    when: date | None = None
    time_text = ""
    stamp = DATE_TIME.search(fields.get("Date/Time", "") or fields.get("Date", ""))
    if stamp:
        when = _date(stamp.group("day"), stamp.group("month"), stamp.group("year"))
        time_text = (stamp.group("time") or "").replace(".", ":")
    documents: dict[str, ParsedDocument] = {}
    for link in page.xpath(
        '//li[contains(concat(" ", normalize-space(@class), " "), " DocumentListItem ")]'
        '//a[contains(concat(" ", normalize-space(@class), " "), " TitleLink ")]'
    ):
        url = urljoin(fetched.final_url, (link.get("href") or "").strip())
        if urlsplit(url).scheme not in ("http", "https") or url in documents:
            continue
        title = _text(link) or "Document"
        documents[url] = ParsedDocument(
            source_id="",  # Document.ashx ids are opaque; the URL is the key
            title=title,
            url=url,
            published_on=None,
            is_restricted=False,
            item_source_id=None,
        )
    status = fields.get("Status", "")
    return MeetingDetail(
        source_id=source_id,
        date=when,
        time_text=time_text,
        status_text=status,
        venue=fields.get("Venue", ""),
        end_time_text="",
        is_webcast=False,
        agenda_published=any(not is_minutes(d.title) for d in documents.values()),
        minutes_published=any(is_minutes(d.title) for d in documents.values()),
        items=(),
        documents=tuple(documents.values()),
        attendees=(),
    )


class CmisSource:
    """Month calendar pages for the window; one meeting page per meeting."""

    system = CouncilSystem.CMIS
    # A status (cancelled) shows only on the meeting's page, so upcoming meetings are
    # looked at again every `recheck_hours` even once their agenda is out.
    rechecks_upcoming = True

    def list_meetings(self, plan: CouncilPlan, fetcher: Fetcher) -> Listing:
        timeout = fetcher.config.cmis_timeout
        start, end = plan.window
        base = fetcher.get(base_page_url(plan.base_url), timeout=timeout)
        mid = module_id(base)
        listed = fetcher.get(list_view_url(plan.base_url, mid), timeout=timeout)
        requests = 2
        template = calendar_template(listed)
        if template is None:
            raise FetchError(
                "the CMIS meeting list shows no meeting to learn the calendar's address from"
            )
        meetings: dict[str, ListedMeeting] = {}
        committees: dict[str, ListedCommittee] = {}
        unchanged: list[tuple[date, date]] = []
        urls: list[str] = []
        seen: list[ValidatorSeen] = []
        changed = False
        for month in months(start, end):
            url = month_url(template, month)
            urls.append(url)
            try:
                answer = fetcher.get(url, validator=plan.validators.get(url), timeout=timeout)
            except FetchError as exc:
                raise FetchError(f"calendar for {month:%B %Y}: {exc}") from exc
            requests += 1
            span = (max(month, start), min(_month_end(month), end))
            if answer.not_modified:
                unchanged.append(span)
                continue
            fingerprint = hashlib.sha256(answer.body + plan.rule.describe().encode()).hexdigest()
            seen.append(ValidatorSeen(url, answer.validator, fingerprint))
            if plan.digests.get(url) == fingerprint:
                unchanged.append(span)
                continue
            changed = True
            try:
                on_page = parse_month(answer, month)
            except FetchError as exc:
                raise FetchError(f"calendar for {month:%B %Y}: {exc}") from exc
            for meeting in on_page:
                # The same meeting on two month pages (or twice on one) is read once.
                meetings.setdefault(meeting.source_id, meeting)
                if meeting.committee_id:
                    committees.setdefault(
                        meeting.committee_id,
                        ListedCommittee(meeting.committee_id, meeting.committee_title),
                    )
        listing = (
            MeetingList(tuple(meetings.values()), tuple(committees.values())) if changed else None
        )
        return Listing(listing, tuple(unchanged), tuple(urls), tuple(seen), requests)

    def fetch_meeting(
        self, plan: CouncilPlan, fetcher: Fetcher, source_id: str, page_url: str
    ) -> DetailAnswer:
        if not page_url:
            raise FetchError("no page address is known for it")
        answer = fetcher.get(
            page_url, validator=plan.validators.get(page_url), timeout=fetcher.config.cmis_timeout
        )
        if answer.not_modified:
            return DetailAnswer(None, None)
        detail = parse_meeting(answer, source_id)
        return DetailAnswer(detail, ValidatorSeen(page_url, answer.validator, answer.sha256))

    def meeting_page(
        self,
        base_url: str,
        listed: ListedMeeting | None,
        committee_id: str,
        source_id: str,
        current: str,
    ) -> str:
        return (listed.page_url if listed is not None else "") or current

    def is_listing_url(self, url: str) -> bool:
        return "/MeetingCalendarPublicNoJava/" in url


def _month_end(month: date) -> date:
    following = (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else (month.replace(month=month.month + 1))
    )
    return date.fromordinal(following.toordinal() - 1)
