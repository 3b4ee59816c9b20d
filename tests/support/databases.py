"""Test databases: a migrated SQLite template copied per test, and a throwaway
PostgreSQL database per test session, emptied and re-seeded before each test.

PostgreSQL tests skip when no server answers on 127.0.0.1:5432, unless
DIGEST_REQUIRE_POSTGRES=1 (CI), when they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest import councils, schema
from digest.db import Base, make_engine, make_sessionmaker
from tests.support.clock import DEFAULT_NOW

PG_ADMIN_URL = os.environ.get(
    "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def require_postgres() -> bool:
    return os.environ.get("DIGEST_REQUIRE_POSTGRES") == "1"


def _seed(engine: Engine) -> None:
    with make_sessionmaker(engine).begin() as session:
        councils.import_bundled(session, DEFAULT_NOW)


def build_sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    _seed(engine)
    # The last connection to close checkpoints the WAL into the main file.
    engine.dispose()
    assert not Path(f"{path}-wal").exists()
    return path


def sqlite_engine(template: Path, directory: Path) -> Engine:
    path = directory / "digest.sqlite3"
    shutil.copyfile(template, path)
    return make_engine(f"sqlite:///{path}")


class PostgresDatabase:
    """One database for the whole test session, named so parallel runs never collide."""

    def __init__(self) -> None:
        self.name = f"digest_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.url = sa.engine.make_url(PG_ADMIN_URL).set(database=self.name)
        self.engine: Engine | None = None
        self._seed_rows: list[dict[str, Any]] = []

    def create(self) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        self.engine = make_engine(self.url.render_as_string(hide_password=False))
        schema.upgrade(self.engine)
        _seed(self.engine)
        with self.engine.connect() as conn:
            self._seed_rows = [
                dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM councils"))
            ]

    def reset(self) -> Engine:
        """Empty every table and put the bundled councils back, as after `digest init`."""
        assert self.engine is not None
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            conn.execute(Base.metadata.tables["councils"].insert(), self._seed_rows)
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('councils', 'id'), "
                "(SELECT max(id) FROM councils))"
            )
        return self.engine

    def drop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def postgres_session_database() -> Iterator[PostgresDatabase | None]:
    if not postgres_available():
        if require_postgres():
            pytest.fail(
                f"DIGEST_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {PG_ADMIN_URL}"
            )
        yield None
        return
    database = PostgresDatabase()
    database.create()
    try:
        yield database
    finally:
        database.drop()
