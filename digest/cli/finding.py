"""`digest councillors [SLUG…]` and `digest search-index`: councillors and the search
index by hand."""

from __future__ import annotations

import sys

import click

from digest import search
from digest.cli import CliState, pass_state
from digest.cli.output import summary
from digest.collector import councillors
from digest.collector.http_client import Fetcher


@click.command("councillors")
@click.argument("slugs", nargs=-1)
@pass_state
def collect_councillors(state: CliState, slugs: tuple[str, ...]) -> None:
    """Collect councillors now (GetCouncillorsByWard) for the named councils (default:
    every enabled ModernGov council)."""
    rt = state.runtime()
    outcomes = councillors.collect_all(rt.sessions, Fetcher(rt.config.collector), rt.now(), slugs)
    failed = [(slug, error) for slug, error in outcomes if error]
    summary(
        f"Councillors collected for {len(outcomes) - len(failed)} councils, {len(failed)} failed.",
        ok=not failed,
    )
    for slug, error in failed:
        click.echo(f"  {slug}: {error}", err=True)
    if failed:
        sys.exit(1)


@click.command("search-index")
@pass_state
def search_index(state: CliState) -> None:
    """Rebuild the search index of every collected meeting (after upgrading)."""
    rt = state.runtime()
    with rt.sessions.begin() as session:
        done = search.reindex_all(session)
    summary(f"Indexed {done} meetings.")


def register(group: click.Group) -> None:
    group.add_command(collect_councillors)
    group.add_command(search_index)
