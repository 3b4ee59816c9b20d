"""What to fetch for one council, and fetching it (network only; nothing is written).

The council's source (chosen by its `system`) lists the whole window once per run
(GetMeetings; CMIS month pages). A meeting's detail is asked for only when the meeting is
new, its listing entry changed, or it still waits for something (an agenda before it
happens, minutes after it is held) and was last looked at more than `recheck_hours` ago.
So a re-poll with nothing new costs one request per listing page.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.clock import local_today
from digest.collector.cmis import CmisSource
from digest.collector.committees import rule_for
from digest.collector.http_client import Fetcher, FetchError, Validator
from digest.collector.moderngov import ModernGovSource
from digest.collector.parsed import ListedMeeting, MeetingDetail, MeetingList
from digest.collector.sources import (
    CouncilPlan,
    KnownMeeting,
    Source,
    ValidatorSeen,
    system_name,
)
from digest.config import CollectorConfig
from digest.documents import kinds
from digest.models import (
    Council,
    CouncilSystem,
    Document,
    FetchValidator,
    Meeting,
    MeetingStatus,
)

__all__ = ["CouncilFetch", "CouncilPlan", "KnownMeeting", "NothingToCollect", "ValidatorSeen"]


class NothingToCollect(FetchError):
    """The council cannot be collected as configured (no base URL, a bad filter, a system
    we have no source for)."""


# One module per council system; a council whose system is not here is not collectable.
SOURCES: dict[CouncilSystem, Source] = {
    CouncilSystem.MODERNGOV: ModernGovSource(),
    CouncilSystem.CMIS: CmisSource(),
}
COLLECTABLE = frozenset(SOURCES)


def source_for(system: CouncilSystem) -> Source | None:
    return SOURCES.get(system)


def is_collectable(system: CouncilSystem) -> bool:
    return system in COLLECTABLE


@dataclass
class CouncilFetch:
    """Everything fetched for one council, parsed and filtered, ready to store."""

    plan: CouncilPlan
    # None: the listing answered 304 Not Modified, or exactly what it said last time.
    listing: MeetingList | None
    details: dict[str, MeetingDetail] = field(default_factory=dict)
    not_modified_details: set[str] = field(default_factory=set)
    validators: list[ValidatorSeen] = field(default_factory=list)
    requests: int = 0
    still_listed: tuple[str, ...] = ()  # from unchanged listing pages: what they list
    listing_urls: tuple[str, ...] = ()
    # Meetings whose detail failed, with why: left out of this run (never stored
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
            Meeting.source_url,
        ).where(Meeting.council_id.in_(ids))
    )
    with_decisions = {
        (council_id, source_id)
        for council_id, source_id in session.execute(
            sa.select(Meeting.council_id, Meeting.source_id)
            .join(Document, Document.meeting_id == Meeting.id)
            .where(
                Meeting.council_id.in_(ids),
                Document.kind.in_([k for k in kinds.KINDS if kinds.reads_decisions(k)]),
            )
            .distinct()
        )
    }
    for council_id, *values in rows:
        meeting = KnownMeeting(*values)
        if (council_id, meeting.source_id) in with_decisions:
            meeting = dataclasses.replace(meeting, has_decisions_document=True)
        known[council_id][meeting.source_id] = meeting
    stored: dict[int, list[FetchValidator]] = defaultdict(list)
    for row in session.scalars(sa.select(FetchValidator).where(FetchValidator.council_id.in_(ids))):
        stored[row.council_id].append(row)
    today = local_today(now, tz)
    window = (today - timedelta(days=config.days_back), today + timedelta(days=config.days_ahead))
    plans: dict[int, CouncilPlan | NothingToCollect] = {}
    for council in councils:
        if not council.base_url:
            plans[council.id] = NothingToCollect(
                f"{council.name} has no democracy website address (base URL)"
            )
            continue
        source = source_for(council.system)
        if source is None:
            plans[council.id] = NothingToCollect(
                f"{council.name} runs {system_name(council.system)}: we can't collect this "
                "council's meetings automatically yet"
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
            source=source,
            planned_at=now,
        )
    return plans


def fetch_council(plan: CouncilPlan, fetcher: Fetcher, now: datetime) -> CouncilFetch:
    """The listing, then each meeting's detail where needed. Raises FetchError when the
    listing fails (or every detail does), before anything has been stored; a meeting whose
    detail fails is left out and recorded."""
    source = plan.source
    listing = source.list_meetings(plan, fetcher)
    result = CouncilFetch(
        plan=plan,
        listing=None,
        requests=listing.requests,
        validators=list(listing.validators),
        listing_urls=listing.urls,
    )
    # Nothing new on these pages: only meetings whose papers are due need a look.
    held = [
        k
        for k in plan.known.values()
        if any(start <= k.start_date <= end for start, end in listing.unchanged)
        and plan.rule.keeps(k.committee_title)
    ]
    result.still_listed = tuple(k.source_id for k in held)
    wanted = [k.source_id for k in held if _due_for_recheck(k, plan, now)]
    pages: dict[str, str] = {k.source_id: k.source_url for k in held}
    if listing.meetings is not None:
        ours = keep_ours(listing.meetings, plan)
        result.listing = ours
        for m in ours.meetings:
            pages[m.source_id] = (
                m.page_url
                or pages.get(m.source_id)
                or source.meeting_page(plan.base_url, m, m.committee_id, m.source_id, "")
            )
            if m.source_id not in wanted and _needs_detail(m, plan, now):
                wanted.append(m.source_id)
    for source_id in wanted:
        try:
            answer = source.fetch_meeting(plan, fetcher, source_id, pages.get(source_id, ""))
        except FetchError as exc:
            result.requests += 1
            result.failed_details[source_id] = str(exc)
            continue
        result.requests += answer.requests
        if answer.detail is None:
            result.not_modified_details.add(source_id)
            continue
        result.details[source_id] = answer.detail
        if answer.validator is not None:
            result.validators.append(answer.validator)
    if len(wanted) > 1 and len(result.failed_details) == len(wanted):
        # Not one meeting readable: the site is down or broken, not one meeting.
        source_id, error = next(iter(result.failed_details.items()))
        raise FetchError(f"meeting {source_id}: {error}")
    return result


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
    upcoming = known.status != MeetingStatus.CANCELLED and known.start_at > now
    if not known.waits_for_papers(now) and not (plan.source.rechecks_upcoming and upcoming):
        return False
    last = known.detail_fetched_at
    return last is None or now - last >= plan.recheck_after
