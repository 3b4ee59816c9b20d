"""`digest init`: migrations match the models, and running it twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from digest.cli import main
from digest.db import Base
from digest.models import Council, CouncilStatus
from digest.runtime import Runtime
from digest.schema import in_models


def test_migrations_produce_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": in_models}
            ),
            Base.metadata,
        )
    assert diff == []


def test_init_twice_is_a_no_op(tmp_path: Path, rt: Runtime) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[site]\nsecret_key = "{"s" * 40}"\nvar_dir = "{tmp_path / "var"}"\n'
        f'[database]\nurl = "{rt.config.database.url}"\n'
    )
    with rt.sessions.begin() as session:
        session.execute(sa.delete(Council))
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "init"])
    assert first.exit_code == 0, first.output
    assert "382 added" in first.output
    with rt.read_sessions() as session:
        snapshot = [
            tuple(r) for r in session.execute(sa.select(Council.__table__).order_by(Council.slug))
        ]
    second = runner.invoke(main, ["--config", str(config), "init"])
    assert second.exit_code == 0, second.output
    assert "already up to date" in second.output
    assert "0 added, 0 updated, 382 unchanged" in second.output
    with rt.read_sessions() as session:
        again = [
            tuple(r) for r in session.execute(sa.select(Council.__table__).order_by(Council.slug))
        ]
    assert again == snapshot


def test_all_bundled_councils_start_on_the_waitlist(rt: Runtime) -> None:
    with rt.read_sessions() as session:
        rows = session.execute(
            sa.select(Council.status, sa.func.count()).group_by(Council.status)
        ).all()
        wigan = session.scalar(sa.select(Council).where(Council.slug == "wigan"))
    assert rows == [(CouncilStatus.WAITLIST, 382)]
    assert wigan is not None
    assert wigan.base_url == "https://democracy.wigan.gov.uk"
    assert wigan.gss_code == "E08000010"


def test_reimport_refreshes_names_but_keeps_operator_changes(rt: Runtime) -> None:
    from digest.councils import import_bundled

    with rt.sessions.begin() as session:
        wigan = session.scalar(sa.select(Council).where(Council.slug == "wigan"))
        assert wigan is not None
        wigan.name = "Old name"
        wigan.base_url = "https://moved.example.org"
        wigan.status = CouncilStatus.ENABLED
    with rt.sessions.begin() as session:
        result = import_bundled(session, rt.now())
    assert (result.created, result.updated) == (0, 1)
    with rt.read_sessions() as session:
        wigan = session.scalar(sa.select(Council).where(Council.slug == "wigan"))
        assert wigan is not None
        assert wigan.name == "Wigan Metropolitan Borough Council"
        assert wigan.base_url == "https://moved.example.org"
        assert wigan.status == CouncilStatus.ENABLED
