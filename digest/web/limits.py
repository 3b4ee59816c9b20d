"""Rate limits on the POSTs of a few endpoints, counted by the `limits` library.

`limits` is the engine under Flask-Limiter. Used directly, a check is two counter hits
(about 10 µs with memory storage); Flask-Limiter's per-request resolution of decorators,
scopes and headers cost about 0.3 ms, a fifth of the subscribe form's whole budget.
Every limit here is fixed per endpoint, so none of that flexibility is needed.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from digest.addresses import address_key, keyed_hash

KeyFunc = Callable[[], str]

log = logging.getLogger(__name__)

PER_PROCESS_WARNING = (
    "rate limits are counted per process ([web] rate_limit_storage = memory://) but several "
    "processes serve this site, so each allows the full limit: set [web] rate_limit_storage "
    "to a shared store such as redis://127.0.0.1:6379/0"
)


def client_ip() -> str:
    """The client's address (made real behind proxies by ProxyFix)."""
    return request.remote_addr or "unknown"


def form_field_key(field: str, secret_key: str) -> KeyFunc:
    """Key requests by the address typed into a form field, normalised as the action
    itself normalises it (digest.addresses), so one address cannot be flooded from many
    IPs under different spellings."""

    def key() -> str:
        value = address_key(request.form.get(field) or "")
        if not value:
            return f"ip:{client_ip()}"
        return f"{field}:{keyed_hash(secret_key, 'ratelimit', value)[:32]}"

    return key


class ProcessMemoryStorage(Storage):
    """Fixed-window counters in this process's memory: what `memory://` means here.

    limits' own MemoryStorage expires keys from a timer thread that it starts again
    every 10 ms and that scans every key; with a key per address typed into the form, that
    scan grows with traffic and took 7 % of a web worker in `make bench`. Here an expired
    window is replaced when next touched, and all expired ones are dropped once a minute,
    inline.
    """

    SWEEP_SECONDS = 60.0

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (expires at, count)
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
                self._next_sweep = now + self.SWEEP_SECONDS
            expires, count = self._windows.get(key, (0.0, 0))
            if expires <= now:
                expires, count = now + expiry, 0
            count += amount
            self._windows[key] = (expires, count)
            return count

    def get(self, key: str) -> int:
        expires, count = self._windows.get(key, (0.0, 0))
        return count if expires > time.time() else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        expires, _ = self._windows.get(key, (0.0, 0))
        return expires if expires > now else now

    def check(self) -> bool:
        return True

    def __len__(self) -> int:
        """How many windows are held, expired ones not yet swept included."""
        return len(self._windows)

    def reset(self) -> int:
        with self._lock:
            cleared = len(self._windows)
            self._windows = {}
            return cleared

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


def _storage(uri: str) -> Storage:
    if uri.startswith("memory://"):
        return ProcessMemoryStorage()
    storage = storage_from_string(uri)
    if not isinstance(storage, Storage):
        raise ValueError(f"{uri}: an asynchronous storage cannot serve these views")
    return storage


class RateLimits:
    """Fixed-window limits per endpoint, shared by the processes using `storage_uri`
    (memory:// counts per process; use redis://… with several workers)."""

    def __init__(self, storage_uri: str) -> None:
        self.storage = _storage(storage_uri)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.per_process = isinstance(self.storage, ProcessMemoryStorage)
        self._warned = False
        if self.per_process and os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
            # gunicorn's arbiter sets SERVER_SOFTWARE; how many workers it runs is known
            # for sure at the first request (wsgi.multiprocess), see `warnings`.
            log.warning(
                "started under gunicorn with memory:// rate limits; %s", PER_PROCESS_WARNING
            )

    def warnings(self, environ: dict[str, Any]) -> list[str]:
        """Problems with the limits as this request's server runs them. WSGI servers set
        `wsgi.multiprocess` when other processes serve the same site (gunicorn: when it
        runs more than one worker); memory:// counters are then each process's own."""
        if not (self.per_process and environ.get("wsgi.multiprocess")):
            return []
        if not self._warned:
            self._warned = True
            log.warning(PER_PROCESS_WARNING)
        return [PER_PROCESS_WARNING]

    def watch(self, app: Flask) -> None:
        """Say so in the log at the first request if the limits are per process while
        several processes serve the site."""

        @app.before_request
        def check_processes() -> None:
            if not self._warned:
                self.warnings(request.environ)

    def limit_endpoint(
        self, app: Flask, endpoint: str, limit: str, key_func: KeyFunc | None = None
    ) -> None:
        """Apply `limit` ("10 per minute; 60 per hour") to the POSTs of a registered
        endpoint; an exhausted limit answers 429 with Retry-After."""
        items = parse_many(limit)
        key = key_func or client_ip
        view = app.view_functions[endpoint]

        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if request.method == "POST":
                self.check(endpoint, key(), items)
            return view(*args, **kwargs)

        app.view_functions[endpoint] = limited

    def check(self, scope: str, key: str, items: list[RateLimitItem]) -> None:
        for item in items:
            if not self.strategy.hit(item, scope, key):
                reset = self.strategy.get_window_stats(item, scope, key).reset_time
                raise TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))
