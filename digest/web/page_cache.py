"""Serving cached public pages: the process's figures cache, and the CSRF placeholder that
lets one rendered page serve every visitor with their own token."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import g
from flask_wtf.csrf import generate_csrf

from digest.web.context import runtime

T = TypeVar("T")


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    return runtime().figures.get(key, compute)


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
