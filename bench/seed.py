"""Fast bulk seeding for benchmarks: plain executemany on a migrated SQLite database."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest import councils, schema
from digest.db import make_engine, make_sessionmaker

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def migrated_sqlite(path: Path) -> str:
    """A fresh database at `path` after `digest init`; returns its URL."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        councils.import_bundled(session, NOW)
    engine.dispose()
    return url


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def subscriptions(
    path: Path,
    count: int,
    *,
    per_subscriber: int = 1,
    seed: int = 7,
    council_ids: list[int] | None = None,
    status: str = "active",
) -> None:
    """`count` subscriptions spread unevenly (some councils far more wanted) over councils."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    ids = council_ids or [row[0] for row in conn.execute("SELECT id FROM councils ORDER BY id")]
    weights = [1.0 / (rank + 1) for rank in range(len(ids))]
    start = conn.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()[0]
    subscribers = (count + per_subscriber - 1) // per_subscriber
    created = _stamp(NOW - timedelta(days=30))
    conn.executemany(
        "INSERT INTO subscribers (id, email, created_at) VALUES (?, ?, ?)",
        (
            (start + i + 1, f"person{start + i + 1}@example.net", created)
            for i in range(subscribers)
        ),
    )
    rows = []
    seen: set[tuple[int, int]] = set()
    for i in range(count):
        subscriber = start + 1 + i // per_subscriber
        council = rng.choices(ids, weights)[0]
        while (subscriber, council) in seen:
            council = rng.choice(ids)
        seen.add((subscriber, council))
        when = _stamp(NOW - timedelta(minutes=rng.randrange(60 * 24 * 60)))
        rows.append(
            (
                subscriber,
                council,
                "resident",
                status,
                when,
                when,
                when if status == "active" else None,
            )
        )
        if len(rows) >= 50_000:
            _insert_subscriptions(conn, rows)
            rows.clear()
    _insert_subscriptions(conn, rows)
    conn.commit()
    conn.close()


def _insert_subscriptions(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO subscriptions (subscriber_id, council_id, kind, status, created_at, "
        "requested_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
