"""The ModernGov web service: URLs, and what its answers mean.

    <base>/mgWebService.asmx/GetMeetings?lCommitteeId=0&sFromDate=dd/mm/yyyy&sToDate=dd/mm/yyyy
    <base>/mgWebService.asmx/GetMeeting?lMeetingId=N

Both GetMeetings shapes are read: meetings grouped in <committee> blocks (the common one)
and a flat <meetings> list carrying committeeid/committeetitle per meeting. An answer with
only the counts and no blocks is an empty list. See research/moderngov.md §1.3-1.4, §7.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, date, datetime
from urllib.parse import quote, urljoin, urlsplit
from xml.etree.ElementTree import Element

from digest.clock import local_today
from digest.collector.http_client import Fetched, Fetcher, FetchError
from digest.collector.parsed import (
    ListedCommittee,
    ListedMeeting,
    MeetingDetail,
    MeetingList,
    ParsedAttendee,
    ParsedDocument,
    ParsedItem,
    is_cancelled,
    status_label,
    status_part,
)
from digest.collector.safexml import (
    BadResponse,
    day,
    ddmmyyyy,
    flag,
    parse_document,
    raw_markup,
    text,
    verbatim,
)
from digest.collector.sources import CouncilPlan, DetailAnswer, Listing, ValidatorSeen
from digest.documents import kinds
from digest.htmltext import clean_inline, html_to_text
from digest.models import CouncilSystem

__all__ = [
    "ListedCommittee",
    "ListedMeeting",
    "MeetingDetail",
    "MeetingList",
    "ModernGovSource",
    "ParsedAttendee",
    "ParsedDocument",
    "ParsedItem",
    "is_cancelled",
    "meeting_url",
    "meetings_url",
    "parse_meeting",
    "parse_meetings",
    "public_meeting_url",
    "status_label",
    "status_part",
]

MEETINGS_ROOTS = frozenset({"getmeetings", "getmeetingsbydate"})
MEETING_ROOTS = frozenset({"meeting"})


def service_url(base_url: str, operation: str) -> str:
    # A trailing slash would give //mgWebService.asmx, which some WAFs reject.
    return f"{base_url.rstrip('/')}/mgWebService.asmx/{operation}"


def meetings_url(base_url: str, start: date, end: date) -> str:
    return (
        service_url(base_url, "GetMeetings")
        + f"?lCommitteeId=0&sFromDate={quote(ddmmyyyy(start), safe='')}"
        + f"&sToDate={quote(ddmmyyyy(end), safe='')}"
    )


def meeting_url(base_url: str, meeting_id: str) -> str:
    return service_url(base_url, "GetMeeting") + f"?lMeetingId={quote(meeting_id, safe='')}"


def public_meeting_url(base_url: str, committee_id: str, meeting_id: str) -> str:
    """The council's own page for a meeting."""
    return (
        f"{base_url.rstrip('/')}/ieListDocuments.aspx?"
        f"CId={quote(committee_id, safe='')}&MId={quote(meeting_id, safe='')}"
    )


def parse_meetings(fetched: Fetched) -> MeetingList:
    root = parse_document(fetched, MEETINGS_ROOTS, "GetMeetings")
    meetings: dict[str, ListedMeeting] = {}
    committees: dict[str, ListedCommittee] = {}
    for block in root.findall("committee"):
        committee = ListedCommittee(text(block, "committeeid"), text(block, "committeetitle"))
        listed = [_add_listed(meetings, element, committee) for element in block.iter("meeting")]
        # A committee whose only meetings are twins of meetings listed before (a
        # duplicate id) is not added on their account.
        if committee.source_id and (not listed or any(listed)):
            committees.setdefault(committee.source_id, committee)
    for element in [*root.findall("meetings/meeting"), *root.findall("meeting")]:
        committee = ListedCommittee(text(element, "committeeid"), text(element, "committeetitle"))
        if committee.source_id in committees and not committee.title:
            committee = committees[committee.source_id]
        if _add_listed(meetings, element, committee) and committee.source_id and committee.title:
            committees.setdefault(committee.source_id, committee)
    return MeetingList(tuple(meetings.values()), tuple(committees.values()))


