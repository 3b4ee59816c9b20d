"""Collecting many councils at once.

Councils are grouped by host; `concurrency` threads each take one host at a time, busiest
hosts first, and collect its councils one after another, so two councils on one shared
install never talk to their server at once. The `HostGate` inside the fetcher enforces
the interval between requests to a host (and covers redirects to other hosts too).

All councils are planned up front in one read-only session; threads fetch with no
session open; the caller's thread stores each council in its own transaction as soon as
its data arrives. A council that fails gets its error recorded; the others carry on.
"""

from __future__ import annotations

import logging
import queue
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.collector import health, store
from digest.collector.http_client import Fetcher, FetchError
from digest.collector.planner import CouncilFetch, CouncilPlan, fetch_council, make_plans
from digest.config import Config
from digest.db import sqlite_connection_held
from digest.models import Council, CouncilStatus

if TYPE_CHECKING:
    from digest.runtime import Runtime

log = logging.getLogger("digest.collector")


@dataclass(frozen=True)
class CouncilOutcome:
    slug: str
    ok: bool
    new: int = 0
    changed: int = 0
    requests: int = 0
    error: str | None = None


@dataclass
class CollectionReport:
    outcomes: list[CouncilOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[CouncilOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def summary(self) -> str:
        """One line: totals, then new/changed per council that had any, then failures."""
        ok = [o for o in self.outcomes if o.ok]
        busy = [f"{o.slug}: {o.new} new, {o.changed} changed" for o in ok if o.new or o.changed]
        totals = f"{sum(o.new for o in ok)} new and {sum(o.changed for o in ok)} changed meetings"
        parts = [
            f"{len(ok)} of {len(self.outcomes)} councils collected",
            totals + (f" ({'; '.join(busy)})" if busy else ""),
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} failed: " + ", ".join(o.slug for o in self.failed))
        return "; ".join(parts)


class UnknownCouncils(LookupError):
    """Some of the slugs asked for are not councils we know."""


@dataclass(frozen=True)
class _Target:
    id: int
    slug: str
    host: str


class Collector:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        read_sessions: sessionmaker[Session],
        config: Config,
        *,
        clock: Callable[[], datetime],
        fetcher: Fetcher | None = None,
    ) -> None:
        self.sessions = sessions
        self.read_sessions = read_sessions
        self.config = config
        self.clock = clock
        self.fetcher = fetcher or Fetcher(config.collector)
        self.tz: ZoneInfo = config.tz

    @classmethod
    def from_runtime(cls, rt: Runtime, *, fetcher: Fetcher | None = None) -> Collector:
        return cls(rt.sessions, rt.read_sessions, rt.config, clock=rt.clock, fetcher=fetcher)

    def targets(self, slugs: Sequence[str] = ()) -> list[_Target]:
        """The named councils (any status), or every enabled council."""
        with self.read_sessions() as session:
            stmt = sa.select(Council.id, Council.slug, Council.base_url)
            if slugs:
                stmt = stmt.where(Council.slug.in_(list(slugs)))
            else:
                stmt = stmt.where(Council.status == CouncilStatus.ENABLED)
            rows = session.execute(stmt.order_by(Council.slug)).all()
        missing = sorted(set(slugs) - {row.slug for row in rows})
        if missing:
            raise UnknownCouncils(f"no such council: {', '.join(missing)}")
        return [
            _Target(row.id, row.slug, (urlsplit(row.base_url).hostname or row.slug).lower())
            for row in rows
        ]

    def run(self, slugs: Sequence[str] = ()) -> Iterator[CouncilOutcome]:
        """Collect and yield each council's outcome as it finishes."""
        targets = self.targets(slugs)
        yield from self.run_targets(targets)

    def run_targets(self, targets: list[_Target]) -> Iterator[CouncilOutcome]:
        """Plan every council up front (a few queries), then host threads fetch while this
        generator stores each council as its data arrives: a host moves on to its next
        council while the last one is being written."""
        if not targets:
            return
        now = self.clock()
        plans = self.plan(targets, now)
        by_host: dict[str, list[_Target]] = defaultdict(list)
        for target in targets:
            by_host[target.host].append(target)
        # Busiest hosts first: the run can end no sooner than its busiest host does.
        groups = sorted(by_host.values(), key=len, reverse=True)
        gathered: queue.Queue[_Gathered] = queue.Queue()

        def work(group: list[_Target]) -> None:
            for target in group:
                gathered.put(self.gather(target, plans[target.id], now))

        workers = min(self.config.collector.concurrency, len(groups))
        with (
            sqlite_connection_held(self.sessions),
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool,
        ):
            futures = [pool.submit(work, group) for group in groups]
            for _ in range(len(targets)):
                yield self.store(gathered.get())
            for future in futures:
                future.result()

    def plan(self, targets: list[_Target], now: datetime) -> dict[int, CouncilPlan | FetchError]:
        with self.read_sessions() as session:
            found = list(
                session.scalars(sa.select(Council).where(Council.id.in_([t.id for t in targets])))
            )
            return dict(make_plans(session, found, self.config.collector, self.tz, now))

    def run_all(self, slugs: Sequence[str] = ()) -> CollectionReport:
        return CollectionReport(list(self.run(slugs)))

    def gather(self, target: _Target, plan: CouncilPlan | FetchError, now: datetime) -> _Gathered:
        """Fetch one council as planned; writes nothing and never raises."""
        if isinstance(plan, FetchError):
            return _Gathered(target, now, error=str(plan))
        try:
            return _Gathered(target, now, fetched=fetch_council(plan, self.fetcher, now))
        except FetchError as exc:
            return _Gathered(target, now, error=str(exc))
        except Exception as exc:  # a bug must not stop the other councils
            log.exception("collecting %s failed", target.slug)
            return _Gathered(
                target, now, error=f"internal error while collecting ({type(exc).__name__}: {exc})"
            )

    def store(self, gathered: _Gathered) -> CouncilOutcome:
        """Store what was gathered for a council, or record its failure."""
        slug, council_id, now = gathered.target.slug, gathered.target.id, gathered.now
        error = gathered.error
        fetched = gathered.fetched
        if fetched is not None:
            try:
                with self.sessions.begin() as session:
                    council = session.get_one(Council, council_id)
                    result = store.collect(session, council, fetched, now)
                    health.record_success(council, now)
                log.info("collected %s: %d new, %d changed", slug, result.new, result.changed)
                return CouncilOutcome(
                    slug, True, result.new, result.changed, requests=fetched.requests
                )
            except Exception as exc:
                log.exception("storing %s failed", slug)
                error = f"internal error while storing ({type(exc).__name__}: {exc})"
        message = error or "unknown error"
        try:
            with self.sessions.begin() as session:
                health.record_failure(session.get_one(Council, council_id), message, now)
        except Exception:  # the database itself is down: report, do not stop the run
            log.exception("recording the failure of %s failed", slug)
        log.warning("collecting %s failed: %s", slug, message)
        return CouncilOutcome(slug, False, error=message)


@dataclass(frozen=True)
class _Gathered:
    target: _Target
    now: datetime
    fetched: CouncilFetch | None = None
    error: str | None = None
