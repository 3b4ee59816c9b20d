"""Auto-enable: the daily demand job switches on, in rank order, councils whose score has
reached `[demand] auto_enable_threshold`, while fewer than `max_enabled_councils` are
enabled, and only if a probe of the council's website succeeds. The rest stay "ready"
for an admin to look at.

Probing is network I/O, so it happens outside any transaction; each council is then
enabled in its own short transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest import admins, demand, enablement
from digest.collector.probe import ProbeResult, record
from digest.mail.queue import MailQueue
from digest.models import Council, CouncilStatus

ACTOR = "demand job"


@dataclass
class AutoEnableReport:
    enabled: list[str] = field(default_factory=list)
    probe_failed: list[tuple[str, str]] = field(default_factory=list)
    waiting_for_capacity: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # enough demand, no source
    off: bool = False

    def summary(self) -> str:
        if self.off:
            return "auto-enable is off ([demand] auto_enable_threshold = 0)"
        parts = [
            f"{len(self.enabled)} council(s) enabled"
            + (f" ({', '.join(self.enabled)})" if self.enabled else "")
        ]
        if self.probe_failed:
            parts.append("probe failed: " + ", ".join(slug for slug, _ in self.probe_failed))
        if self.waiting_for_capacity:
            parts.append(f"{len(self.waiting_for_capacity)} ready but over max_enabled_councils")
        if self.unsupported:
            parts.append("skipped, not collectable yet: " + ", ".join(self.unsupported))
        return "; ".join(parts)


def enabled_count(session: Session) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Council)
            .where(Council.status == CouncilStatus.ENABLED)
        )
        or 0
    )


def run(
    sessions: sessionmaker[Session],
    mail: MailQueue,
    *,
    now: datetime,
    probe_site: Callable[[str], ProbeResult],
) -> AutoEnableReport:
    """Enable every council that qualifies; `probe_site(base_url)` tests its source."""
    cfg = mail.config.demand
    report = AutoEnableReport()
    if cfg.auto_enable_threshold <= 0:
        report.off = True
        return report
    with sessions() as session:
        ranked = demand.ranking(session, cfg.professional_weight)
        ready = [
            (row.council.id, row.council.slug, row.council.base_url)
            for row in ranked
            if demand.is_ready(row, cfg)
        ]
        # Enough demand but a system we cannot collect: skipped, and said so.
        report.unsupported = [
            row.council.slug
            for row in ranked
            if row.position is not None
            and row.score >= cfg.auto_enable_threshold
            and not row.council.is_collectable
        ]
        live = enabled_count(session)
    for council_id, slug, base_url in ready:
        if cfg.max_enabled_councils and live >= cfg.max_enabled_councils:
            report.waiting_for_capacity.append(slug)
            continue
        result = probe_site(base_url)
        with sessions.begin() as session:
            council = session.get_one(Council, council_id)
            record(council, result, now)
            if not result.ok or council.status != CouncilStatus.WAITLIST:
                if not result.ok:
                    report.probe_failed.append((slug, result.message))
                continue
            outcome = enablement.go_live(session, mail, council, now)
            admins.record(
                session,
                actor=ACTOR,
                action="council.auto_enable",
                target=slug,
                now=now,
                detail=f"score reached {cfg.auto_enable_threshold}; "
                f"{outcome.notified} subscribers told, "
                f"{outcome.requests_approved} requests approved",
            )
        live += 1
        report.enabled.append(slug)
    return report
