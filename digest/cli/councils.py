"""`digest councils …`: list and look after councils."""

from __future__ import annotations

import click

from digest import councils as directory
from digest.cli import CliState, pass_state
from digest.cli.output import summary
from digest.models import CouncilStatus


@click.group()
def councils() -> None:
    """List and manage councils."""


@councils.command("list")
@click.option("--status", type=click.Choice([s.value for s in CouncilStatus]), default=None)
@pass_state
def list_councils(state: CliState, status: str | None) -> None:
    """List councils with their status and collection health."""
    rt = state.runtime()
    now = rt.now()
    with rt.read_sessions() as session:
        found = directory.search(session, "", CouncilStatus(status) if status else None)
        for council in found:
            health = ""
            if council.status == CouncilStatus.ENABLED:
                health = "stale" if council.is_stale(now) else "ok"
                if council.last_error:
                    health += f" (last error: {council.last_error[:60]})"
            click.echo(
                f"{council.slug:32} {council.status.value:9} {council.system.value:10} "
                f"{council.name}  {health}".rstrip()
            )
    summary(f"{len(found)} councils.")


def register(group: click.Group) -> None:
    group.add_command(councils)
