"""`digest init`: create or upgrade the schema and import the bundled council list."""

from __future__ import annotations

import click

from digest import councils, schema, search
from digest.cli import CliState, pass_state
from digest.cli.output import summary


@click.command()
@pass_state
def init(state: CliState) -> None:
    """Create or upgrade the database and import the bundled council list (idempotent)."""
    rt = state.runtime()
    migrated = schema.upgrade(rt.engine)
    with rt.sessions.begin() as session:
        result = councils.import_bundled(session, rt.now())
    if migrated:
        # Meetings collected before the search index existed (migration 0011).
        with rt.sessions.begin() as session:
            search.index_missing(session)
    summary(
        f"Database {'upgraded' if migrated else 'already up to date'}; councils: "
        f"{result.created} added, {result.updated} updated, {result.unchanged} unchanged."
    )


def register(group: click.Group) -> None:
    group.add_command(init)
