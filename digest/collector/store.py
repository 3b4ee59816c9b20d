"""Storing what was fetched for a council: upsert by (council, source id), record every
change seen, never delete. A meeting's items, attendees and documents are stored by
meeting_parts.py; the council's collection health is kept by health.py.

Functions here never commit; the caller owns the transaction (one per council).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from digest import search
from digest.collector import health
from digest.collector.meeting_parts import store_documents, store_items_and_attendees
from digest.collector.parsed import (
    ListedCommittee,
    ListedMeeting,
    MeetingDetail,
    is_cancelled,
    status_label,
)
from digest.collector.planner import CouncilFetch
from digest.collector.safexml import clock_time
from digest.collector.sources import Source
from digest.db import fit, rows_affected
from digest.models import (
    AgendaItem,
    ChangeKind,
    Committee,
    Council,
    FetchValidator,
    Meeting,
    MeetingChange,
    MeetingStatus,
)


@dataclass
class StoreResult:
    new: int = 0
    changed: int = 0
    changes: dict[ChangeKind, int] = field(default_factory=dict)

    def count(self, kind: ChangeKind) -> None:
        self.changes[kind] = self.changes.get(kind, 0) + 1


Change = tuple[ChangeKind, dict[str, Any]]


def collect(
    session: Session, council: Council, fetched: CouncilFetch, now: datetime
) -> StoreResult:
    """Apply one council's fetched data. Returns what changed."""
    plan = fetched.plan
    result = StoreResult()
    listed = {m.source_id: m for m in fetched.listing.meetings} if fetched.listing else {}
    # A meeting whose details could not be read is left as it was (or not created):
    # stored only once read completely.
    wanted = (set(listed) | set(fetched.details) | fetched.not_modified_details) - set(
        fetched.failed_details
    )
    meetings: dict[str, Meeting] = {}
    if wanted:
        meetings = {
            m.source_id: m
            for m in session.scalars(
                sa.select(Meeting)
                .where(Meeting.council_id == council.id, Meeting.source_id.in_(wanted))
                .options(
                    selectinload(Meeting.items),
                    selectinload(Meeting.documents),
                    selectinload(Meeting.attendees),
                )
            )
        }
    # Read before changing anything, so these queries do not flush half-made rows.
    validator_rows = {
        v.url: v
        for v in session.scalars(
            sa.select(FetchValidator).where(FetchValidator.council_id == council.id)
        )
    }
    if fetched.listing is not None:
        _upsert_committees(session, council, fetched.listing.committees, now)
    if fetched.still_listed:
        session.execute(
            sa.update(Meeting)
            .where(Meeting.council_id == council.id, Meeting.source_id.in_(fetched.still_listed))
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    seen: list[tuple[Meeting, ChangeKind, dict[str, Any]]] = []
    to_index: list[Meeting] = []
    documents_due: list[tuple[Meeting, MeetingDetail, dict[str, AgendaItem]]] = []
    for source_id in sorted(wanted, key=_id_order):
        meeting = meetings.get(source_id)
        entry = listed.get(source_id)
        detail = fetched.details.get(source_id)
        is_new = meeting is None
        if meeting is None:
            if entry is None:
                continue  # a detail for a meeting we never listed: nothing to hang it on
            meeting = _new_meeting(session, council, entry, now)
        changes: list[Change] = [(ChangeKind.NEW, {})] if is_new else []
        listed_before = meeting.list_signature
        changes += _update(meeting, entry, detail, is_new, plan.source, plan.base_url, plan.tz, now)
        touched = bool(changes) or meeting.list_signature != listed_before
        signature = detail.signature() if detail is not None else ""
        if detail is not None and signature != meeting.detail_signature:
            items = store_items_and_attendees(meeting, detail, now)
            documents_due.append((meeting, detail, items))
            meeting.detail_signature = signature
            touched = True
        if detail is not None or source_id in fetched.not_modified_details:
            meeting.detail_fetched_at = now
        if entry is not None:
            meeting.last_seen_at = now
        for kind, extra in changes:
            result.count(kind)
            detail_json = {"start_at": meeting.start_at.isoformat(), "status": meeting.status.value}
            seen.append((meeting, kind, {**detail_json, **extra}))
        if touched:
            meeting.updated_at = now
            to_index.append(meeting)
        if changes:
            if is_new:
                result.new += 1
            else:
                result.changed += 1
    session.flush()  # new meetings and items get their ids
    for meeting, detail, items in documents_due:
        store_documents(
            meeting, detail, items, read_pdfs=plan.pdf_text, reports=plan.reports_per_meeting
        )
    # The search index changes in this same transaction, so it is never behind the data.
    search.index_meetings(session, to_index)
    for meeting, kind, detail_json in seen:
        session.add(
            MeetingChange(
                council_id=council.id,
                meeting_id=meeting.id,
                kind=kind,
                seen_at=now,
                detail=detail_json,
            )
        )
    _remember_validators(session, council, fetched, validator_rows, now)
    health.record_meeting_failures(session, council, fetched, now)
    mark_held(session, council, now)
    return result


def _id_order(source_id: str) -> tuple[int, str]:
    return (int(source_id), "") if source_id.isdigit() else (0, source_id)


def _new_meeting(
    session: Session, council: Council, entry: ListedMeeting, now: datetime
) -> Meeting:
    meeting = Meeting(
        council_id=council.id,
        source_id=entry.source_id,
        committee_source_id=entry.committee_id,
        committee=entry.committee_title or "Meeting",
        title=entry.committee_title or "Meeting",
        start_date=entry.date,
        start_at=datetime.combine(entry.date, time(0), tzinfo=UTC),
        status=MeetingStatus.SCHEDULED,
        first_seen_at=now,
        last_seen_at=now,
        updated_at=now,
        items=[],
        documents=[],
        attendees=[],
    )
    session.add(meeting)
    return meeting


def _update(
    meeting: Meeting,
    entry: ListedMeeting | None,
    detail: MeetingDetail | None,
    is_new: bool,
    source: Source,
    base_url: str,
    tz: ZoneInfo,
    now: datetime,
) -> list[Change]:
    """Bring a meeting up to date with its list entry and detail; the changes seen."""
    if entry is None and detail is None:
        return []
    changes: list[Change] = []
    when: date = meeting.start_date
    time_text = ""
    status_text = meeting.status_label
    if entry is not None:
        meeting.committee_source_id = entry.committee_id or meeting.committee_source_id
        meeting.committee = fit(Meeting.committee, entry.committee_title or meeting.committee)
        meeting.is_webcast = entry.is_webcast
        meeting.list_signature = entry.signature()
        when, time_text, status_text = entry.date, entry.time_text, entry.status_text
    if detail is not None:
        when = detail.date or when
        time_text = detail.time_text or time_text
        status_text = detail.status_text or status_text
        meeting.venue = fit(Meeting.venue, detail.venue)
        meeting.end_time_text = fit(Meeting.end_time_text, detail.end_time_text)
        meeting.is_webcast = detail.is_webcast

    start_at, time_known = _start(when, time_text, tz)
    if not is_new and not time_known and when == meeting.start_date:
        # No time given this time round: keep the one we had.
        start_at, time_known = meeting.start_at, meeting.time_known
    moved = not is_new and (
        when != meeting.start_date
        or (time_known and meeting.time_known and start_at != meeting.start_at)
    )
    if moved:
        changes.append(
            (
                ChangeKind.RESCHEDULED,
                {"from": meeting.start_at.isoformat(), "to": start_at.isoformat()},
            )
        )
    meeting.start_date, meeting.start_at, meeting.time_known = when, start_at, time_known
    meeting.status_label = fit(Meeting.status_label, status_text)
    label = status_label(status_text)
    committee = meeting.committee or "Meeting"
    meeting.title = fit(Meeting.title, f"{committee} ({label})" if label else committee)
    page = source.meeting_page(
        base_url, entry, meeting.committee_source_id, meeting.source_id, meeting.source_url or ""
    )
    meeting.source_url = fit(Meeting.source_url, page)

    was = meeting.status
    if is_cancelled(status_text):
        meeting.status = MeetingStatus.CANCELLED
        if is_new or was != MeetingStatus.CANCELLED:
            changes.append((ChangeKind.CANCELLED, {}))
    else:
        if not is_new and was == MeetingStatus.CANCELLED:
            changes.append((ChangeKind.REINSTATED, {}))
        if start_at <= now:
            meeting.status = MeetingStatus.HELD
        elif moved or was == MeetingStatus.RESCHEDULED:
            meeting.status = MeetingStatus.RESCHEDULED
        else:
            meeting.status = MeetingStatus.SCHEDULED

    if detail is not None:
        if detail.agenda_published and not meeting.agenda_published:
            changes.append((ChangeKind.AGENDA_PUBLISHED, {}))
        if detail.minutes_published and not meeting.minutes_published:
            changes.append((ChangeKind.MINUTES_PUBLISHED, {}))
        meeting.agenda_published = meeting.agenda_published or detail.agenda_published
        meeting.minutes_published = meeting.minutes_published or detail.minutes_published
    return changes


def _start(when: date, time_text: str, tz: ZoneInfo) -> tuple[datetime, bool]:
    """The UTC instant of a council's local date and time; midnight when no time is known."""
    parsed = clock_time(time_text) if time_text else None
    local = datetime.combine(when, parsed or time(0), tzinfo=tz)
    return local.astimezone(UTC), parsed is not None


def _upsert_committees(
    session: Session, council: Council, listed: tuple[ListedCommittee, ...], now: datetime
) -> None:
    existing = {
        c.source_id: c
        for c in session.scalars(sa.select(Committee).where(Committee.council_id == council.id))
    }
    for entry in listed:
        committee = existing.get(entry.source_id)
        if committee is None:
            committee = Committee(
                council_id=council.id,
                source_id=fit(Committee.source_id, entry.source_id),
                title=fit(Committee.title, entry.title) or "Committee",
                first_seen_at=now,
                last_seen_at=now,
            )
            session.add(committee)
            existing[entry.source_id] = committee
        else:
            committee.title = fit(Committee.title, entry.title) or committee.title
            committee.last_seen_at = now


def _remember_validators(
    session: Session,
    council: Council,
    fetched: CouncilFetch,
    rows: dict[str, FetchValidator],
    now: datetime,
) -> None:
    """Keep ETag / Last-Modified for next time. Listing URLs carry the dates (GetMeetings'
    window, CMIS months), so rows for URLs no longer asked are dropped, not kept forever."""
    listing_page = fetched.plan.source.is_listing_url
    if fetched.failed_details:
        # A meeting was left out: the next poll must read the listing again in full (not
        # take a 304 or an unchanged fingerprint as "nothing new") to try it again.
        for url in [u for u in rows if listing_page(u)]:
            session.delete(rows.pop(url))
    for seen in fetched.validators:
        # Listing rows are kept even without validators: their fingerprint tells the
        # next poll that nothing changed.
        is_listing = listing_page(seen.url)
        if is_listing and fetched.failed_details:
            continue
        keep = is_listing or bool(seen.validator.etag or seen.validator.last_modified)
        if is_listing:
            for url in [u for u in rows if listing_page(u) and u not in fetched.listing_urls]:
                session.delete(rows.pop(url))
        if not keep:
            if seen.url in rows:
                session.delete(rows.pop(seen.url))
            continue
        if seen.url not in rows:
            rows[seen.url] = FetchValidator(council_id=council.id, url=seen.url, checked_at=now)
            session.add(rows[seen.url])
        row = rows[seen.url]
        etag, modified = seen.validator.etag, seen.validator.last_modified
        row.etag = fit(FetchValidator.etag, etag) if etag else None
        row.last_modified = fit(FetchValidator.last_modified, modified) if modified else None
        row.content_sha256 = seen.sha256
        row.checked_at = now


def mark_held(session: Session, council: Council, now: datetime) -> int:
    """Meetings whose time has come are 'held' (unless cancelled)."""
    result = session.execute(
        sa.update(Meeting)
        .where(
            Meeting.council_id == council.id,
            Meeting.status.in_([MeetingStatus.SCHEDULED, MeetingStatus.RESCHEDULED]),
            Meeting.start_at <= now,
        )
        .values(status=MeetingStatus.HELD, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)