def _add_listed(
    found: dict[str, ListedMeeting], element: Element, committee: ListedCommittee
) -> bool:
    """Add one listed meeting; False if it was skipped (no id or date, or a twin of a
    meeting already listed: the first listing wins)."""
    source_id = text(element, "meetingid")
    when = day(text(element, "meetingdate"))
    if not source_id or when is None or source_id in found:
        return False  # without an id or a date there is nothing we can key or place
    found.setdefault(
        source_id,
        ListedMeeting(
            source_id=source_id,
            committee_id=committee.source_id,
            committee_title=committee.title,
            date=when,
            time_text=text(element, "meetingtime"),
            status_text=text(element, "meetingstatus"),
            is_webcast=flag(element, "iswebcast"),
        ),
    )
    return True


def parse_meeting(fetched: Fetched, base_url: str) -> MeetingDetail:
    root = parse_document(fetched, MEETING_ROOTS, "GetMeeting")
    source_id = text(root, "meetingid")
    if not source_id:
        raise BadResponse("GetMeeting: the answer has no <meetingid>")
    items: list[ParsedItem] = []
    documents: dict[str, ParsedDocument] = {}
    seen_items: set[str] = set()
    for position, element in enumerate(root.findall("agendaitems/agendaitem")):
        item_id = text(element, "agendaitemid") or f"position-{position}"
        if item_id in seen_items:
            continue
        seen_items.add(item_id)
        restricted = (
            flag(element, "isrestricted") or text(element, "isdisplayallowed").lower() == "false"
        )
        items.append(
            ParsedItem(
                source_id=item_id,
                number=text(element, "fulldisplaynumberformat")
                or text(element, "agendaitemnumber"),
                title=text(element, "agendaitemtitle") or "(untitled item)",
                # Exempt items: the title is public, the papers are not.
                agenda_text="" if restricted else html_to_text(raw_markup(element, "agendatext")),
                minutes_text=""
                if restricted
                else html_to_text(raw_markup(element, "minutesnonemptyhtmlbody")),
                is_restricted=restricted,
                is_decision=flag(element, "isdecision"),
            )
        )
        for doc in element.findall("linkeddocuments/linkeddoc"):
            parsed = _document(doc, base_url, item_id)
            if parsed is not None:
                # The same file is often linked from several items: keep the first.
                documents.setdefault(parsed.url, parsed)
    attendees: dict[str, ParsedAttendee] = {}
    for element in root.findall("attendees/attendee"):
        name = clean_inline(element.get("name")) or text(element, "name")
        if name:
            attendees.setdefault(
                name,
                ParsedAttendee(
                    member_source_id=clean_inline(element.get("memberid")),
                    name=name,
                    role=clean_inline(element.get("roledescription")),
                    party=clean_inline(element.get("politicalparty")),
                    attendance=clean_inline(element.get("attendance")),
                ),
            )
    room = text(root, "meetingroom/roomtitle")
    venue = text(root, "meetinglocation")
    if room and room not in venue:
        venue = f"{room}, {venue}" if venue else room
    return MeetingDetail(
        source_id=source_id,
        date=day(text(root, "meetingdate")),
        time_text=text(root, "meetingtime"),
        status_text=text(root, "meetingstatus"),
        venue=venue,
        end_time_text=text(root, "meetingplannedfinishtime"),
        is_webcast=flag(root, "iswebcast"),
        agenda_published=flag(root, "agendapublished") or any(not i.is_restricted for i in items),
        minutes_published=flag(root, "minutepublished"),
        items=tuple(items),
        documents=tuple(documents.values()),
        attendees=tuple(attendees.values()),
    )


def _document(element: Element, base_url: str, item_id: str) -> ParsedDocument | None:
    raw = verbatim(element, "url")
    if not raw:
        return None
    url = urljoin(base_url.rstrip("/") + "/", raw)
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return ParsedDocument(
        source_id=text(element, "attachmentid"),
        title=text(element, "title") or "Document",
        url=url,
        published_on=day(text(element, "publicationdate")),
        is_restricted=flag(element, "isrestricted"),
        item_source_id=item_id,
    )


