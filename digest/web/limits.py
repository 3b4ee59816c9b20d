"""Rate limits on the POSTs of a few endpoints, counted by the `limits` library.

`limits` is the engine under Flask-Limiter. Used directly, a check is two counter hits
(about 10 µs with memory storage); Flask-Limiter's per-request resolution of decorators,
scopes and headers cost about 0.3 ms, a fifth of the subscribe form's whole budget.
Every limit here is fixed per endpoint, so none of that flexibility is needed.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from digest.addresses import keyed_hash

KeyFunc = Callable[[], str]


def client_ip() -> str:
    """The client's address (made real behind proxies by ProxyFix)."""
    return request.remote_addr or "unknown"


def form_field_key(field: str, secret_key: str) -> KeyFunc:
    """Key requests by a (hashed, lower-cased) form field, e.g. the target email address,
    so one address cannot be flooded from many IPs."""

    def key() -> str:
        value = (request.form.get(field) or "").strip().lower()
        if not value:
            return f"ip:{client_ip()}"
        return f"{field}:{keyed_hash(secret_key, 'ratelimit', value)[:32]}"

    return key


class RateLimits:
    """Fixed-window limits per endpoint, shared by the processes using `storage_uri`
    (memory:// counts per process; use redis://… with several workers)."""

    def __init__(self, storage_uri: str) -> None:
        self.storage = storage_from_string(storage_uri)
        self.strategy = FixedWindowRateLimiter(self.storage)

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
