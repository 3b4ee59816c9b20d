"""Reading councillors: by ward, one councillor's meetings and decisions, and the ward
councillors for a postcode (the council's GetCouncillorsByPostcode, cached)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload, sessionmaker

from digest.collector import councillors as source
from digest.collector.http_client import Fetcher, FetchError
from digest.lookup.postcodes import store as store_answer
from digest.models import AgendaItem, Attendee, Council, Councillor, LookupCache, Meeting

MAX_MEETINGS = 50


def current_by_ward(session: Session, council: Council) -> dict[str, list[Councillor]]:
    rows = session.scalars(
        sa.select(Councillor)
        .where(Councillor.council_id == council.id, Councillor.left_at.is_(None))
        .order_by(Councillor.ward, Councillor.name)
    )
    wards: dict[str, list[Councillor]] = {}
    for row in rows:
        wards.setdefault(row.ward or "No ward", []).append(row)
    return wards


def former(session: Session, council: Council) -> list[Councillor]:
    return list(
        session.scalars(
            sa.select(Councillor)
            .where(Councillor.council_id == council.id, Councillor.left_at.is_not(None))
            .order_by(Councillor.name)
        )
    )


def get(session: Session, council: Council, councillor_id: int) -> Councillor | None:
    found = session.get(Councillor, councillor_id)
    return found if found is not None and found.council_id == council.id else None


@dataclass(frozen=True)
class Attended:
    meeting: Meeting
    attendance: str
    decisions: list[AgendaItem]


def attended(session: Session, councillor: Councillor) -> list[Attended]:
    """Meetings whose attendance list names this councillor (by ModernGov member id),
    newest first, with the items that recorded a decision."""
    rows = session.execute(
        sa.select(Meeting, Attendee.attendance)
        .join(Attendee, Attendee.meeting_id == Meeting.id)
        .where(
            Meeting.council_id == councillor.council_id,
            Attendee.member_source_id == councillor.source_id,
        )
        .options(selectinload(Meeting.items))
        .order_by(Meeting.start_at.desc())
        .limit(MAX_MEETINGS)
    ).all()
    return [
        Attended(
            meeting=m,
            attendance=attendance,
            decisions=[
                i for i in m.items if (i.resolutions or i.is_decision) and not i.is_restricted
            ],
        )
        for m, attendance in rows
    ]


def ids_by_source(session: Session, council_id: int, source_ids: Sequence[str]) -> dict[str, int]:
    """Our ids for ModernGov member ids, to link a meeting's attendees."""
    wanted = [s for s in source_ids if s]
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(Councillor.source_id, Councillor.id).where(
            Councillor.council_id == council_id, Councillor.source_id.in_(wanted)
        )
    )
    return {source_id: cid for source_id, cid in rows}


def for_postcode(
    sessions: sessionmaker[Session],
    council: Council,
    postcode: str,
    fetcher: Fetcher,
    now: datetime,
    ttl: timedelta,
) -> list[Councillor] | None:
    """The ward councillors for `postcode` from the council's own site (cached for `ttl`);
    None when the site could not say (the page then simply leaves the box out)."""
    if not council.base_url:
        return None
    key = f"ward-councillors:{council.id}:{postcode}"
    with sessions() as session:
        cached = session.get(LookupCache, key)
        ids: list[str] | None = None
        if cached is not None and now - cached.fetched_at < ttl:
            ids = [str(i) for i in cached.value.get("ids", [])]
    if ids is None:
        try:
            ids = source.parse_by_postcode(
                fetcher.get(source.by_postcode_url(council.base_url, postcode))
            )
        except FetchError:
            return None
        try:
            with sessions.begin() as session:
                store_answer(session, key, {"ids": ids}, now)
        except sa.exc.IntegrityError:
            pass  # another request stored the same answer first
    with sessions() as session:
        if not ids:
            return []
        found = session.scalars(
            sa.select(Councillor).where(
                Councillor.council_id == council.id,
                Councillor.source_id.in_(ids),
                Councillor.left_at.is_(None),
            )
        ).all()
        session.expunge_all()
        order = {sid: n for n, sid in enumerate(ids)}
        return sorted(found, key=lambda c: order.get(c.source_id, 0))
