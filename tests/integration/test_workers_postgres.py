"""Several real `digest worker` processes sharing one PostgreSQL outbox, some of them
killed with SIGKILL mid-run: nothing lost, duplicates only for messages in flight at the
kill and with the same Message-ID, and no message ever claimed by two live workers."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.db import make_sessionmaker
from digest.mail import claims, outbox
from digest.models import OutboxMessage, OutboxStatus
from tests.support.clock import DEFAULT_NOW
from tests.support.smtp import SmtpSink
from tests.support.workers import Worker, wait_until, write_config

pytestmark = pytest.mark.postgres

CLAIM_LOG = """
CREATE TABLE test_claim_log (
    message_id integer, worker text, attempts integer, lease_until timestamptz,
    at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION test_log_claim() RETURNS trigger AS $$
BEGIN
    INSERT INTO test_claim_log (message_id, worker, attempts, lease_until)
    VALUES (NEW.id, NEW.worker, NEW.attempts, NEW.lease_until);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_claims AFTER UPDATE ON outbox_messages FOR EACH ROW
    WHEN (NEW.attempts > OLD.attempts) EXECUTE FUNCTION test_log_claim();
"""
DROP_CLAIM_LOG = """
DROP TRIGGER IF EXISTS test_claims ON outbox_messages;
DROP FUNCTION IF EXISTS test_log_claim();
DROP TABLE IF EXISTS test_claim_log;
"""


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    database = request.getfixturevalue("postgres_database")
    if database is None:
        pytest.skip("PostgreSQL is not available on 127.0.0.1:5432")
    engine: Engine = database.reset()
    with engine.begin() as conn:
        conn.exec_driver_sql(DROP_CLAIM_LOG)
        conn.exec_driver_sql(CLAIM_LOG)
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql(DROP_CLAIM_LOG)


def queue(engine: Engine, n: int) -> None:
    rows = [
        {
            "purpose": "admin_notice",
            "reference": "load",
            "recipient": f"person{i:05d}@example{i % 7}.net",
            "subject": f"Message {i}",
            "body_text": f"Hello number {i}.\n",
        }
        for i in range(n)
    ]
    with make_sessionmaker(engine).begin() as session:
        assert (
            outbox.enqueue_many(session, rows, now=DEFAULT_NOW, domain="councildigest.example.org")
            == n
        )


def statuses(engine: Engine) -> Counter[OutboxStatus]:
    with engine.connect() as conn:
        return Counter(
            {
                OutboxStatus(s): n
                for s, n in conn.execute(
                    sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
                )
            }
        )


@pytest.mark.slow
def test_four_workers_two_killed_deliver_everything_once(
    pg_engine: Engine, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    total = 10_000
    queue(pg_engine, total)
    config = write_config(
        tmp_path / "config.toml",
        pg_engine,
        smtp_port=smtp_sink.port,
        lease_seconds=4,
        smtp_timeout=1.0,
        batch_size=20,
        messages_per_connection=500,
    )
    workers = [Worker(config, tmp_path, f"w{n}") for n in range(4)]
    killed: list[Worker] = []
    try:
        assert wait_until(lambda: len(smtp_sink.messages) >= 2_500, timeout=90), (
            f"only {len(smtp_sink.messages)} delivered; " + workers[0].output()[-2000:]
        )
        for worker in workers[:2]:
            worker.kill()
            killed.append(worker)
        killed_ids = [w.worker_id for w in killed]
        with pg_engine.connect() as conn:
            in_flight = {
                recipient
                for (recipient,) in conn.execute(
                    sa.select(OutboxMessage.recipient).where(
                        OutboxMessage.status == OutboxStatus.SENDING,
                        OutboxMessage.worker.in_(killed_ids),
                    )
                )
            }
        assert in_flight, "the kill should leave claimed messages behind"
        assert len(in_flight) <= 2 * 20
        workers += [Worker(config, tmp_path, f"w{n}") for n in range(4, 6)]
        assert wait_until(
            lambda: statuses(pg_engine)[OutboxStatus.SENT] == total, timeout=150, interval=0.5
        ), f"not all sent: {statuses(pg_engine)}"
    finally:
        codes = [w.terminate() for w in workers if w not in killed]
    assert codes == [0, 0, 0, 0], [w.output()[-1500:] for w in workers]
    assert "Worker stopped" in workers[-1].output()

    # Every message arrived; duplicates only for messages in flight at the kill.
    received = Counter(m.rcpt_tos[0] for m in smtp_sink.messages)
    assert len(received) == total
    duplicates = {r for r, n in received.items() if n > 1}
    assert duplicates <= in_flight
    assert max(received.values()) <= 2
    message_ids: dict[str, set[str]] = defaultdict(set)
    for m in smtp_sink.messages:
        if m.rcpt_tos[0] in duplicates:
            message_ids[m.rcpt_tos[0]].add(str(m.message["Message-ID"]))
    assert all(len(ids) == 1 for ids in message_ids.values())

    # No message was claimed by two live workers: a second claimant only ever took over
    # from a killed worker, and only after that worker's lease had run out.
    with pg_engine.connect() as conn:
        claims = conn.exec_driver_sql(
            "SELECT message_id, worker, lease_until, at FROM test_claim_log ORDER BY message_id, at"
        ).all()
    by_message: dict[int, list[sa.Row[tuple[int, str, object, object]]]] = defaultdict(list)
    for claim in claims:
        by_message[claim.message_id].append(claim)
    assert len(by_message) == total
    taken_over = 0
    for history in by_message.values():
        for earlier, later in pairwise(history):
            assert earlier.worker in killed_ids, (earlier, later)
            assert later.at >= earlier.lease_until, (earlier, later)
            taken_over += 1
    assert taken_over >= len(in_flight)
    assert len({c.worker for c in claims}) == 6


def test_skip_locked_claims_are_disjoint(pg_engine: Engine) -> None:
    """Two open transactions claiming at once get different rows (SQLite would ignore
    FOR UPDATE SKIP LOCKED, which is why this runs on PostgreSQL only)."""
    from datetime import timedelta

    queue(pg_engine, 50)
    sessions = make_sessionmaker(pg_engine)
    with sessions.begin() as first, sessions.begin() as second:
        a = claims.claim(first, now=DEFAULT_NOW, worker="a", limit=30, lease=timedelta(minutes=5))
        b = claims.claim(second, now=DEFAULT_NOW, worker="b", limit=30, lease=timedelta(minutes=5))
    assert len(a) == 30 and len(b) == 20 and not set(a) & set(b)
