"""Building a week's digests for many councils, each in its own savepoint, so one
council's bad data costs only its own digest. Used by `digest build` and the weekly job."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from digest.db import sqlite_connection_held
from digest.links import Links
from digest.models import Council
from digest.weekly.ahead import MIN_COUNCILS, rendered_ahead
from digest.weekly.build import (
    BuildSettings,
    CouncilBuild,
    CouncilRendering,
    build_council_digest,
)
from digest.weekly.weeks import IsoWeek

log = logging.getLogger("digest.weekly")
COUNCILS_PER_TRANSACTION = 25


@dataclass
class BuildReport:
    week: str
    councils: int = 0
    created: int = 0
    quiet: int = 0
    queued: int = 0
    failed: list[str] = field(default_factory=list)
    rendered_ahead: int = 0  # councils whose digests another process rendered

    def add(self, result: CouncilBuild) -> None:
        self.councils += 1
        self.created += int(result.created)
        self.quiet += int(result.quiet)
        self.queued += result.queued

    def summary(self) -> str:
        text = (
            f"{self.week}: {self.councils} councils, {self.created} digests built "
            f"({self.quiet} quiet), {self.queued} emails queued"
        )
        if self.failed:
            text += f", {len(self.failed)} failed ({', '.join(self.failed[:5])})"
        return text


def build_each(
    sessions: sessionmaker[Session],
    council_ids: Sequence[int],
    week: IsoWeek,
    now: datetime,
    settings: BuildSettings,
    links: Links,
    report: BuildReport,
    *,
    min_councils: int = MIN_COUNCILS,
) -> Iterator[int]:
    """Build each council's digest in its own transaction, recording results in `report`;
    yields after each council (for progress bars). `min_councils`: the fewest councils
    worth rendering in other processes (`settings.processes` of them)."""
    # Councils are built in groups, one transaction per group and a savepoint per
    # council: a council that fails rolls back alone, and the database commits (and
    # SQLite checkpoints) a few times per run rather than once per council. Other
    # processes render the councils' digests ahead of this loop, which stores them.
    ahead = rendered_ahead(
        sessions, council_ids, week, now, settings, links, min_councils=min_councils
    )
    with sqlite_connection_held(sessions), ahead as rendered:
        for start in range(0, len(council_ids), COUNCILS_PER_TRANSACTION):
            with sessions.begin() as session:
                for council_id in council_ids[start : start + COUNCILS_PER_TRANSACTION]:
                    made = rendered.take(council_id)
                    report.rendered_ahead += made is not None
                    _build_one(session, council_id, week, now, settings, links, report, made)
                    yield council_id


def _build_one(
    session: Session,
    council_id: int,
    week: IsoWeek,
    now: datetime,
    settings: BuildSettings,
    links: Links,
    report: BuildReport,
    ahead: CouncilRendering | None,
) -> None:
    slug = str(council_id)
    try:
        with session.begin_nested():
            council = session.get(Council, council_id)
            if council is None:
                return
            slug = council.slug
            result = build_council_digest(session, council, week, now, settings, links, ahead)
    except Exception:
        log.exception("building the %s digest for %s failed", week, slug)
        report.failed.append(slug)
        return
    report.add(result)
    # Rendered meetings are not needed again; keep memory flat over hundreds of councils.
    session.expunge_all()
