"""Database plumbing: declarative base, UTC-safe column types, engines and sessions.

Services receive a Session and never commit; whoever opened the session owns the transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and gives them back aware.

    SQLite keeps no time zone, so a naive value read back would silently compare wrong
    against aware ones; refusing naive input on write keeps every timestamp honest.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        enum.Enum: sa.Enum(
            enum.Enum,
            native_enum=False,
            length=32,
            validate_strings=True,
            values_callable=lambda e: [m.value for m in e],
        ),
        dict[str, Any]: sa.JSON(),
        list[str]: sa.JSON(),
        list[int]: sa.JSON(),
    }


def never_reuse_ids(metadata: sa.MetaData) -> None:
    """Declare every table with a generated integer id AUTOINCREMENT on SQLite.

    Without it SQLite hands out the id of the highest row again after that row is
    deleted, so a link naming an erased subscriber (or subscription, request, message)
    would name whoever signed up next. PostgreSQL's sequences never go back. Done here
    for all tables at once, so a new table cannot forget it; migration 0005 rebuilt the
    existing SQLite tables this way, and a test checks the migrated database.
    """
    for table in metadata.tables.values():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement:
            table.dialect_kwargs["sqlite_autoincrement"] = True


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with SQLite made fit for a web process and a scheduler writing at once."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # The pool hands each connection to one thread at a time, so sqlite3's own
        # same-thread check is redundant; reusing connections avoids a WAL checkpoint on
        # every close.
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_on_begin) so transactions are real.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_BEGIN = {mode: f"BEGIN {mode}" for mode in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE")}


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front: two writers queue on busy_timeout instead of
    # one failing with SQLITE_BUSY when it upgrades a read snapshot that another writer
    # has moved past. Read-only sessions (GET requests) begin DEFERRED so reads stay parallel.
    # Sessions for a single statement begin nothing: the statement is its own transaction
    # and holds the write lock only while it runs.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode is not None:
        # Straight to the driver: SQLAlchemy's execution path costs more than the BEGIN
        # itself, and the delivery loop begins a transaction for every message.
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection beginning a transaction has one
        driver.execute(_BEGIN[mode])


def make_sessionmaker(
    engine: Engine, *, readonly: bool = False, single_statement: bool = False
) -> sessionmaker[Session]:
    """Sessions for `engine`. `readonly` ones must not write (SQLite begins them DEFERRED);
    `single_statement` ones must run one statement only, which SQLite commits by itself
    (elsewhere they are ordinary transactions)."""
    begin = "DEFERRED" if readonly else None if single_statement else "IMMEDIATE"
    return sessionmaker(engine.execution_options(sqlite_begin=begin), expire_on_commit=False)


@contextmanager
def sqlite_connection_held(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Hold one idle connection to a SQLite database for a run of many transactions.

    SQLite checkpoints the WAL whenever the last connection to the database closes, and a
    run whose transactions each open and close their own connection (one per council, in
    several threads) would checkpoint after every one; an idle connection held for the
    run turns hundreds of checkpoints into one. Does nothing on other databases.
    """
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        yield
        return
    with bind.connect():
        yield


def upsert_insert(dialect: str, table: sa.Table) -> Any:
    """An INSERT into `table` in the dialect's own form, which has
    `on_conflict_do_nothing` and `on_conflict_do_update` (same arguments on PostgreSQL
    and SQLite). `dialect` is the bind's dialect name (see `dialect_of`)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table)


def insert_many_ignoring(
    session: Session, table: sa.Table, rows: list[dict[str, Any]], conflict: Sequence[str]
) -> int:
    """INSERT ... ON CONFLICT (`conflict`) DO NOTHING for `rows` (all with the same keys);
    returns how many were added.

    On SQLite the rows go to the driver's executemany as they are, with each column's own
    bind processor applied (once per distinct value: a build's rows share their dates and
    ids), so what is stored is exactly what SQLAlchemy would store; its per-row parameter
    handling was a tenth of a 100,000-subscriber digest build. Elsewhere SQLAlchemy's
    batched insert, counting what RETURNING gives back (drivers disagree on rowcount)."""
    if not rows:
        return 0
    session.flush()  # rows may point at objects not yet written
    columns = list(rows[0])
    bind = session.connection()
    dialect = bind.dialect
    stmt = upsert_insert(dialect.name, table).on_conflict_do_nothing(index_elements=list(conflict))
    if dialect.name != "sqlite":
        stmt = stmt.returning(*table.primary_key.columns)
        added = 0
        for start in range(0, len(rows), 2000):
            added += len(session.execute(stmt, rows[start : start + 2000]).all())
        return added
    # SQLAlchemy writes the statement (names quoted, "?" per column, in `order`).
    compiled = stmt.compile(dialect=dialect, column_keys=columns)
    order = list(compiled.positiontup or [])
    # Columns the rows leave out that SQLAlchemy fills in from a scalar default.
    defaults: dict[str, Any] = {}
    for name in set(order) - set(columns):
        default = table.c[name].default
        if default is None or not default.is_scalar:
            raise ValueError(f"{table.name}.{name}: no value and no plain default")
        defaults[name] = default.arg
    converters = [_bound_value(table.c[name], dialect) for name in order]
    values = [
        tuple(
            value if c is None else c(value)
            for name, c in zip(order, converters, strict=True)
            for value in (row[name] if name in row else defaults[name],)
        )
        for row in rows
    ]
    sql = str(compiled)
    cursor = bind.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, values)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _bound_value(column: sa.Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor, remembering its result for each hashable value."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    memo: dict[Any, Any] = {}

    def bound(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            found = memo[value] = process(value)
            return found
        except TypeError:  # unhashable (a JSON document)
            return process(value)

    return bound


def dialect_of(session_or_engine: Session | Engine) -> str:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name


def is_postgres(session_or_engine: Session | Engine) -> bool:
    return dialect_of(session_or_engine) == "postgresql"


def max_length(column: InstrumentedAttribute[Any]) -> int | None:
    """The most characters the model lets `column` hold: `String(n)`'s n, or for a Text
    column the `info={"max_length": n}` the model sets to bound what it keeps."""
    found = _MAX_LENGTHS.get(id(column))
    if found is None or found[0] is not column:
        # Reading the type through the attribute costs tens of microseconds; fit() runs
        # for every stored field of every meeting, so each column is read once.
        prop = column.property.columns[0]
        length = prop.info.get("max_length", getattr(prop.type, "length", None))
        found = _MAX_LENGTHS[id(column)] = (column, length)
    return found[1]


_MAX_LENGTHS: dict[int, tuple[InstrumentedAttribute[Any], int | None]] = {}


def fit(column: InstrumentedAttribute[Any], value: str) -> str:
    """`value` cut to what the model lets `column` hold (`max_length`), so text from
    outside (a council's site, an exception, a bounce) can always be stored: PostgreSQL
    refuses an over-long value where SQLite keeps it. The only place values are cut."""
    length = max_length(column)
    return value[:length] if length is not None and len(value) > length else value


def rows_affected(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed. Session.execute types its result as a
    plain Result, which does not declare the CursorResult's rowcount."""
    return int(getattr(result, "rowcount", 0) or 0)


E = TypeVar("E", bound=enum.Enum)


def count_by(session: Session, column: Any, states: type[E]) -> dict[E, int]:
    """How many rows have each state of `column`, every state present (zeros included)."""
    counts = dict.fromkeys(states, 0)
    for state, n in session.execute(sa.select(column, sa.func.count()).group_by(column)):
        counts[state] = n
    return counts
