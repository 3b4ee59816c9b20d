"""Building a week's digests for many councils: one transaction per council, so one
council's bad data costs only its own digest. Used by `digest build` and the weekly job."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from digest.links import Links
from digest.models import Council
from digest.summaries.build import BuildSettings, CouncilBuild, build_council_digest
from digest.summaries.weeks import IsoWeek

log = logging.getLogger("digest.summaries")


@dataclass
class BuildReport:
    week: str
    councils: int = 0
    created: int = 0
    quiet: int = 0
    queued: int = 0
    failed: list[str] = field(default_factory=list)

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
) -> Iterator[int]:
    """Build each council's digest in its own transaction, recording results in `report`;
    yields after each council (for progress bars)."""
    for council_id in council_ids:
        slug = str(council_id)
        try:
            with sessions.begin() as session:
                council = session.get(Council, council_id)
                if council is not None:
                    slug = council.slug
                    report.add(build_council_digest(session, council, week, now, settings, links))
        except Exception:
            log.exception("building the %s digest for %s failed", week, slug)
            report.failed.append(slug)
        yield council_id
