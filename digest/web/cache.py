"""A small per-process cache for public figures that are costly to compute on every
page view (the demand ranking). `[web] public_cache_seconds` bounds how stale they get."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from flask import current_app, g
from flask_wtf.csrf import generate_csrf

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


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    cache: TTLCache = current_app.extensions["digest.cache"]
    return cache.get(key, compute)


# Stands in for the visitor's CSRF token in cached HTML; plain ASCII so escaping keeps it.
CSRF_PLACEHOLDER = "CSRF-TOKEN-PLACEHOLDER-5f0c"


@contextmanager
def csrf_placeholder() -> Iterator[None]:
    """Render forms with CSRF_PLACEHOLDER instead of this visitor's token."""
    g.csrf_placeholder = True
    try:
        yield
    finally:
        g.csrf_placeholder = False


def csrf_token() -> str:
    """The `csrf_token()` templates call: the placeholder while rendering for the cache."""
    if g.get("csrf_placeholder"):
        return CSRF_PLACEHOLDER
    token: str = generate_csrf()
    return token
