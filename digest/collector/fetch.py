"""What to fetch for one council, and fetching it (network only; nothing is written).

GetMeetings is asked for the whole window once per run. GetMeeting is asked only for a
meeting that is new, whose GetMeetings entry changed, or that still waits for something
(an agenda before it happens, minutes after it is held) and was last looked at more than
`recheck_hours` ago. So a re-poll with nothing new costs one request per council.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.collector import meetingpage, moderngov
from digest.collector.committees import CommitteeRule, rule_for
from digest.collector.fetcher import Fetcher, FetchError, Validator
from digest.collector.moderngov import ListedMeeting, MeetingDetail, MeetingList
from digest.config import CollectorConfig
from digest.models import Council, FetchValidator, Meeting, MeetingStatus


class NothingToCollect(FetchError):
    """The council cannot be collected as configured (no base URL, a bad filter)."""


@dataclass(frozen=True)
class KnownMeeting:
    source_id: str
    list_signature: str
    status: MeetingStatus
    start_at: datetime
    start_date: date
    committee_title: str
    agenda_published: bool
    minutes_published: bool
    detail_fetched_at: datetime | None
    committee_source_id: str = ""

    def waits_for_papers(self, now: datetime) -> bool:
        """An agenda still due before the meeting, or minutes still due after it."""
        if self.status == MeetingStatus.CANCELLED:
            return False
        if self.start_at > now:
            return not self.agenda_published
        return not self.minutes_published


@dataclass(frozen=True)
class CouncilPlan:
    """A snapshot of what we hold for a council, taken before any network traffic."""

    council_id: int
    slug: str
    base_url: str
    tz: ZoneInfo
    window: tuple[date, date]
    rule: CommitteeRule
    known: dict[str, KnownMeeting]
    validators: dict[str, Validator]
    digests: dict[str, str]  # url -> fingerprint of the last answer we used
    recheck_after: timedelta
    pdf_text: bool = True
    reports_per_meeting: int = 0


@dataclass(frozen=True)
class ValidatorSeen:
    url: str
    validator: Validator
    sha256: str


@dataclass
class CouncilFetch:
    """Everything fetched for one council, parsed and filtered, ready to store."""

    plan: CouncilPlan
    # None: GetMeetings answered 304 Not Modified, or exactly what it said last time.
    listing: MeetingList | None
    details: dict[str, MeetingDetail] = field(default_factory=dict)
    not_modified_details: set[str] = field(default_factory=set)
    validators: list[ValidatorSeen] = field(default_factory=list)
    requests: int = 0
    still_listed: tuple[str, ...] = ()  # with an unchanged listing: what it lists
    # Meetings whose GetMeeting failed, with why: left out of this run (never stored
    # half-read) and tried again at the next.
    failed_details: dict[str, str] = field(default_factory=dict)


def make_plans(
    session: Session,
    councils: list[Council],
    config: CollectorConfig,
    tz: ZoneInfo,
    now: datetime,
) -> dict[int, CouncilPlan | NothingToCollect]:
    """Plans for many councils in a handful of queries; a council that cannot be
    collected as configured gets the reason instead."""
    ids = [c.id for c in councils]
    known: dict[int, dict[str, KnownMeeting]] = defaultdict(dict)
    rows = session.execute(
        sa.select(
            Meeting.council_id,
            Meeting.source_id,
            Meeting.list_signature,
            Meeting.status,
            Meeting.start_at,
            Meeting.start_date,
            Meeting.committee,
            Meeting.agenda_published,
            Meeting.minutes_published,
            Meeting.detail_fetched_at,
            Meeting.committee_source_id,
        ).where(Meeting.council_id.in_(ids))
    )
    for council_id, *values in rows:
        meeting = KnownMeeting(*values)
        known[council_id][meeting.source_id] = meeting
    stored: dict[int, list[FetchValidator]] = defaultdict(list)
    for row in session.scalars(sa.select(FetchValidator).where(FetchValidator.council_id.in_(ids))):
        stored[row.council_id].append(row)
    today = now.astimezone(tz).date()
    window = (today - timedelta(days=config.days_back), today + timedelta(days=config.days_ahead))
    plans: dict[int, CouncilPlan | NothingToCollect] = {}
    for council in councils:
        if not council.base_url:
            plans[council.id] = NothingToCollect(
                f"{council.name} has no democracy website address (base URL)"
            )
            continue
        try:
            rule = rule_for(session, council)
        except ValueError as exc:
            plans[council.id] = NothingToCollect(str(exc))
            continue
        rows_of = stored[council.id]
        plans[council.id] = CouncilPlan(
            council_id=council.id,
            slug=council.slug,
            base_url=council.base_url.rstrip("/"),
            tz=tz,
            window=window,
            rule=rule,
            known=known[council.id],
            validators={
                v.url: Validator(v.etag, v.last_modified)
                for v in rows_of
                if v.etag or v.last_modified
            },
            digests={v.url: v.content_sha256 for v in rows_of if v.content_sha256},
            recheck_after=timedelta(hours=config.recheck_hours),
            pdf_text=config.pdf_text,
            reports_per_meeting=config.reports_per_meeting,
        )
    return plans


def fetch_council(plan: CouncilPlan, fetcher: Fetcher, now: datetime) -> CouncilFetch:
    """GetMeetings, then GetMeeting where needed. Raises FetchError on the first failure,
    before anything has been stored."""
    start, end = plan.window
    url = moderngov.meetings_url(plan.base_url, start, end)
    answer = fetcher.get(url, validator=plan.validators.get(url))
    result = CouncilFetch(plan=plan, listing=None, requests=1)
    # The answer's fingerprint includes the committee rule: a new filter must re-read it.
    fingerprint = hashlib.sha256(answer.body + plan.rule.describe().encode()).hexdigest()
    if answer.not_modified or plan.digests.get(url) == fingerprint:
        # Nothing new in the list: only meetings whose papers are due need a look.
        listed = [
            k
            for k in plan.known.values()
            if start <= k.start_date <= end and plan.rule.keeps(k.committee_title)
        ]
        result.still_listed = tuple(k.source_id for k in listed)
        wanted = [k.source_id for k in listed if _due_for_recheck(k, plan, now)]
        if not answer.not_modified:
            result.validators.append(ValidatorSeen(url, answer.validator, fingerprint))
    else:
        listing = keep_ours(moderngov.parse_meetings(answer), plan)
        result.listing = listing
        result.validators.append(ValidatorSeen(url, answer.validator, fingerprint))
        wanted = [m.source_id for m in listing.meetings if _needs_detail(m, plan, now)]
    for source_id in wanted:
        try:
            _fetch_detail(result, fetcher, source_id, now)
        except FetchError as exc:
            result.failed_details[source_id] = str(exc)
    if len(wanted) > 1 and len(result.failed_details) == len(wanted):
        # Not one meeting readable: the site is down or broken, not one meeting.
        source_id, error = next(iter(result.failed_details.items()))
        raise FetchError(f"meeting {source_id}: {error}")
    return result


def _fetch_detail(result: CouncilFetch, fetcher: Fetcher, source_id: str, now: datetime) -> None:
    """GetMeeting for one meeting, read completely or not at all (FetchError)."""
    plan = result.plan
    detail_url = moderngov.meeting_url(plan.base_url, source_id)
    result.requests += 1
    detail_answer = fetcher.get(detail_url, validator=plan.validators.get(detail_url))
    if detail_answer.not_modified:
        result.not_modified_details.add(source_id)
        return
    detail = moderngov.parse_meeting(detail_answer, plan.base_url)
    if detail.source_id != source_id:
        raise FetchError(f"GetMeeting for meeting {source_id} described meeting {detail.source_id}")
    result.validators.append(
        ValidatorSeen(detail_url, detail_answer.validator, detail_answer.sha256)
    )
    if plan.pdf_text and _minutes_only_elsewhere(detail, now, plan):
        committee_id = _committee_of(source_id, result.listing, plan)
        detail = _with_page_documents(detail, committee_id, plan, fetcher, result)
    result.details[source_id] = detail


def _minutes_only_elsewhere(detail: MeetingDetail, now: datetime, plan: CouncilPlan) -> bool:
    """A held meeting with no minutes text from the web service: its minutes (or
    decision notice) may be a PDF linked only from the meeting's public page."""
    if detail.date is None or detail.date > now.astimezone(plan.tz).date():
        return False
    if moderngov.is_cancelled(detail.status_text):
        return False
    return not any(item.minutes_text for item in detail.items)


