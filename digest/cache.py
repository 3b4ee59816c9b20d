"""A small per-process cache for figures that are costly to compute and may be a little
stale (the demand ranking, the council page). `[web] public_cache_seconds` bounds how
stale; 0 turns it off."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")


class TTLCache:
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.ttl <= 0:
            return compute()
        now = self.clock()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and hit[0] > now:
            return cast(T, hit[1])
        value = compute()
        with self._lock:
            self._values[key] = (now + self.ttl, value)
        return value
