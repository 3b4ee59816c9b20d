"""Arranging collection tests: councils pointed at the fake ModernGov server."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from digest import councils, enablement
from digest.collector.http_client import Fetcher
from digest.collector.runner import CollectionReport, Collector
from digest.models import Council, Meeting, MeetingChange
from digest.runtime import Runtime
from tests.support.moderngov import FakeModernGov, loopback_resolver


def point_at_fake(rt: Runtime, slug: str, fake: FakeModernGov, host: str) -> None:
    """Enable council `slug` with its base URL on the fake, under host name `host`."""
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, slug)
        assert council is not None
        enablement.enable(session, council, rt.now(), base_url=fake.url(host))


def collector(rt: Runtime, *, settings: dict[str, Any] | None = None, **options: Any) -> Collector:
    """A collector whose names all resolve to the loopback fake; `settings` change
    [collector] keys for this collector only."""
    config = dataclasses.replace(rt.config.collector, **(settings or {}))
    fetcher = Fetcher(config, resolver=options.pop("resolver", loopback_resolver), **options)
    return Collector.from_runtime(rt, fetcher=fetcher)


def collect(
    rt: Runtime, *slugs: str, settings: dict[str, Any] | None = None, **options: Any
) -> CollectionReport:
    return collector(rt, settings=settings, **options).run_all(slugs)


def council(rt: Runtime, slug: str) -> Council:
    with rt.read_sessions() as session:
        found = councils.get_by_slug(session, slug)
        assert found is not None
        return found


def meetings_of(rt: Runtime, slug: str) -> dict[str, Meeting]:
    with rt.read_sessions() as session:
        found = session.scalars(sa.select(Meeting).join(Council).where(Council.slug == slug)).all()
        return {m.source_id: m for m in found}


def changes_of(rt: Runtime, slug: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(meeting source id, kind, detail) for every change recorded, oldest first."""
    with rt.read_sessions() as session:
        rows = session.execute(
            sa.select(Meeting.source_id, MeetingChange.kind, MeetingChange.detail)
            .join(Meeting, MeetingChange.meeting_id == Meeting.id)
            .join(Council, MeetingChange.council_id == Council.id)
            .where(Council.slug == slug)
            .order_by(MeetingChange.id)
        ).all()
        return [(r[0], r[1].value, r[2]) for r in rows]


def snapshot(rt: Runtime, slug: str) -> list[tuple[Any, ...]]:
    """Everything collected for a council except the 'last seen' timestamps."""
    skip = {"last_seen_at", "detail_fetched_at"}
    with rt.read_sessions() as session:
        rows = session.scalars(
            sa.select(Meeting).join(Council).where(Council.slug == slug).order_by(Meeting.id)
        ).all()
        columns = [c.key for c in Meeting.__table__.columns if c.key not in skip]
        return [tuple(getattr(m, c) for c in columns) for m in rows]


def write_config(tmp_path: Path, rt: Runtime) -> Path:
    """A config file for the `digest` command on the test database, allowed to reach
    the loopback fake."""
    path = tmp_path / "digest.toml"
    path.write_text(
        f'[site]\nsecret_key = "{rt.config.site.secret_key}"\n'
        f'base_url = "{rt.config.site.base_url}"\n'
        f'var_dir = "{tmp_path / "var"}"\n'
        f'[database]\nurl = "{rt.config.database.url}"\n'
        "[collector]\nallow_private_hosts = true\nper_host_interval = 0.0\ntimeout = 5.0\n"
    )
    return path
