"""The database helpers every service shares: column lengths read from the models, the
dialect's upsert, and SQLite's held connection."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.db import (
    dialect_of,
    fit,
    make_sessionmaker,
    max_length,
    sqlite_connection_held,
    upsert_insert,
)
from digest.models import (
    AdminAction,
    BounceEvent,
    DeliveryCounter,
    DomainPause,
    EnablementRequest,
    JobRun,
    Meeting,
    OutboxMessage,
)


def test_lengths_come_from_the_models() -> None:
    assert max_length(Meeting.venue) == 400  # String(400)
    assert max_length(AdminAction.detail) == 4000  # Text with info={"max_length": 4000}
    assert max_length(JobRun.summary) == 4000
    # The bounds the delivery engine and bounce recording cut to.
    assert max_length(OutboxMessage.last_error) == 2000
    assert max_length(BounceEvent.diagnostic) == 2000
    assert max_length(DomainPause.reason) == 500
    assert max_length(EnablementRequest.decision_note) == 2000
    assert fit(Meeting.venue, "x" * 401) == "x" * 400
    assert fit(Meeting.venue, "short") == "short"
    assert fit(AdminAction.detail, "é" * 5000) == "é" * 4000


def test_a_fitted_value_is_stored_on_both_databases(engine: Engine) -> None:
    # PostgreSQL refuses a value longer than its column; fit() makes any text storable.
    table = cast(sa.Table, AdminAction.__table__)
    with engine.begin() as conn:
        conn.execute(
            table.insert().values(
                actor=fit(AdminAction.actor, "a" * 1000),
                action=fit(AdminAction.action, "b" * 1000),
                target=fit(AdminAction.target, "c" * 1000),
                detail=fit(AdminAction.detail, "d" * 10_000),
                occurred_at=sa.func.current_timestamp(),
            )
        )
        row = conn.execute(sa.select(table)).one()
    assert (len(row.actor), len(row.action), len(row.target), len(row.detail)) == (
        320,
        80,
        200,
        4000,
    )


def test_upsert_insert_counts_on_both_databases(engine: Engine) -> None:
    table = cast(sa.Table, DeliveryCounter.__table__)
    stmt = upsert_insert(dialect_of(engine), table).values(name="n", value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.name], set_={"value": table.c.value + 1}
    ).returning(table.c.value)
    with engine.begin() as conn:
        values = [conn.execute(stmt).scalar_one() for _ in range(3)]
        ignored = upsert_insert(dialect_of(engine), table).values(name="n", value=0)
        conn.execute(ignored.on_conflict_do_nothing(index_elements=[table.c.name]))
        assert conn.execute(sa.select(table.c.value)).scalar_one() == 3
    assert values == [1, 2, 3]


def test_sqlite_connection_held_for_a_run(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    pool = engine.pool
    assert pool.checkedout() == 0
    with sqlite_connection_held(sessions):
        held = 1 if engine.dialect.name == "sqlite" else 0
        assert pool.checkedout() == held
        with sessions.begin() as session:
            session.execute(sa.text("SELECT 1"))
        assert pool.checkedout() == held
    assert pool.checkedout() == 0
