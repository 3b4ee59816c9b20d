"""A council's collection health: the outcome of each run on the council's row (last
success, last error, consecutive failures, counts) and the meetings that could not be
read, kept for admins until they are read. Nothing here commits."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.collector.planner import CouncilFetch
from digest.models import Council, MeetingFetchFailure


def record_meeting_failures(
    session: Session, council: Council, fetched: CouncilFetch, now: datetime
) -> None:
    """Remember meetings that could not be read (for admins), forget those read now."""
    read = set(fetched.details) | fetched.not_modified_details
    existing = {
        row.source_id: row
        for row in session.scalars(
            sa.select(MeetingFetchFailure).where(MeetingFetchFailure.council_id == council.id)
        )
    }
    for source_id in read & set(existing):
        session.delete(existing[source_id])
    for source_id, error in fetched.failed_details.items():
        row = existing.get(source_id)
        if row is None:
            session.add(
                MeetingFetchFailure(
                    council_id=council.id,
                    source_id=source_id,
                    error=error[:500],
                    attempts=1,
                    first_failed_at=now,
                    last_failed_at=now,
                )
            )
        else:
            row.error = error[:500]
            row.attempts += 1
            row.last_failed_at = now


def meeting_failures(session: Session, council_id: int) -> list[MeetingFetchFailure]:
    """Meetings of a council that could not be read at the last attempts."""
    return list(
        session.scalars(
            sa.select(MeetingFetchFailure)
            .where(MeetingFetchFailure.council_id == council_id)
            .order_by(MeetingFetchFailure.first_failed_at, MeetingFetchFailure.source_id)
        )
    )


def record_success(council: Council, now: datetime) -> None:
    council.last_attempt_at = now
    council.last_success_at = now
    council.last_error = None
    council.consecutive_failures = 0
    council.collections_ok = (council.collections_ok or 0) + 1


def record_failure(council: Council, message: str, now: datetime) -> None:
    council.last_attempt_at = now
    council.last_error = message
    council.last_error_at = now
    council.consecutive_failures = (council.consecutive_failures or 0) + 1
    council.collections_failed = (council.collections_failed or 0) + 1
