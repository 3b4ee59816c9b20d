"""`digest worker` shuts down cleanly on SIGTERM, `digest send` reports what it did, and
the delivery counters the dashboard and metrics read."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest import stats as site_stats
from digest.bounces import record
from digest.mail import claims, outbox, stats
from digest.models import BounceKind, OutboxMessage, OutboxStatus
from digest.runtime import Runtime
from tests.integration.helpers import queue_notice
from tests.support.clock import Clock
from tests.support.smtp import SmtpSink
from tests.support.workers import Worker, wait_until, write_config


def enqueue(rt: Runtime, *recipients: str) -> None:
    for recipient in recipients:
        queue_notice(rt, recipient, "n")


def test_sigterm_finishes_the_message_in_hand_and_hands_back_the_rest(
    rt: Runtime, engine: Engine, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # Queued "now" by the test clock, which is in the past for the worker's real clock.
    enqueue(rt, *(f"p{i}@example.net" for i in range(5)))
    smtp_sink.data_delay = lambda rcpts: 1.5 if rcpts == ["p0@example.net"] else 0.0
    config = write_config(tmp_path / "config.toml", engine, smtp_port=smtp_sink.port)
    worker = Worker(config, tmp_path, "worker")
    assert wait_until(lambda: smtp_sink.rcpt_attempts == ["p0@example.net"], timeout=30), (
        worker.output()
    )
    worker.process.send_signal(signal.SIGTERM)  # while the server sits on DATA
    assert worker.terminate() == 0, worker.output()
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["p0@example.net"]]
    assert "received SIGTERM" in worker.output()
    assert "Worker stopped: 1 sent, 0 to retry, 0 failed, 0 suppressed." in worker.output()
    with rt.read_sessions() as session:
        rows = {m.recipient: m for m in session.scalars(sa.select(OutboxMessage))}
    assert rows["p0@example.net"].status == OutboxStatus.SENT
    for i in range(1, 5):
        row = rows[f"p{i}@example.net"]
        assert (row.status, row.attempts, row.lease_until) == (OutboxStatus.PENDING, 0, None)


def test_delivery_counters(rt: Runtime, clock: Clock) -> None:
    enqueue(rt, "a@example.net", "b@example.net", "c@example.net", "d@example.net")
    with rt.sessions.begin() as session:
        rows = list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
        week_ago = clock.now - timedelta(days=7)
        outbox.mark_sent(session, rows[0].id, week_ago)
        outbox.mark_sent(session, rows[1].id, clock.now)
        rows[2].last_attempt_at = clock.now
        outbox.mark_failed(session, rows[2].id, clock.now, "550 5.1.1 unknown")
        record.record(
            session,
            rt.config.site.secret_key,
            email="c@example.net",
            kind=BounceKind.HARD,
            now=clock.now,
            status="5.1.1",
        )
        record.record(
            session,
            rt.config.site.secret_key,
            email="b@example.net",
            kind=BounceKind.COMPLAINT,
            now=clock.now,
            status="abuse",
        )
    with rt.read_sessions() as session:
        counts = stats.counts(session, now=clock.now, since=clock.now - timedelta(days=1))
        weeks = site_stats.delivery_weeks(session, now=clock.now, tz=rt.site.tz, weeks=3)
    assert counts.queue[OutboxStatus.SENT] == 2 and counts.queue[OutboxStatus.PENDING] == 1
    assert (counts.sent, counts.failed, counts.due) == (1, 1, 1)
    assert counts.oldest_due_at == clock.now
    assert counts.bounces[BounceKind.HARD] == 1 and counts.bounces[BounceKind.COMPLAINT] == 1
    assert [(w.week, w.sent, w.failed, w.bounces, w.complaints) for w in weeks] == [
        ("2026-W45", 0, 0, 0, 0),
        ("2026-W46", 1, 0, 0, 0),
        ("2026-W47", 1, 1, 1, 1),
    ]


def test_due_is_what_a_worker_may_claim(rt: Runtime, clock: Clock) -> None:
    """One definition of "due", read by `claim`, `digest send`'s count and the counters:
    a message another worker is sending under a live lease is not due."""
    enqueue(rt, "due@example.net", "later@example.net", "taken@example.net", "lapsed@example.net")
    lease = timedelta(minutes=5)
    with rt.sessions.begin() as session:
        rows = {m.recipient: m for m in session.scalars(sa.select(OutboxMessage))}
        rows["later@example.net"].next_attempt_at = clock.now + timedelta(hours=1)
        for address, worker in (("taken@example.net", "live"), ("lapsed@example.net", "dead")):
            rows[address].status = OutboxStatus.SENDING
            rows[address].worker = worker
            rows[address].lease_until = clock.now + (lease if worker == "live" else -lease)
    with rt.read_sessions() as session:
        due, oldest = claims.count_due(session, clock.now)
        assert due == 2 and oldest is not None and oldest <= clock.now
        assert stats.counts(session, now=clock.now, since=clock.now).due == 2
    with rt.sessions.begin() as session:
        taken = claims.claim(session, now=clock.now, worker="me", limit=10, lease=lease)
        assert {session.get_one(OutboxMessage, i).recipient for i in taken} == {
            "due@example.net",
            "lapsed@example.net",
        }
