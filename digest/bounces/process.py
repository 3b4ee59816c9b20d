"""Apply returned messages to our records: which message and address a report is about,
and what it does to them (see `record`). Never commits.

VERP first: when the return path names one of our messages, that message's recipient is
the address, whatever the report says (our messages have one recipient each, and the
reporting MTA may have rewritten it through forwarding or aliases). Otherwise the
returned Message-ID, and failing that an address the report names that we have mailed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.bounces import record
from digest.bounces.classify import Verdict
from digest.bounces.parse import Failure, Report, parse
from digest.models import BounceKind, OutboxMessage, OutboxStatus

# A bounce may name only an address we have actually mailed; anything else is noise or
# an attempt to get a stranger suppressed.
_MAILED = (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.FAILED)
ORDER = (
    "hard",
    "soft",
    "about_us",
    "complaint",
    "not_bounce",
    "duplicate",
    "ignored",
    "unrecognised",
)


@dataclass
class BounceSummary:
    counts: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def add(self, outcome: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if detail:
            self.details.append(detail)

    def line(self) -> str:
        parts = [f"{self.counts[k]} {k}" for k in ORDER if self.counts[k]]
        total = sum(self.counts.values())
        return f"{total} processed: " + (", ".join(parts) if parts else "nothing to do")


def process_message(
    session: Session,
    raw: bytes,
    *,
    secret_key: str,
    now: datetime,
    summary: BounceSummary,
    rules: record.Rules = record.DEFAULT_RULES,
) -> None:
    report = parse(raw, secret_key)
    if report.forged and report.verp_id is None:
        summary.add("ignored", "a VERP address with a bad signature (forged or mangled)")
        return
    row = _our_message(session, report)
    apply = _Applier(session, report, row, secret_key, now, summary, rules)
    if report.kind == "complaint":
        verdict = report.complaint
        recipients = [row.recipient] if row is not None else list(report.complaint_recipients)
        if not recipients:
            summary.add("ignored", "complaint about a message we cannot identify")
        for address in recipients:
            apply(address, verdict, status=verdict.status, diagnostic=f"ARF {verdict.reason}")
        return
    if report.kind == "autoreply":
        if row is None:
            summary.add("ignored", "an auto-reply")
            return
        apply(
            row.recipient,
            Verdict(BounceKind.NOT_BOUNCE, "", "auto-reply without a failure"),
            status="",
            diagnostic="auto-reply",
        )
        return
    if report.kind == "unrecognised" or not report.failures:
        summary.add("unrecognised")
        return
    for failure in report.failures:
        _failure(apply, failure, row)


def _failure(apply: _Applier, failure: Failure, row: OutboxMessage | None) -> None:
    address = row.recipient if row is not None else failure.recipient
    apply(address, failure.verdict, status=failure.status, diagnostic=failure.diagnostic)


@dataclass
class _Applier:
    """Records one verdict about one address, tied to our message where we know it."""

    session: Session
    report: Report
    row: OutboxMessage | None
    secret_key: str
    now: datetime
    summary: BounceSummary
    rules: record.Rules

    def __call__(self, address: str, verdict: Verdict, *, status: str, diagnostic: str) -> None:
        row = self.row
        if row is None:
            if not address or not _mailed(self.session, address):
                self.summary.add("ignored", f"{address or 'no address'}: not an address we mailed")
                return
            row = _latest_to(self.session, address, self.report.date or self.now)
        outcome = record.record(
            self.session,
            self.secret_key,
            email=address,
            kind=verdict.kind,
            now=self.now,
            status=status or verdict.status,
            diagnostic=diagnostic,
            reason=verdict.reason,
            occurred_at=self.report.date,
            outbox_message_id=row.id if row is not None else None,
            subscriber_id=row.subscriber_id if row is not None else None,
            rules=self.rules,
        )
        if not outcome.recorded:
            self.summary.add("duplicate")
            return
        self.summary.add(verdict.kind.value, f"{address}: {verdict.kind.value} ({verdict.reason})")


def _our_message(session: Session, report: Report) -> OutboxMessage | None:
    if report.verp_id is not None:
        found = session.get(OutboxMessage, report.verp_id)
        if found is not None:
            return found
    if report.original_message_id:
        return session.scalar(
            sa.select(OutboxMessage)
            .where(OutboxMessage.message_id == report.original_message_id)
            .limit(1)
        )
    return None


def _mailed(session: Session, address: str) -> bool:
    return (
        session.scalar(
            sa.select(OutboxMessage.id)
            .where(OutboxMessage.recipient == address, OutboxMessage.status.in_(_MAILED))
            .limit(1)
        )
        is not None
    )


def _latest_to(session: Session, address: str, before: datetime) -> OutboxMessage | None:
    """The message a bounce naming only an address most likely reports on: the last one
    sent to it before the report was written (so that it counts in the run of failures)."""
    sent = sa.func.coalesce(OutboxMessage.sent_at, OutboxMessage.last_attempt_at)
    return session.scalar(
        sa.select(OutboxMessage)
        .where(OutboxMessage.recipient == address, OutboxMessage.status.in_(_MAILED))
        .where(sa.or_(sent.is_(None), sent <= before))
        .order_by(sent.desc().nulls_last(), OutboxMessage.id.desc())
        .limit(1)
    )
