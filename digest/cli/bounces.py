"""`digest bounces PATH…`: process returned mail (DSNs, ARF complaints)."""

from __future__ import annotations

import sys

import click

from digest.bounces import record, sources
from digest.bounces.process import BounceSummary, process_message
from digest.cli import CliState, pass_state
from digest.cli.output import progress, summary
from digest.cli.run import _require_schema


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--verbose", "-v", is_flag=True, help="List what each message did.")
@pass_state
def bounces(state: CliState, paths: tuple[str, ...], verbose: bool) -> None:
    """Process bounce (DSN) and complaint (ARF) messages from files, mbox files or
    Maildir folders ("-" reads one message from standard input, for an MTA pipe).

    Safe to run again over the same messages: each event counts once.
    """
    rt = state.runtime()
    _require_schema(rt)
    result = BounceSummary()
    rules = record.Rules.of(rt.config.mail)
    unreadable = 0
    for path in paths:
        try:
            for _label, raw in progress(sources.read(path), label=f"Reading {path}"):
                with rt.sessions.begin() as session:
                    process_message(
                        session,
                        raw,
                        secret_key=rt.config.site.secret_key,
                        now=rt.now(),
                        summary=result,
                        rules=rules,
                    )
        except OSError as exc:
            click.echo(f"digest: cannot read {path}: {exc}", err=True)
            unreadable += 1
    if verbose:
        for detail in result.details:
            click.echo(f"  {detail}")
    summary(f"Bounces: {result.line()}.", ok=unreadable == 0)
    if unreadable:
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(bounces)
