"""`digest bounces`: real-format Postfix DSNs and an ARF report, read from single files,
an mbox and a Maildir, applied to our records."""

from __future__ import annotations

import mailbox
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from digest import suppressions
from digest.bounces.process import BounceSummary, process_message
from digest.cli import main
from digest.mail import verp
from digest.models import (
    BounceEvent,
    BounceKind,
    OutboxMessage,
    OutboxStatus,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
)
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription, queue_notice, write_config_file
from tests.support.clock import Clock

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bounces"
BOUNCE_DOMAIN = "bounces.councildigest.example.org"
# The VERP address each fixture carries (outbox row 1..5 under the tests' secret key).
FIXTURE_VERP = {
    1: "bounces+1-edc9bc65a6429210eba1",
    2: "bounces+2-603be02c2505c3c9a9a2",
    3: "bounces+3-8ba043d5676d490feb12",
    4: "bounces+4-953a106a3c8d4441da22",
    5: "bounces+5-e9b63c7b689654534bee",
}


def sent_message(
    rt: Runtime, recipient: str, reference: str, subscriber_id: int | None = None
) -> OutboxMessage:
    row_id = queue_notice(
        rt, recipient, reference, subject="Your weekly council digest", subscriber_id=subscriber_id
    )
    assert row_id is not None
    with rt.sessions.begin() as session:
        row = session.get_one(OutboxMessage, row_id)
        row.status = OutboxStatus.SENT
        row.sent_at = rt.now()
        session.flush()
        return row


def fixture(name: str, rt: Runtime, rows: dict[int, OutboxMessage] | None = None) -> bytes:
    """A fixture with its VERP tokens re-pointed at this test's outbox rows."""
    raw = (FIXTURES / name).read_bytes()
    rows = rows or {}
    # Two passes, so a new token that equals another fixture token is not replaced again.
    for number in rows:
        raw = raw.replace(FIXTURE_VERP[number].encode(), f"@@VERP{number}@@".encode())
    for number, row in rows.items():
        ours = verp.address(rt.config.site.secret_key, row.id, BOUNCE_DOMAIN).split("@")[0]
        raw = raw.replace(f"@@VERP{number}@@".encode(), ours.encode())
    return raw


def is_suppressed(rt: Runtime, address: str) -> SuppressionReason | None:
    with rt.read_sessions() as session:
        row = suppressions.find(session, rt.config.site.secret_key, address)
        return row.reason if row else None


def events(rt: Runtime) -> list[tuple[BounceKind, str]]:
    with rt.read_sessions() as session:
        return [
            (e.kind, e.status_code)
            for e in session.scalars(sa.select(BounceEvent).order_by(BounceEvent.id))
        ]


def test_digest_bounces_reads_files_mbox_and_maildir(
    tmp_path: Path, engine: Engine, rt: Runtime
) -> None:
    complainer_subscription = active_subscription(rt, "complainer@example-isp.net", "wigan")
    active_subscription(rt, "complainer@example-isp.net", "bolton")
    with rt.read_sessions() as session:
        complainer = session.get_one(Subscription, complainer_subscription).subscriber_id
    rows = {
        1: sent_message(rt, "nosuchuser@example.net", "r1"),
        2: sent_message(rt, "fullbox@example.net", "r2"),
        3: sent_message(rt, "strict@example.net", "r3"),
        4: sent_message(rt, "fullbox@example.net", "r4"),
        5: sent_message(rt, "complainer@example-isp.net", "r5", complainer),
    }
    sent_message(rt, "olduser@oldhost.example", "r6")

    maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for name in ("postfix_hard_5.1.1.eml", "postfix_policy_5.7.1.eml", "autoreply.eml"):
        maildir.add(fixture(name, rt, rows))
    mbox = mailbox.mbox(str(tmp_path / "bounces.mbox"), create=True)
    for name in ("postfix_delayed_4.2.2.eml", "postfix_full_5.2.2.eml", "forged_token.eml"):
        mbox.add(fixture(name, rt, rows))
    mbox.close()
    arf = tmp_path / "complaint.eml"
    arf.write_bytes(fixture("arf_abuse.eml", rt, rows))
    config = write_config_file(tmp_path, engine, rt, "")

    paths = [str(tmp_path / "Maildir"), str(tmp_path / "bounces.mbox"), str(arf)]
    paths.append(str(FIXTURES / "qmail_no_dsn.eml"))
    result = CliRunner().invoke(main, ["--config", str(config), "bounces", "-v", *paths])
    assert result.exit_code == 0, result.output
    assert (
        "Bounces: 8 processed: 2 hard, 2 soft, 1 about_us, 1 complaint, 2 ignored." in result.output
    )

    assert is_suppressed(rt, "nosuchuser@example.net") == SuppressionReason.HARD_BOUNCE
    assert is_suppressed(rt, "olduser@oldhost.example") == SuppressionReason.HARD_BOUNCE
    assert is_suppressed(rt, "strict@example.net") is None  # 5.7.1 is about us
    assert is_suppressed(rt, "fullbox@example.net") is None  # two soft bounces so far
    assert is_suppressed(rt, "victim@example.net") is None  # forged token ignored
    assert is_suppressed(rt, "complainer@example-isp.net") == SuppressionReason.COMPLAINT
    with rt.read_sessions() as session:
        statuses = set(
            session.scalars(
                sa.select(Subscription.status).where(Subscription.subscriber_id == complainer)
            )
        )
    assert statuses == {SubscriptionStatus.UNSUBSCRIBED}
    assert sorted(events(rt)) == sorted(
        [
            (BounceKind.HARD, "5.1.1"),
            (BounceKind.ABOUT_US, "5.7.1"),
            (BounceKind.SOFT, "4.2.2"),
            (BounceKind.SOFT, "5.2.2"),
            (BounceKind.COMPLAINT, "abuse"),
            (BounceKind.HARD, "5.1.1"),
        ]
    )

    # Reading the same mailboxes again changes nothing.
    again = CliRunner().invoke(main, ["--config", str(config), "bounces", *paths])
    assert "6 duplicate" in again.output and len(events(rt)) == 6

    # A missing path is reported and fails the command.
    missing = CliRunner().invoke(main, ["--config", str(config), "bounces", "/nonexistent"])
    assert missing.exit_code == 1 and "cannot read /nonexistent" in missing.output


