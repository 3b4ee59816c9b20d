"""`digest topics retag` and `digest watches send`."""

from __future__ import annotations

import click

from digest.cli import CliState, pass_state
from digest.cli.output import summary
from digest.cli.run import _require_schema
from jobs import tasks


@click.group()
def topics() -> None:
    """Topics on agenda items."""


@topics.command("retag")
@pass_state
def retag(state: CliState) -> None:
    """Tag every item not yet tagged with the current taxonomy (digest/data/topics.json)."""
    rt = state.runtime()
    _require_schema(rt)
    summary(tasks.retag_topics(rt) + ".", ok=True)


@click.group()
def watches() -> None:
    """Topic watches."""


@watches.command("send")
@click.argument("frequency", type=click.Choice(["daily", "weekly"]))
@pass_state
def send(state: CliState, frequency: str) -> None:
    """Match the watches of FREQUENCY against what is new and queue their alerts."""
    rt = state.runtime()
    _require_schema(rt)
    result = tasks.watch_alerts(rt, frequency)
    summary(result + ".", ok=not result.startswith("failed"))


def register(group: click.Group) -> None:
    group.add_command(topics)
    group.add_command(watches)
