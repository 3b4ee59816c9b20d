"""Rendering councils' weekly digests in other processes, ahead of the build that stores
them.

Rendering (summaries, templates, CSS inlining) is most of a week's build and only reads;
storing the digests and queueing their mail is the rest and writes, one writer at a time
on SQLite. So worker processes each render a council's digests, the whole council's and
one per topic selection its subscribers chose, on a read-only connection of their own,
while the building process stores what they rendered a few councils behind them: on two
cores a week's build takes about half as long (README, design decisions).

What a worker renders is what the build would have rendered itself (the same
`render_council`), and the build renders whatever it was not given: a selection chosen
in the meantime, a council whose rendering failed, everything after the pool broke. So
rendering ahead changes how fast a build is, never what it stores.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from digest.db import make_engine, make_sessionmaker
from digest.links import Links
from digest.tokens import Tokens
from digest.weekly.build import BuildSettings, CouncilRendering, render_council
from digest.weekly.weeks import IsoWeek

log = logging.getLogger("digest.weekly")

# Below this many councils, starting the processes (about a second: each imports the
# renderer) costs more than it saves.
MIN_COUNCILS = 16
# The most processes "one per CPU" gives: the building process stores and queues what
# they render one council at a time, and on two cores it is already busy most of the
# build; more workers would only hold more memory (about 75 MB each).
MAX_DEFAULT_PROCESSES = 4
# Councils handed out but not yet stored, per process: enough that a worker never waits
# for the next, few enough that finished renderings do not pile up in memory.
QUEUED_PER_PROCESS = 2
# How often a wait for a rendering checks that the worker processes are still there.
WORKER_CHECK_SECONDS = 1.0


def processes_for(setting: int) -> int:
    """Worker processes for a `[digest] build_processes` setting: 0 means one per CPU
    this process may run on, at most MAX_DEFAULT_PROCESSES."""
    return setting if setting > 0 else min(len(os.sched_getaffinity(0)), MAX_DEFAULT_PROCESSES)


@dataclass(frozen=True)
class _Job:
    """What every worker needs, sent once when it starts."""

    url: str
    week: IsoWeek
    now: datetime
    settings: BuildSettings
    base_url: str


class RenderedAhead:
    """Renderings in the order of the council ids given; `take(id)` waits for the next."""

    def __init__(
        self, pool: ProcessPoolExecutor | None, council_ids: Sequence[int], queued: int = 0
    ) -> None:
        self._pool = pool
        self._ids = iter(council_ids)
        self._pending: deque[tuple[int, Future[CouncilRendering]]] = deque()
        self._fill(queued)

    def take(self, council_id: int) -> CouncilRendering | None:
        """The council's rendering, or None when it must be rendered by the caller (no
        pool, a failure in the worker, councils taken out of order)."""
        if not self._pending or self._pending[0][0] != council_id:
            return None
        _, future = self._pending.popleft()
        self._fill(1)
        try:
            return self._result(future)
        except BrokenProcessPool:
            log.warning("rendering ahead stopped: a worker process died; rendering here")
            self._stop()
        except Exception:
            log.warning(
                "rendering council %s ahead failed; rendering here", council_id, exc_info=True
            )
        return None

    def _result(self, future: Future[CouncilRendering]) -> CouncilRendering:
        """The future's result. The pool marks its futures broken when a worker dies, but
        not every time: a worker SIGKILLed at the wrong moment can leave the pool's
        manager thread gone and the future pending for ever (seen here on 3.11). So the
        wait looks at the worker processes too, and a dead one breaks the pool."""
        while True:
            try:
                return future.result(timeout=WORKER_CHECK_SECONDS)
            except TimeoutError:
                if not _workers_alive(self._pool):
                    raise BrokenProcessPool("a rendering process died") from None

    def _fill(self, count: int) -> None:
        pool = self._pool
        for _ in range(count):
            council_id = next(self._ids, None)
            if pool is None or council_id is None:
                return
            try:
                self._pending.append((council_id, pool.submit(_render, council_id)))
            except (BrokenProcessPool, RuntimeError):
                self._stop()
                return

    def _stop(self) -> None:
        self._pool = None
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()


def _workers_alive(pool: ProcessPoolExecutor | None) -> bool:
    """Whether the pool's thread that hands out work and its processes are all running
    (read from the pool's own records: there is no public way to see them)."""
    manager = getattr(pool, "_executor_manager_thread", None)
    processes = getattr(pool, "_processes", None) or {}
    return (
        manager is not None
        and manager.is_alive()
        and all(process.exitcode is None for process in processes.values())
    )


@contextmanager
def rendered_ahead(
    sessions: sessionmaker[Session],
    council_ids: Sequence[int],
    week: IsoWeek,
    now: datetime,
    settings: BuildSettings,
    links: Links,
    *,
    min_councils: int = MIN_COUNCILS,
) -> Iterator[RenderedAhead]:
    """Render the councils' digests in worker processes (`settings.processes`), when
    there are enough councils for it to pay and the database is one they can open (not
    an in-memory SQLite database); otherwise the caller renders everything itself."""
    processes = processes_for(settings.processes)
    url = _shared_url(sessions)
    if processes < 2 or len(council_ids) < min_councils or url is None:
        yield RenderedAhead(None, council_ids)
        return
    job = _Job(url, week, now, settings, links.base_url)
    # Spawned, not forked: a fork would copy this process's open connections and, in the
    # scheduler, locks held by its other threads.
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(job,),
    )
    ahead = RenderedAhead(pool, council_ids, processes * QUEUED_PER_PROCESS)
    try:
        yield ahead
    finally:
        ahead._stop()
        pool.shutdown(wait=True, cancel_futures=True)


def _shared_url(sessions: sessionmaker[Session]) -> str | None:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine):
        return None
    url = bind.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


@dataclass(frozen=True)
class _Worker:
    job: _Job
    sessions: sessionmaker[Session]
    links: Links


_worker: _Worker | None = None  # this process's, when it is a worker (set by `_start`)


def _start(job: _Job) -> None:
    global _worker
    _worker = _Worker(
        job=job,
        sessions=make_sessionmaker(make_engine(job.url), readonly=True),
        links=Links(job.base_url, Tokens(job.settings.secret_key)),
    )


def _render(council_id: int) -> CouncilRendering:
    worker = _worker
    if worker is None:
        raise RuntimeError("not a rendering worker")
    job = worker.job
    with worker.sessions() as session:
        return render_council(session, council_id, job.week, job.now, job.settings, worker.links)
