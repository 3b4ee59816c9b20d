"""Sign-ups taken in by several real `digest worker` processes on PostgreSQL, one killed
with SIGKILL while sign-ups are waiting: every sign-up becomes exactly one pending
subscription and one confirmation email, and none is taken by two workers at once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.models import Council, OutboxMessage, OutboxStatus, SignupIntake, Subscription
from digest.runtime import Runtime
from digest.subscriptions import signup
from tests.conftest import make_config
from tests.integration.helpers import ORIGIN
from tests.support.clock import DEFAULT_NOW
from tests.support.smtp import SmtpSink
from tests.support.workers import Worker, wait_until, write_config

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest) -> Engine:
    database = request.getfixturevalue("postgres_database")
    if database is None:
        pytest.skip("PostgreSQL is not available on 127.0.0.1:5432")
    engine: Engine = database.reset()
    return engine


def accept_many(rt: Runtime, n: int) -> list[str]:
    addresses = [f"signup{i:05d}@example{i % 5}.net" for i in range(n)]
    with rt.sessions.begin() as session:
        council_id = session.scalar(sa.select(Council.id).where(Council.slug == "wigan"))
        assert council_id is not None
        for address in addresses:
            signup.accept(
                session, council_id=council_id, address=address, now=DEFAULT_NOW, origin=ORIGIN
            )
    return addresses


def count(engine: Engine, model: type, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def test_concurrent_take_ins_get_different_signups(pg_engine: Engine, tmp_path: Path) -> None:
    rt = Runtime.from_config(make_config(tmp_path, pg_engine), engine=pg_engine)
    accept_many(rt, 50)
    with rt.sessions.begin() as first, rt.sessions.begin() as second:
        a = signup.take_in(first, rt.mail, now=DEFAULT_NOW, limit=30)
        b = signup.take_in(second, rt.mail, now=DEFAULT_NOW, limit=30)
    assert (a.taken, b.taken, a.failed + b.failed) == (30, 20, 0)
    assert count(pg_engine, SignupIntake) == 0
    assert count(pg_engine, Subscription) == count(pg_engine, OutboxMessage) == 50


@pytest.mark.slow
def test_a_killed_worker_loses_no_signup_and_doubles_none(
    pg_engine: Engine, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    rt = Runtime.from_config(make_config(tmp_path, pg_engine), engine=pg_engine)
    total = 2_000
    addresses = accept_many(rt, total)
    config = write_config(tmp_path / "config.toml", pg_engine, smtp_port=smtp_sink.port)
    workers = [Worker(config, tmp_path, f"w{n}") for n in range(2)]
    try:
        assert wait_until(lambda: count(pg_engine, Subscription) >= 300, timeout=60), workers[
            0
        ].output()[-2000:]
        workers[0].kill()
        assert count(pg_engine, SignupIntake) > 0, "the kill should leave sign-ups waiting"
        workers.append(Worker(config, tmp_path, "w2"))
        assert wait_until(
            lambda: (
                count(pg_engine, OutboxMessage, OutboxMessage.status == OutboxStatus.SENT) == total
            ),
            timeout=120,
            interval=0.5,
        ), workers[-1].output()[-2000:]
    finally:
        codes = [w.terminate() for w in workers[1:]]
    assert codes == [0, 0]

    assert count(pg_engine, SignupIntake) == 0
    with pg_engine.connect() as conn:
        per_address = Counter(
            conn.scalars(
                sa.select(OutboxMessage.recipient).where(
                    OutboxMessage.purpose == "confirm_subscription"
                )
            )
        )
    assert per_address == Counter(addresses)  # exactly one confirmation each
    assert count(pg_engine, Subscription) == total
    received = Counter(m.rcpt_tos[0] for m in smtp_sink.messages)
    assert set(received) == set(addresses)
    assert max(received.values()) <= 2  # a second copy only for a send in flight at the kill
