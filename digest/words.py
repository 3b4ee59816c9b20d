"""Counted nouns in the interface: "1 failure", "2 failures"."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, with `many` (default: noun + "s") unless count is exactly 1."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
