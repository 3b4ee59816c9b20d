"""What a delivery round did: each message's outcome, counted for the report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(enum.Enum):
    """What became of one claimed message in a round."""

    SENT = "sent"  # the relay accepted it
    RETRIED = "retried"  # refused for now: tried again later
    FAILED = "failed"  # refused for good, or given up on
    SUPPRESSED = "suppressed"  # not sent: no longer wanted or allowed
    DEFERRED = "deferred"  # put off by rate limits, domain pauses or the breaker


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        """One more message with this outcome."""
        match outcome:
            case Outcome.SENT:
                self.sent += 1
            case Outcome.RETRIED:
                self.retried += 1
            case Outcome.FAILED:
                self.failed += 1
            case Outcome.SUPPRESSED:
                self.suppressed += 1
            case Outcome.DEFERRED:
                self.deferred += 1

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.suppressed += other.suppressed
        self.deferred += other.deferred
        self.errors.extend(other.errors)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.suppressed + self.deferred

    def summary(self) -> str:
        text = (
            f"{self.sent} sent, {self.retried} to retry, {self.failed} failed, "
            f"{self.suppressed} suppressed"
        )
        if self.deferred:
            text += f", {self.deferred} held back by rate limits or domain pauses"
        return text
