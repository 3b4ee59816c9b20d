"""Politeness towards council servers: at most one request in flight per host, and at
least `interval` seconds from the end of one request to the start of the next.

The fetcher keys hosts by the address it connects to (no scheme or port): http:// and
https:// on one name, two names for one server ("localhost" and "127.0.0.1"), or two
councils sharing one ModernGov install, are the same server to its operators.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class HostGate:
    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._last_end: dict[str, float] = {}

    def _lock_for(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold the host for one request, after waiting out the interval."""
        host = host.lower()
        with self._lock_for(host):
            last = self._last_end.get(host)
            if last is not None:
                wait = last + self.interval - self._clock()
                if wait > 0:
                    self._sleep(wait)
            try:
                yield
            finally:
                self._last_end[host] = self._clock()

    def hold(self, host: str, seconds: float) -> None:
        """Let no request start on `host` for `seconds` (it answered Retry-After)."""
        host = host.lower()
        with self._guard:
            until = self._clock() + seconds - self.interval
            self._last_end[host] = max(self._last_end.get(host, until), until)
