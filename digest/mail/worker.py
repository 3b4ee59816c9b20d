"""The delivery worker's loop: deliver, beat, rest when idle, and outlive faults."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlalchemy as sa

from digest.mail.delivery import Deliverer
from digest.mail.report import DeliveryReport

log = logging.getLogger("digest.delivery")


# Database errors that mean "not reachable right now" rather than a bug: a restart,
# a failover, a cut connection, SQLite's lock timeout.
DATABASE_GONE = (sa.exc.OperationalError, sa.exc.InterfaceError)


class Outages:
    """Backoff and logging for a loop that must outlive faults: each outage is logged
    once when it starts and once when it ends, and the pause between tries grows from
    `first` to `longest` seconds, so a database that comes back is used again within
    `longest` seconds. A failure within `settle` seconds of recovering is the same
    outage flapping (a server terminating connections for a while, a failover), so it
    is not announced again."""

    def __init__(
        self,
        what: str,
        *,
        first: float = 0.5,
        longest: float = 5.0,
        settle: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.first = first
        self.longest = longest
        self.settle = settle
        self.monotonic = monotonic
        self.started: float | None = None
        self.recovered: float | None = None  # when the current outage last came good
        self.announced = False  # "working again" said for the current outage
        self.pause = first

    def failed(self, exc: BaseException) -> float:
        """Note a failed round; how long to wait before the next."""
        now = self.monotonic()
        if self.started is not None and self.recovered is not None:
            flapping = now - self.recovered < self.settle
            self.recovered = None
            self.pause = self.first
            if flapping:
                log.debug("%s: failed again (%s)", self.what, _first_line(exc))
                return self.pause
            self.started = None
        if self.started is None:
            self.started = now
            self.pause = self.first
            self.announced = False
            if isinstance(exc, DATABASE_GONE):
                log.error(
                    "%s: the database is unavailable (%s); retrying", self.what, _first_line(exc)
                )
            else:
                log.exception("%s failed; retrying", self.what)
            return self.pause
        self.pause = min(self.longest, self.pause * 2)
        return self.pause

    def succeeded(self) -> None:
        if self.started is None:
            return
        now = self.monotonic()
        if self.recovered is None:
            if not self.announced:
                log.warning("%s: working again after %.1f s", self.what, now - self.started)
                self.announced = True
            self.recovered = now
        elif now - self.recovered >= self.settle:
            self.started = self.recovered = None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def work_until_stopped(
    deliverer: Deliverer,
    *,
    stopped: Callable[[], bool],
    wait: Callable[[float], object],
    idle: float,
    beat: Callable[[], None],
    also: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """The worker loop: deliver, beat, rest when idle; survive database outages (and any
    other failed round) by waiting with backoff and carrying on. On the way out, hand
    back the unsent claims (trying for a few seconds if the database is away). `also`
    is other work done each round (reading queued PDFs); True when it found some, so
    the worker does not rest."""
    total = DeliveryReport()
    outages = Outages(f"delivery worker {deliverer.worker}")
    while not stopped():
        try:
            report = deliverer.run_once()
            total.add(report)
            if report.handled:
                log.info("batch: %s", report.summary())
            busy = also() if also is not None else False
            beat()
        except Exception as exc:
            wait(outages.failed(exc))
            continue
        outages.succeeded()
        if report.handled == 0 and not busy:
            wait(idle)
    for pause in (0.0, 0.5, 1.0, 2.0, 4.0):
        time.sleep(pause)  # not `wait`: once stopped, it would return at once
        try:
            deliverer.release_unsent()
            break
        except Exception as exc:
            outages.failed(exc)
    return total
