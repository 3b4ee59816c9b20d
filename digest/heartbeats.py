"""Liveness of long-running processes, and the record of scheduled job runs."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.db import fit
from digest.models import Heartbeat, JobRun


def beat(session: Session, name: str, now: datetime, detail: str = "") -> None:
    row = session.get(Heartbeat, name)
    if row is None:
        session.add(Heartbeat(name=name, beat_at=now, detail=detail))
    else:
        row.beat_at = now
        row.detail = detail


def last_beat(session: Session, name: str) -> datetime | None:
    row = session.get(Heartbeat, name)
    return row.beat_at if row else None


def start_run(sessions: sessionmaker[Session], job: str, now: datetime) -> int:
    with sessions.begin() as session:
        run = JobRun(job=job, started_at=now)
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    sessions: sessionmaker[Session], run_id: int, now: datetime, *, ok: bool, summary: str
) -> None:
    with sessions.begin() as session:
        session.execute(
            sa.update(JobRun)
            .where(JobRun.id == run_id)
            .values(finished_at=now, ok=ok, summary=fit(JobRun.summary, summary))
        )


def last_run(session: Session, job: str) -> JobRun | None:
    return session.scalar(
        sa.select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc()).limit(1)
    )