class ModernGovSource:
    """The web service: one GetMeetings for the window, one GetMeeting per meeting."""

    system = CouncilSystem.MODERNGOV
    rechecks_upcoming = False  # GetMeetings carries the status: a change shows in the list

    def list_meetings(self, plan: CouncilPlan, fetcher: Fetcher) -> Listing:
        start, end = plan.window
        url = meetings_url(plan.base_url, start, end)
        answer = fetcher.get(url, validator=plan.validators.get(url))
        # The fingerprint includes the committee rule: a new filter must re-read the list.
        fingerprint = hashlib.sha256(answer.body + plan.rule.describe().encode()).hexdigest()
        if answer.not_modified:
            return Listing(None, (plan.window,), (url,), (), 1)
        seen = (ValidatorSeen(url, answer.validator, fingerprint),)
        if plan.digests.get(url) == fingerprint:
            return Listing(None, (plan.window,), (url,), seen, 1)
        return Listing(parse_meetings(answer), (), (url,), seen, 1)

    def fetch_meeting(
        self, plan: CouncilPlan, fetcher: Fetcher, source_id: str, page_url: str
    ) -> DetailAnswer:
        url = meeting_url(plan.base_url, source_id)
        answer = fetcher.get(url, validator=plan.validators.get(url))
        if answer.not_modified:
            return DetailAnswer(None, None)
        detail = parse_meeting(answer, plan.base_url)
        if detail.source_id != source_id:
            raise FetchError(
                f"GetMeeting for meeting {source_id} described meeting {detail.source_id}"
            )
        seen = ValidatorSeen(url, answer.validator, answer.sha256)
        if plan.pdf_text and page_url and _minutes_only_elsewhere(detail, plan):
            known = plan.known.get(source_id)
            # The page is asked for only when it can add the minutes: not when GetMeeting
            # links them itself, nor when they were found on the page before.
            if not _lists_decisions(detail) and not (known and known.has_decisions_document):
                return DetailAnswer(_with_page_documents(detail, page_url, plan, fetcher), seen, 2)
        return DetailAnswer(detail, seen)

    def meeting_page(
        self,
        base_url: str,
        listed: ListedMeeting | None,
        committee_id: str,
        source_id: str,
        current: str,
    ) -> str:
        return public_meeting_url(base_url, committee_id, source_id)

    def is_listing_url(self, url: str) -> bool:
        return "/GetMeetings?" in url


def _minutes_only_elsewhere(detail: MeetingDetail, plan: CouncilPlan) -> bool:
    """A held meeting with no minutes text from the web service: its minutes (or
    decision notice) may be a PDF linked only from the meeting's public page."""
    now = plan.planned_at or datetime.now(UTC)
    if detail.date is None or detail.date > local_today(now, plan.tz):
        return False
    if is_cancelled(detail.status_text):
        return False
    return not any(item.minutes_text for item in detail.items)


def _lists_decisions(detail: MeetingDetail) -> bool:
    """GetMeeting itself links printed minutes or a decision notice."""
    return any(
        kinds.reads_decisions(
            kinds.classify(doc.title, doc.url, linked_to_item=doc.item_source_id is not None)
        )
        for doc in detail.documents
    )


def _with_page_documents(
    detail: MeetingDetail, page_url: str, plan: CouncilPlan, fetcher: Fetcher
) -> MeetingDetail:
    """One more polite request: the meeting's public page (ieListDocuments.aspx), for its
    meeting-wide files. A page that fails costs the meeting nothing: GetMeeting's answer
    stands."""
    from digest.collector import meetingpage  # it reads ParsedDocument from here

    try:
        found = meetingpage.parse_documents(fetcher.get(page_url), plan.base_url, detail.source_id)
    except FetchError:
        return detail
    known = {doc.url for doc in detail.documents}
    extra = tuple(doc for doc in found if doc.url not in known)
    return dataclasses.replace(detail, documents=detail.documents + extra) if extra else detail
