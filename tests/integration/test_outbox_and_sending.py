"""The outbox: idempotent, transactional, and delivered by `digest send` to either backend."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from digest.cli import main
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.models import OutboxMessage, OutboxStatus
from digest.runtime import Runtime
from tests.integration.helpers import (
    confirm_subscription,
    pending_subscription,
    queue_notice,
    write_config_file,
)
from tests.support.clock import Clock
from tests.support.mail import maildir_messages, subject
from tests.support.smtp import SmtpSink


def enqueue(rt: Runtime, reference: str, recipient: str = "a@example.net") -> OutboxMessage | None:
    row_id = queue_notice(rt, recipient, reference)
    with rt.read_sessions() as session:
        return session.get(OutboxMessage, row_id) if row_id is not None else None


def test_enqueue_twice_is_a_no_op_and_message_ids_are_deterministic(rt: Runtime) -> None:
    first = enqueue(rt, "r1")
    assert first is not None
    assert enqueue(rt, "r1") is None
    other = enqueue(rt, "r1", "b@example.net")
    assert other is not None
    assert first.message_id == outbox.make_message_id(
        "admin_notice", "r1", "a@example.net", "councildigest.example.org"
    )
    assert first.message_id != other.message_id
    assert first.message_id.endswith("@councildigest.example.org>")


def test_enqueue_many_skips_existing(rt: Runtime) -> None:
    enqueue(rt, "x", "p1@example.net")
    rows = [
        {
            "purpose": "admin_notice",
            "reference": "x",
            "recipient": f"p{i}@example.net",
            "subject": "S",
            "body_text": "B",
        }
        for i in range(1, 6)
    ]
    with rt.sessions.begin() as session:
        assert outbox.enqueue_many(session, rows, now=rt.now(), domain="d.example") == 4
    with rt.sessions.begin() as session:
        assert outbox.enqueue_many(session, rows, now=rt.now(), domain="d.example") == 0


def test_rolled_back_change_queues_nothing(rt: Runtime) -> None:
    with rt.sessions() as session:
        outbox.enqueue(
            session,
            purpose=MessagePurpose.ADMIN_NOTICE,
            reference="gone",
            recipient="a@example.net",
            now=rt.now(),
            domain="d.example",
            subject="S",
        )
        session.rollback()
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_digest_send_to_maildir(tmp_path: Path, engine: Engine, rt: Runtime) -> None:
    subscription_id = pending_subscription(rt, "inbox@example.net", "wigan")
    maildir = tmp_path / "box"
    config = write_config_file(tmp_path, engine, rt, f'maildir_path = "{maildir}"')
    first = CliRunner().invoke(main, ["--config", str(config), "send"])
    assert first.exit_code == 0, first.output
    assert "1 sent" in first.output
    confirm_subscription(rt, subscription_id)
    result = CliRunner().invoke(main, ["--config", str(config), "send"])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert [subject(m) for m in maildir_messages(maildir)] == [
        "Confirm your subscription to Wigan Metropolitan Borough Council updates",
        "You're on the waitlist for Wigan Metropolitan Borough Council",
    ]
    again = CliRunner().invoke(main, ["--config", str(config), "send"])
    assert "0 sent" in again.output
    assert len(maildir_messages(maildir)) == 2


def test_digest_send_limit_and_smtp(
    tmp_path: Path, engine: Engine, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    for i in range(3):
        enqueue(rt, f"n{i}", f"p{i}@example.net")
    config = write_config_file(
        tmp_path,
        engine,
        rt,
        f'backend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_sink.port}',
    )
    result = CliRunner().invoke(main, ["--config", str(config), "send", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "2 sent" in result.output and "1 still pending" in result.output
    assert len(smtp_sink.messages) == 2
    assert len({m.peer for m in smtp_sink.messages}) == 1  # one connection reused


def test_temporary_and_permanent_smtp_failures(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.rcpt_reply = lambda addr: {
        "later@example.net": "451 4.3.0 try again later",
        "nobody@example.net": "550 5.1.1 no such user",
    }.get(addr)
    for who in ("later", "nobody", "fine"):
        enqueue(smtp_rt, who, f"{who}@example.net")
    backend = smtp_rt.mail_backend()
    report = smtp_rt.deliverer(backend).run_until_empty()
    backend.close()
    assert (report.sent, report.retried, report.failed) == (1, 1, 1)
    with smtp_rt.read_sessions() as session:
        rows = {m.recipient: m for m in session.scalars(sa.select(OutboxMessage))}
    assert rows["fine@example.net"].status == OutboxStatus.SENT
    assert rows["nobody@example.net"].status == OutboxStatus.FAILED
    assert "550" in (rows["nobody@example.net"].last_error or "")
    later = rows["later@example.net"]
    assert later.status == OutboxStatus.PENDING and later.next_attempt_at > clock.now
    smtp_sink.rcpt_reply = None
    clock.set(later.next_attempt_at)
    backend = smtp_rt.mail_backend()
    assert smtp_rt.deliverer(backend).run_until_empty().sent == 1
    backend.close()
    assert {m.rcpt_tos[0] for m in smtp_sink.messages} == {"fine@example.net", "later@example.net"}


def test_unreachable_relay_loses_nothing(smtp_rt: Runtime, smtp_sink: SmtpSink) -> None:
    from digest.mail.backends import SmtpBackend

    enqueue(smtp_rt, "lost?", "keep@example.net")
    dead = SmtpBackend(
        smtp_rt.config.mail.__class__(
            **{**smtp_rt.config.mail.__dict__, "smtp_port": 1, "smtp_timeout": 1.0}
        )
    )
    report = smtp_rt.deliverer(dead).run_until_empty()
    assert (report.sent, report.retried) == (0, 1)
    with smtp_rt.read_sessions() as session:
        row = session.scalars(sa.select(OutboxMessage)).one()
    assert row.status == OutboxStatus.PENDING and "connection" in (row.last_error or "")


def test_bulk_queue_stores_what_sqlalchemy_would(rt: Runtime) -> None:
    """enqueue_many hands SQLite's driver the rows itself (digest.db.insert_many_ignoring):
    every column must be stored exactly as SQLAlchemy's own insert stores it, defaults
    included, byte for byte, so reading, claiming and comparing dates work alike."""
    table = OutboxMessage.__table__
    now = rt.now()
    row = {
        "purpose": "admin_notice",
        "reference": "same",
        "subject": "Subject ✓",
        "body_text": "Body",
        "payload": {"kind": "x", "n": [1, 2]},
        "council_id": None,
    }
    with rt.sessions.begin() as session:
        assert (
            outbox.enqueue_many(
                session, [{**row, "recipient": "bulk@example.net"}], now=now, domain="d.example"
            )
            == 1
        )
        prepared = outbox._prepared(
            {**row, "recipient": "core@example.net"}, now=now, domain="d.example"
        )
        session.execute(sa.insert(table), [prepared])
    with rt.engine.connect() as conn:
        stored = {
            r.recipient: r._asdict()
            for r in conn.exec_driver_sql("SELECT * FROM outbox_messages ORDER BY id")
        }
    bulk, core = stored["bulk@example.net"], stored["core@example.net"]
    different = {"id", "recipient", "message_id"}
    assert {k: v for k, v in bulk.items() if k not in different} == {
        k: v for k, v in core.items() if k not in different
    }
    assert bulk["held_by_breaker"] in (0, False) and bulk["next_attempt_at"] is not None
