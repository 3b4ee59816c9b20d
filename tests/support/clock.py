"""A clock tests can move. Production code is always handed `now`; jobs and views read
the runtime's clock, which tests replace with one of these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Wednesday of ISO week 2026-W47, mid-morning in London.
DEFAULT_NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = DEFAULT_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now
