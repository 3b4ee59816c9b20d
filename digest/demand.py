"""The demand counter: which waitlisted councils people want most.

Score = active subscriptions + professional_weight x open, confirmed professional requests.
Ties go to the council whose demand came first. Every list of the waitlist (CLI, public
page, admin queue) comes from `ranking`, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.cache import TTLCache
from digest.config import DemandConfig
from digest.models import (
    Council,
    CouncilStatus,
    EnablementRequest,
    RequestStatus,
    Subscription,
    SubscriptionStatus,
)

BUCKETS = (1000, 250, 100, 50, 25, 10)


@dataclass(frozen=True)
class Demand:
    council: Council
    subscribers: int
    requests: int
    score: int
    first_demand_at: datetime | None
    position: int | None  # 1-based place in the queue; None when nobody has asked yet


def ranking(session: Session, professional_weight: int) -> list[Demand]:
    """Every waitlisted council, most wanted first; councils with no demand last, by name."""
    # No join with councils: the filter to waitlisted councils happens below, and without
    # the join the covering index answers the whole query.
    subs = {
        cid: (n, first)
        for cid, n, first in session.execute(
            sa.select(
                Subscription.council_id,
                sa.func.count(),
                sa.func.min(Subscription.confirmed_at),
            )
            .where(Subscription.status == SubscriptionStatus.ACTIVE)
            .group_by(Subscription.council_id)
        )
    }
    reqs = dict(
        (cid, (n, first))
        for cid, n, first in session.execute(
            sa.select(
                EnablementRequest.council_id,
                sa.func.count(),
                sa.func.min(EnablementRequest.confirmed_at),
            )
            .where(
                EnablementRequest.status == RequestStatus.OPEN,
                EnablementRequest.confirmed_at.is_not(None),
            )
            .group_by(EnablementRequest.council_id)
        )
    )
    rows: list[tuple[Council, int, int, int, datetime | None]] = []
    for council in session.scalars(
        sa.select(Council).where(Council.status == CouncilStatus.WAITLIST)
    ):
        n_subs, first_sub = subs.get(council.id, (0, None))
        n_reqs, first_req = reqs.get(council.id, (0, None))
        firsts = [t for t in (first_sub, first_req) if t is not None]
        score = n_subs + professional_weight * n_reqs
        rows.append((council, n_subs, n_reqs, score, min(firsts) if firsts else None))
    far_future = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (-r[3], r[4] or far_future, r[0].name))
    ranked: list[Demand] = []
    for index, (council, n_subs, n_reqs, score, first) in enumerate(rows, start=1):
        ranked.append(Demand(council, n_subs, n_reqs, score, first, index if score > 0 else None))
    return ranked


def ranked(session: Session, professional_weight: int, figures: TTLCache) -> list[Demand]:
    """The ranking, reused for the cache's lifetime ([web] public_cache_seconds)."""
    return figures.get(
        ("ranking", professional_weight), lambda: ranking(session, professional_weight)
    )


def find(rows: list[Demand], council_id: int) -> Demand | None:
    """A council's row in a ranking; None when it is not on the waitlist."""
    return next((row for row in rows if row.council.id == council_id), None)


def bucket(count: int, threshold: int) -> str:
    """A privacy-preserving label for how many people are waiting."""
    if count < max(threshold, BUCKETS[-1]):
        return f"Fewer than {max(threshold, BUCKETS[-1])}"
    for floor in BUCKETS:
        if count >= floor:
            return f"{floor:,}+"
    return f"Fewer than {BUCKETS[-1]}"  # pragma: no cover - unreachable by the guard above


def is_ready(row: Demand, config: DemandConfig) -> bool:
    """Demand has reached the auto-enable threshold (shown to admins as "ready") and we
    can collect the council (the others show as "unsupported" however many ask)."""
    return (
        config.auto_enable_threshold > 0
        and row.score >= config.auto_enable_threshold
        and row.council.is_collectable
    )
