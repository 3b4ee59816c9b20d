"""Real `digest worker` processes on PostgreSQL through database faults: backends
terminated by the server (pg_terminate_backend) and connections cut by a loopback TCP
proxy. The workers must outlive both, send again within seconds of the database's
return (not after their leases run out), and send nothing twice."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.db import make_sessionmaker
from digest.mail import outbox
from digest.models import OutboxMessage, OutboxStatus
from tests.support.clock import DEFAULT_NOW
from tests.support.smtp import SmtpSink
from tests.support.tcpproxy import TcpProxy
from tests.support.workers import Worker, wait_until, write_config

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest) -> Engine:
    database = request.getfixturevalue("postgres_database")
    if database is None:
        pytest.skip("PostgreSQL is not available on 127.0.0.1:5432")
    engine: Engine = database.reset()
    return engine


@pytest.fixture
def db_proxy(pg_engine: Engine) -> Iterator[TcpProxy]:
    url = pg_engine.url
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy
    proxy.close()


def queue(engine: Engine, n: int) -> None:
    rows = [
        {
            "purpose": "admin_notice",
            "reference": "faults",
            "recipient": f"person{i:05d}@example{i % 7}.net",
            "subject": f"Message {i}",
            "body_text": f"Hello number {i}.\n",
        }
        for i in range(n)
    ]
    with make_sessionmaker(engine).begin() as session:
        outbox.enqueue_many(session, rows, now=DEFAULT_NOW, domain="councildigest.example.org")


def sent(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.SENT)
            )
            or 0
        )


def terminate_backends(engine: Engine, seconds: float) -> None:
    """Kill every other connection to the test database, again and again, for a while
    (a database restart as the clients see it)."""
    end = time.monotonic() + seconds
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < end:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            time.sleep(0.05)


def delivered_after(sink: SmtpSink, count: int, timeout: float) -> float | None:
    start = time.monotonic()
    if wait_until(lambda: len(sink.messages) > count, timeout=timeout, interval=0.05):
        return time.monotonic() - start
    return None


def test_workers_outlive_database_outages_and_send_nothing_twice(
    pg_engine: Engine, db_proxy: TcpProxy, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    total = 600
    queue(pg_engine, total)
    smtp_sink.data_delay = lambda _rcpts: 0.02
    config = write_config(
        tmp_path / "config.toml",
        sa.create_engine(pg_engine.url.set(port=db_proxy.port)),
        smtp_port=smtp_sink.port,
        # Far longer than the test: resuming must not wait for leases to run out.
        lease_seconds=120,
        smtp_timeout=5.0,
        batch_size=20,
    )
    workers = [Worker(config, tmp_path, f"w{n}") for n in range(2)]
    try:
        assert wait_until(lambda: len(smtp_sink.messages) >= 60, timeout=30)

        # 1. The server terminates every backend for two seconds.
        terminate_backends(pg_engine, 2.0)
        assert all(w.process.poll() is None for w in workers), workers[0].output()[-3000:]
        resumed = delivered_after(smtp_sink, len(smtp_sink.messages), timeout=15)
        assert resumed is not None, workers[0].output()[-3000:]
        print(f"after terminated backends, sending again within {resumed:.1f} s")
        assert resumed < 10

        # 2. The network to the database is cut for three seconds.
        assert wait_until(lambda: len(smtp_sink.messages) >= 200, timeout=30)
        db_proxy.cut()
        time.sleep(3)
        assert all(w.process.poll() is None for w in workers), workers[0].output()[-3000:]
        db_proxy.restore()
        resumed = delivered_after(smtp_sink, len(smtp_sink.messages), timeout=15)
        assert resumed is not None, workers[0].output()[-3000:]
        print(f"after the cut, sending again within {resumed:.1f} s")
        assert resumed < 10

        assert wait_until(lambda: sent(pg_engine) == total, timeout=60, interval=0.2), (
            f"{sent(pg_engine)} of {total} recorded; " + workers[0].output()[-3000:]
        )
    finally:
        codes = [w.terminate() for w in workers]
    assert codes == [0, 0], [w.output()[-2000:] for w in workers]
    received = Counter(m.rcpt_tos[0] for m in smtp_sink.messages)
    assert len(received) == total
    assert max(received.values()) == 1, [r for r, n in received.items() if n > 1]
    for worker in workers:
        # Each outage logged once by each worker that noticed it, not once per try.
        assert worker.output().count("database is unavailable") <= 2, worker.output()[-3000:]


def failed(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.FAILED)
            )
            or 0
        )


def test_four_workers_trip_one_breaker_after_breaker_failures_sends(
    pg_engine: Engine, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """A relay refusing everything with 554 5.7.1: the breaker counts failures across the
    workers, so it costs about `breaker_failures` messages, not that many per worker."""
    queue(pg_engine, 400)
    smtp_sink.rcpt_reply = lambda _address: "554 5.7.1 relay access denied"
    config = write_config(
        tmp_path / "config.toml",
        pg_engine,
        smtp_port=smtp_sink.port,
        breaker_failures=25,
        batch_size=10,
    )
    workers = [Worker(config, tmp_path, f"b{n}") for n in range(4)]
    try:
        with pg_engine.connect() as conn:
            stopped = sa.text("SELECT count(*) FROM domain_pauses WHERE domain_group = '*'")
            assert wait_until(lambda: conn.execute(stopped).scalar() == 1, timeout=60), (
                f"{failed(pg_engine)} failed; " + workers[0].output()[-3000:]
            )
        time.sleep(1.0)  # let any send in flight at the trip finish
    finally:
        codes = [w.terminate() for w in workers]
    assert codes == [0, 0, 0, 0]
    lost = failed(pg_engine)
    print(f"breaker tripped after {lost} failed messages (breaker_failures 25, 4 workers)")
    # At most one message per other worker was already on its way when it tripped.
    assert 25 <= lost <= 25 + 3
