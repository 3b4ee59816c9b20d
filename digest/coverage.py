"""Coverage: per council system, how many councils there are, how many we can collect
(a source for the system and an address), how many are enabled, and how many of those
were collected successfully in the last 48 hours. For `digest councils coverage` and
`/metrics` (`digest_councils{system=,state=}`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.models import Council, CouncilStatus, CouncilSystem
from digest.models.council import STALE_AFTER
from digest.models.enums import COLLECTABLE_SYSTEMS

STATES = ("councils", "collectable", "enabled", "fresh")


@dataclass
class Counts:
    councils: int = 0
    collectable: int = 0
    enabled: int = 0
    fresh: int = 0

    def add(self, other: Counts) -> None:
        for state in STATES:
            setattr(self, state, getattr(self, state) + getattr(other, state))


@dataclass(frozen=True)
class Coverage:
    systems: dict[CouncilSystem, Counts]
    total: Counts

    def as_json(self) -> dict[str, Any]:
        return {
            "systems": {system.value: asdict(c) for system, c in self.systems.items()},
            "total": asdict(self.total),
        }


def coverage(session: Session, now: datetime) -> Coverage:
    """One grouped query; every system appears, with zeros if no council runs it."""
    fresh = sa.and_(
        Council.status == CouncilStatus.ENABLED,
        Council.last_success_at.is_not(None),
        Council.last_success_at >= now - STALE_AFTER,
    )
    collectable = sa.and_(Council.system.in_(COLLECTABLE_SYSTEMS), Council.base_url != "")
    rows = session.execute(
        sa.select(
            Council.system,
            sa.func.count(),
            sa.func.count(sa.case((collectable, 1))),
            sa.func.count(sa.case((Council.status == CouncilStatus.ENABLED, 1))),
            sa.func.count(sa.case((fresh, 1))),
        ).group_by(Council.system)
    ).all()
    systems = {system: Counts() for system in CouncilSystem}
    for system, *figures in rows:
        systems[system] = Counts(*figures)
    total = Counts()
    for counts in systems.values():
        total.add(counts)
    return Coverage(systems, total)
