"""Create or upgrade the database schema with the Alembic migrations in migrations/."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from digest.config import ROOT

MIGRATIONS_DIR = ROOT / "migrations"


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = engine.url.render_as_string(hide_password=False)
    return cfg


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the latest revision; returns whether anything changed."""
    if is_current(engine):
        return False
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Migrations that rebuild a table (SQLite's only way to change some things)
            # drop the old one, which with foreign keys on deletes its rows and cascades
            # to the children. The pragma only takes effect outside a transaction, so it
            # goes to the driver's connection before SQLAlchemy begins one.
            _pragma(conn, "PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken references: {broken[:5]}")
        finally:
            if sqlite:
                _pragma(conn, "PRAGMA foreign_keys=ON")
    return True


def _pragma(conn: Connection, statement: str) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def is_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


# Full-text search structures that differ by dialect and so live only in the migration
# (0011): SQLite's FTS5 table and its shadow tables, PostgreSQL's tsvector column and index.
_OUTSIDE_MODELS = ("search_fts", "search_vector", "ix_search_entries_vector")


def in_models(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic `include_object`: leave out what the models deliberately do not describe."""
    return not (name or "").startswith(_OUTSIDE_MODELS)
