"""Privacy buckets for public demand figures."""

from __future__ import annotations

import pytest

from digest.demand import bucket


@pytest.mark.parametrize(
    ("count", "label"),
    [
        (0, "Fewer than 10"),
        (9, "Fewer than 10"),
        (10, "10+"),
        (24, "10+"),
        (25, "25+"),
        (99, "50+"),
        (100, "100+"),
        (250, "250+"),
        (999, "250+"),
        (1000, "1,000+"),
        (50000, "1,000+"),
    ],
)
def test_buckets(count: int, label: str) -> None:
    assert bucket(count, 10) == label


def test_a_higher_threshold_hides_more() -> None:
    assert bucket(20, 25) == "Fewer than 25"
    assert bucket(25, 25) == "25+"
