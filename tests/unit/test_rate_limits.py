"""The in-process rate-limit store behind `memory://`: fixed windows that start on the
first hit, expire on time, and are swept so memory does not grow with traffic."""

from __future__ import annotations

from freezegun import freeze_time
from limits import parse, parse_many
from limits.strategies import FixedWindowRateLimiter

from digest.web.limits import ProcessMemoryStorage


def test_a_window_counts_hits_until_it_expires() -> None:
    storage = ProcessMemoryStorage()
    with freeze_time("2026-11-22 10:00:00") as frozen:
        assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        assert storage.get("k") == 3
        assert storage.get_expiry("k") == frozen().timestamp() + 60
        frozen.tick(59)
        assert storage.incr("k", 60) == 4
        frozen.tick(1)
        assert storage.get("k") == 0
        assert storage.incr("k", 60) == 1  # a fresh window from now
        assert storage.get_expiry("k") == frozen().timestamp() + 60


def test_the_limiter_refuses_over_the_limit_and_says_when_to_retry() -> None:
    limiter = FixedWindowRateLimiter(ProcessMemoryStorage())
    two_a_minute, five_an_hour = parse_many("2 per minute; 5 per hour")
    with freeze_time("2026-11-22 10:00:00") as frozen:
        assert [limiter.hit(two_a_minute, "form", "ip") for _ in range(3)] == [True, True, False]
        assert limiter.hit(two_a_minute, "form", "other-ip")  # keys are separate
        frozen.tick(30)
        stats = limiter.get_window_stats(two_a_minute, "form", "ip")
        assert (stats.remaining, round(stats.reset_time - frozen().timestamp())) == (0, 30)
        frozen.tick(31)
        assert limiter.hit(two_a_minute, "form", "ip")
        assert [limiter.hit(five_an_hour, "form", "ip") for _ in range(6)][-1] is False


def test_expired_windows_are_swept_so_memory_does_not_grow() -> None:
    storage = ProcessMemoryStorage()
    limit = parse("5 per minute")
    limiter = FixedWindowRateLimiter(storage)
    with freeze_time("2026-11-22 10:00:00") as frozen:
        for n in range(1_000):
            limiter.hit(limit, "subscribe", f"address-{n}")
        assert len(storage) == 1_000
        frozen.tick(ProcessMemoryStorage.SWEEP_SECONDS + 1)
        limiter.hit(limit, "subscribe", "one-more")
        assert len(storage) == 1
    assert storage.reset() == 1 and len(storage) == 0
