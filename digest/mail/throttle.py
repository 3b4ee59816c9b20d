"""Sending rates: a global ceiling and one per recipient domain group.

Big mailbox providers run several domains on one infrastructure and throttle them as
one, so rates and pauses apply to groups (gmail = gmail.com + googlemail.com, ...).
A domain outside every group is a group of its own.

Rates are installation-wide. Each worker enforces its share, rate / n, where n is the
number of workers holding claimed messages when it last claimed a batch (itself
included); see `Deliverer`. The buckets here are per process and know nothing of that:
they are handed the share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

PROVIDER_GROUPS: dict[str, tuple[str, ...]] = {
    "gmail": ("gmail.com", "googlemail.com"),
    "yahoo": (
        "yahoo.com",
        "yahoo.co.uk",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "aol.co.uk",
        "aim.com",
    ),
    "microsoft": (
        "outlook.com",
        "outlook.co.uk",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "live.co.uk",
        "msn.com",
        "windowslive.com",
    ),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "bt": ("btinternet.com", "btopenworld.com", "talk21.com"),
    "virgin": ("virginmedia.com", "ntlworld.com", "blueyonder.co.uk", "virgin.net"),
    "sky": ("sky.com",),
    "gmx": ("gmx.com", "gmx.co.uk", "gmx.net", "mail.com"),
    "proton": ("proton.me", "protonmail.com", "pm.me"),
}
_GROUP_OF = {domain: group for group, domains in PROVIDER_GROUPS.items() for domain in domains}


def domain_group(address: str) -> str:
    """The group a recipient belongs to: a provider name, else its own domain."""
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    return _GROUP_OF.get(domain, domain)


@dataclass
class TokenBucket:
    """`rate` tokens a second, up to one second's worth saved up. A rate of 0 is no limit.

    Tokens may go negative: a reservation made now is paid for by future refills, which is
    how the caller learns how long to wait.
    """

    rate: float
    tokens: float = 0.0
    updated: float | None = None

    def _refill(self, now: float) -> None:
        capacity = max(1.0, self.rate)
        if self.updated is None:
            self.tokens = capacity
        else:
            self.tokens = min(capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is free (0 if one is free now)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        if self.rate <= 0:
            return
        self._refill(now)
        self.tokens -= 1

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        if self.updated is not None:
            self.tokens = min(self.tokens, max(1.0, rate))


@dataclass
class Throttle:
    """Global and per-group buckets for one worker."""

    rate: float
    group_rates: Mapping[str, float]
    monotonic: Callable[[], float]
    share: int = 1
    _global: TokenBucket = field(init=False)
    _groups: dict[str, TokenBucket] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._global = TokenBucket(self.rate)

    def set_share(self, workers: int) -> None:
        """Take 1/workers of every configured rate."""
        self.share = max(1, workers)
        self._global.set_rate(self.rate / self.share)
        for group, bucket in self._groups.items():
            bucket.set_rate(self._group_rate(group))

    def _group_rate(self, group: str) -> float:
        return self.group_rates.get(group, 0.0) / self.share

    def _bucket(self, group: str) -> TokenBucket:
        bucket = self._groups.get(group)
        if bucket is None:
            bucket = self._groups[group] = TokenBucket(self._group_rate(group))
        return bucket

    def reserve(self, group: str, max_wait: float) -> float:
        """Seconds to wait before sending to `group`. When that is at most `max_wait`
        the slot is reserved and the caller must wait that long and send; otherwise
        nothing is reserved and the caller should put the message off."""
        now = self.monotonic()
        bucket = self._bucket(group)
        wait = max(self._global.wait(now), bucket.wait(now))
        if wait <= max_wait:
            self._global.take(now)
            bucket.take(now)
        return wait
