"""Erasure leaves no personal data behind, and the export covers every table that
holds any. A new table referencing subscribers fails here until someone decides."""

from __future__ import annotations

import sqlalchemy as sa

from digest import subscriptions
from digest.db import Base
from digest.models import (
    BounceEvent,
    BounceKind,
    EnablementRequest,
    SignupIntake,
    Subscriber,
    Suppression,
)
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription


def tables_referencing_subscribers() -> set[str]:
    return {
        table.name
        for table in Base.metadata.sorted_tables
        if any(fk.column.table.name == "subscribers" for fk in table.foreign_keys)
    }


def test_every_table_holding_subscriber_data_is_erased() -> None:
    erased = {model.__tablename__ for model in subscriptions.ERASED_TABLES}
    assert tables_referencing_subscribers() == erased


def test_erase_removes_every_trace(rt: Runtime) -> None:
    email = "erase-me@example.net"
    active_subscription(rt, email, "wigan")
    active_subscription(rt, email, "leeds")
    with rt.sessions.begin() as session:
        subscriber = session.scalars(sa.select(Subscriber)).one()
        session.add(
            BounceEvent(
                email_hash="x",
                subscriber_id=subscriber.id,
                kind=BounceKind.SOFT,
                occurred_at=rt.now(),
            )
        )
        session.add(
            EnablementRequest(
                council_id=1,
                name="Ann",
                organisation="Org",
                email=email,
                reason="work",
                created_at=rt.now(),
            )
        )
        # A sign-up from the form that the delivery loop has not yet acted on.
        session.add(SignupIntake(council_id=2, email=email, received_at=rt.now()))
    with rt.sessions.begin() as session:
        export = subscriptions.export(session, subscriber.id)
        assert {s["council"] for s in export["subscriptions"]} == {"wigan", "leeds"}
        assert len(export["bounces"]) == 1 and len(export["enablement_requests"]) == 1
        subscriptions.erase(
            session, subscriber_id=subscriber.id, now=rt.now(), secret_key=rt.config.site.secret_key
        )
    with rt.read_sessions() as session:
        for table in tables_referencing_subscribers() | {"subscribers", "enablement_requests"}:
            assert (
                session.scalar(sa.select(sa.func.count()).select_from(Base.metadata.tables[table]))
                == 0
            ), table
        dump = " ".join(
            str(row)
            for table in Base.metadata.sorted_tables
            for row in session.execute(sa.select(table))
        )
        assert email not in dump
        assert session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 1


def test_resubscribing_after_erasure_needs_a_fresh_confirmation(rt: Runtime) -> None:
    email = "back-again@example.net"
    active_subscription(rt, email, "wigan")
    with rt.sessions.begin() as session:
        subscriber_id = session.scalars(sa.select(Subscriber.id)).one()
        subscriptions.erase(
            session, subscriber_id=subscriber_id, now=rt.now(), secret_key=rt.config.site.secret_key
        )
    active_subscription(rt, email, "wigan")  # subscribes and confirms anew
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0
