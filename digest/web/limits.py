"""Rate limits (Flask-Limiter), one limiter per app so test apps never share counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from digest.addresses import keyed_hash


def make_limiter(app: Flask, storage_uri: str) -> Limiter:
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=storage_uri,
        strategy="fixed-window",
        headers_enabled=True,
    )
    # Every limit is on a POST; other requests skip the limiter's per-request work.
    limiter.request_filter(lambda: request.method != "POST")
    # All our limits are per endpoint (limit_endpoint), and a limited view checks its own
    # limits when called; the limiter's app-wide before_request check would only repeat
    # that work on every POST. If a future Flask-Limiter registers it differently, nothing
    # is removed and the limits still hold (the rate-limit tests show both).
    hook = getattr(limiter, "_check_request_limit", None)
    app.before_request_funcs[None] = [f for f in app.before_request_funcs[None] if f != hook]
    return limiter


def form_field_key(field: str, secret_key: str) -> Callable[[], str]:
    """Key requests by a (hashed, lower-cased) form field, e.g. the target email address,
    so one address cannot be flooded from many IPs."""

    def key() -> str:
        value = (request.form.get(field) or "").strip().lower()
        if not value:
            return f"ip:{get_remote_address()}"
        return f"{field}:{keyed_hash(secret_key, 'ratelimit', value)[:32]}"

    return key


def limit_endpoint(
    app: Flask,
    limiter: Limiter,
    endpoint: str,
    limit: str,
    key_func: Callable[[], str] | None = None,
) -> None:
    """Apply `limit` to the POSTs of an already registered endpoint."""
    view = app.view_functions[endpoint]
    limited = limiter.limit(limit, key_func=key_func, methods=["POST"])(view)
    app.view_functions[endpoint] = cast(Callable[..., Any], limited)
