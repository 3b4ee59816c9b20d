"""Old links never reach a new person (issue 10): SQLite reused the ids of erased rows,
and manage/unsubscribe tokens carried only the id, so the next person to sign up was
controlled by the previous one's links."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import subscriptions
from digest.db import Base
from digest.models import Subscriber, Subscription, SubscriptionStatus
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription
from tests.support.web import csrf_token, text


def _links(rt: Runtime, subscription_id: int) -> tuple[str, str, int]:
    with rt.read_sessions() as session:
        subscription = session.get_one(Subscription, subscription_id)
        subscriber = session.get_one(Subscriber, subscription.subscriber_id)
        manage = rt.links.manage(subscriber.id, subscriber.link_secret)
        unsubscribe = rt.links.unsubscribe(subscription.id, subscriber.link_secret)
        return manage, unsubscribe, subscriber.id


def _path(url: str) -> str:
    return url.removeprefix("https://councildigest.example.org")


def test_links_of_an_erased_person_never_reach_the_next_one(
    client: FlaskClient, rt: Runtime
) -> None:
    first = active_subscription(rt, "first@example.net", "wigan")
    old_manage, old_unsubscribe, old_subscriber = _links(rt, first)
    assert client.get(_path(old_manage)).status_code == 200
    with rt.sessions.begin() as session:
        subscriptions.erase(
            session,
            subscriber_id=old_subscriber,
            now=rt.now(),
            secret_key=rt.config.site.secret_key,
        )
    second = active_subscription(rt, "second@example.net", "wigan")
    new_manage, _, new_subscriber = _links(rt, second)
    # Identifiers are never handed out again, on SQLite as on PostgreSQL.
    assert second != first and new_subscriber != old_subscriber

    page = client.get(_path(old_manage))
    assert page.status_code == 404 and "second@example.net" not in text(page)
    token = csrf_token(client, _path(new_manage))
    for action, data in [
        ("export", {}),
        ("add", {"council": "leeds"}),
        ("unsubscribe", {"subscription": "all"}),
        ("erase", {"confirm": "yes"}),
    ]:
        response = client.post(f"{_path(old_manage)}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 404, action
    # A genuine unsubscribe link of someone erased still answers "unsubscribed" (RFC 8058
    # one-click must succeed), but names and changes nothing of the new person's.
    for response in (
        client.get(_path(old_unsubscribe)),
        client.post(_path(old_unsubscribe), data={}),
    ):
        assert response.status_code in (200, 404)
        assert "Wigan" not in text(response)
    with rt.read_sessions() as session:
        rows = session.execute(sa.select(Subscription.council_id, Subscription.status)).all()
        assert len(rows) == 1 and rows[0].status == SubscriptionStatus.ACTIVE
    # The new person's own links work.
    assert "second@example.net" in text(client.get(_path(new_manage)))


def test_ids_are_not_reused_even_for_rows_deleted_from_the_top(rt: Runtime) -> None:
    """The mechanism itself, for every table: delete the highest row, insert again."""
    first = active_subscription(rt, "top@example.net", "wigan")
    with rt.sessions.begin() as session:
        subscriber_id = session.get_one(Subscription, first).subscriber_id
        session.execute(sa.delete(Subscription))
        session.execute(sa.delete(Subscriber))
    second = active_subscription(rt, "top@example.net", "wigan")
    with rt.read_sessions() as session:
        assert second > first
        assert session.get_one(Subscription, second).subscriber_id > subscriber_id


def test_every_table_with_a_generated_id_never_reuses_it() -> None:
    """SQLite reuses rowids after the highest row is deleted unless a table is declared
    AUTOINCREMENT; every table whose rows get a generated integer id must be."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement:
            assert table.dialect_options["sqlite"]["autoincrement"], table.name


def test_migration_keeps_data_and_the_links_already_sent(tmp_path: Path) -> None:
    """Upgrading a SQLite database from 0004 rebuilds its tables as AUTOINCREMENT without
    losing a row (foreign keys would otherwise cascade the rebuild into deletions), and
    links mailed before the upgrade (the id alone) keep working for those people only."""
    from alembic import command

    from digest import schema
    from digest.db import make_engine
    from digest.tokens import Purpose

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    cfg = schema.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004_signup_intake")
    # A council with whatever columns revision 0004 requires, then two subscribers.
    required = [
        c
        for c in sa.inspect(engine).get_columns("councils")
        if not c["nullable"] and c["name"] != "id"
    ]
    values = {
        c["name"]: "2026-01-01 00:00:00"
        if isinstance(c["type"], sa.DateTime)
        else 0
        if isinstance(c["type"], (sa.Integer, sa.Boolean))
        else "x"
        for c in required
    }
    with engine.begin() as conn:
        conn.execute(
            sa.table("councils", *(sa.column(n) for n in ["id", *values]))
            .insert()
            .values(id=1, **{n: sa.bindparam(n) for n in values}),
            values,
        )
        for i in (1, 2):
            conn.execute(
                sa.text(
                    "INSERT INTO subscribers (id, email, created_at) "
                    "VALUES (:i, :email, '2026-01-01 00:00:00')"
                ),
                {"i": i, "email": f"old{i}@example.net"},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO subscriptions (id, subscriber_id, council_id, kind, status, "
                    "created_at, requested_at) VALUES (:i, :i, 1, 'resident', 'active', "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"i": i},
            )
    assert schema.upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM subscriptions").scalar() == 2
        assert conn.exec_driver_sql("SELECT count(*) FROM subscribers").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
        ).fetchall()
    built = {name: sql for name, sql in rows}
    for table in Base.metadata.sorted_tables:
        if table.dialect_options["sqlite"]["autoincrement"]:
            assert "AUTOINCREMENT" in built[table.name], table.name
    from digest.db import make_sessionmaker
    from digest.tokens import Tokens

    tokens = Tokens("k" * 40)
    with make_sessionmaker(engine)() as session:
        old = subscriptions.read_manage_link(session, tokens, tokens.make(Purpose.MANAGE, 2))
        assert old.email == "old2@example.net" and old.link_secret == ""
        found = subscriptions.read_unsubscribe_link(
            session, tokens, tokens.make(Purpose.UNSUBSCRIBE, 1)
        )
        assert found is not None and found.id == 1
    engine.dispose()
