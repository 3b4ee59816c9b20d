"""The public-figures cache."""

from __future__ import annotations

from digest.cache import TTLCache


def test_values_are_reused_until_they_expire() -> None:
    now = [100.0]
    cache = TTLCache(30, clock=lambda: now[0])
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("k", compute) == 1
    now[0] += 29
    assert cache.get("k", compute) == 1
    now[0] += 2
    assert cache.get("k", compute) == 2
    assert cache.get("other", compute) == 3


def test_zero_seconds_means_no_cache() -> None:
    cache = TTLCache(0)
    values = iter(range(10))
    assert [cache.get("k", lambda: next(values)) for _ in range(3)] == [0, 1, 2]