def test_complaint_stops_mail_already_queued(rt: Runtime, clock: Clock) -> None:
    subscription_id = active_subscription(rt, "complainer@example-isp.net", "wigan")
    with rt.read_sessions() as session:
        subscriber = session.get_one(Subscription, subscription_id).subscriber_id
    row = sent_message(rt, "complainer@example-isp.net", "r5", subscriber)
    summary = BounceSummary()
    with rt.sessions.begin() as session:
        process_message(
            session,
            fixture("arf_abuse.eml", rt, {5: row}),
            secret_key=rt.config.site.secret_key,
            now=clock.now,
            summary=summary,
        )
    assert summary.counts["complaint"] == 1
    # The confirmation and welcome mails were still queued: neither goes out now.
    backend = rt.mail_backend()
    report = rt.deliverer(backend).run_until_empty()
    backend.close()
    assert (report.sent, report.suppressed) == (0, 2)


def dsn_on(rt: Runtime, row: OutboxMessage, when: datetime) -> bytes:
    raw = fixture("postfix_full_5.2.2.eml", rt, {4: row})
    return raw.replace(
        b"Date: Fri, 20 Nov 2026 09:00:02 +0000 (UTC)",
        f"Date: {format_datetime(when)}".encode(),
    )


def test_soft_bounces_suppress_after_three_failures_in_a_row_at_any_span(
    rt: Runtime, clock: Clock
) -> None:
    secret = rt.config.site.secret_key

    def bounce(address: str, reference: str, days: int) -> None:
        clock.now += timedelta(days=days)
        row = sent_message(rt, address, reference)
        with rt.sessions.begin() as session:
            process_message(
                session,
                dsn_on(rt, row, clock.now + timedelta(hours=1)),
                secret_key=secret,
                now=clock.now + timedelta(hours=1),
                summary=BounceSummary(),
            )

    # Three failures in a row suppress, however far apart (a window of days never
    # filled at a weekly cadence).
    for n, days in enumerate((0, 9, 20)):
        bounce("spread@example.net", f"s{n}", days)
    assert is_suppressed(rt, "spread@example.net") == SuppressionReason.SOFT_BOUNCE
    # A delivery that did not fail between them starts the count again.
    bounce("close@example.net", "c0", 1)
    bounce("close@example.net", "c1", 1)
    clock.now += timedelta(days=1)
    sent_message(rt, "close@example.net", "c-delivered")
    bounce("close@example.net", "c2", 1)
    assert is_suppressed(rt, "close@example.net") is None
    bounce("close@example.net", "c3", 1)
    assert is_suppressed(rt, "close@example.net") is None
    bounce("close@example.net", "c4", 1)
    assert is_suppressed(rt, "close@example.net") == SuppressionReason.SOFT_BOUNCE


def test_dsn_without_verp_needs_a_message_we_sent(rt: Runtime, clock: Clock) -> None:
    raw = (FIXTURES / "postfix_hard_no_verp.eml").read_bytes()
    summary = BounceSummary()
    with rt.sessions.begin() as session:
        process_message(
            session, raw, secret_key=rt.config.site.secret_key, now=clock.now, summary=summary
        )
    assert summary.counts == {"ignored": 1}  # never mailed: nobody is suppressed
    assert is_suppressed(rt, "gone@example.net") is None

    row = sent_message(rt, "gone@example.net", "welcome")
    raw = raw.replace(b"<welcome.5e6f7a8b@councildigest.example.org>", row.message_id.encode())
    with rt.sessions.begin() as session:
        process_message(
            session, raw, secret_key=rt.config.site.secret_key, now=clock.now, summary=summary
        )
    assert summary.counts["hard"] == 1
    assert is_suppressed(rt, "gone@example.net") == SuppressionReason.HARD_BOUNCE
    with rt.read_sessions() as session:
        event = session.scalars(sa.select(BounceEvent)).one()
    assert event.outbox_message_id == row.id  # matched by the returned Message-ID