def _committee_of(source_id: str, listing: MeetingList | None, plan: CouncilPlan) -> str:
    if listing is not None:
        for entry in listing.meetings:
            if entry.source_id == source_id:
                return entry.committee_id
    known = plan.known.get(source_id)
    return known.committee_source_id if known is not None else ""


def _with_page_documents(
    detail: MeetingDetail,
    committee_id: str,
    plan: CouncilPlan,
    fetcher: Fetcher,
    result: CouncilFetch,
) -> MeetingDetail:
    """One more polite request: the meeting's public page, for its meeting-wide files.
    A page that fails costs the meeting nothing: GetMeeting's answer stands."""
    url = moderngov.public_meeting_url(plan.base_url, committee_id, detail.source_id)
    try:
        answer = fetcher.get(url)
        result.requests += 1
        found = meetingpage.parse_documents(answer, plan.base_url, detail.source_id)
    except FetchError:
        return detail
    known = {doc.url for doc in detail.documents}
    extra = tuple(doc for doc in found if doc.url not in known)
    return replace(detail, documents=detail.documents + extra) if extra else detail


def keep_ours(listing: MeetingList, plan: CouncilPlan) -> MeetingList:
    """Only meetings inside the window (some hosts ignore the dates asked for) and of
    this council's committees (shared installs)."""
    start, end = plan.window
    meetings = tuple(
        m for m in listing.meetings if start <= m.date <= end and plan.rule.keeps(m.committee_title)
    )
    committees = tuple(c for c in listing.committees if plan.rule.keeps(c.title))
    return MeetingList(meetings, committees)


def _needs_detail(listed: ListedMeeting, plan: CouncilPlan, now: datetime) -> bool:
    known = plan.known.get(listed.source_id)
    if known is None or known.detail_fetched_at is None:
        return True
    if known.list_signature != listed.signature():
        return True
    return _due_for_recheck(known, plan, now)


def _due_for_recheck(known: KnownMeeting, plan: CouncilPlan, now: datetime) -> bool:
    if not known.waits_for_papers(now):
        return False
    last = known.detail_fetched_at
    return last is None or now - last >= plan.recheck_after
