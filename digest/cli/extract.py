"""`digest extract [--limit N]`: read the queued PDF minutes and decision notices now."""

from __future__ import annotations

import click

from digest.cli import CliState, pass_state
from digest.cli.output import summary
from digest.documents import extract as extraction


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Read at most N documents.")
@pass_state
def extract(state: CliState, limit: int | None) -> None:
    """Download and read the documents waiting for text extraction, then exit."""
    rt = state.runtime()
    fetcher = extraction.pdf_fetcher(rt.config.collector)
    report = extraction.run(rt.sessions, fetcher, rt.now, limit=limit)
    summary(report.summary() + ".")
    # An unreadable PDF is the council's problem, recorded on the document: not a failure
    # of this command.
    for outcome in report.problems:
        click.echo(f"  document {outcome.document_id}: {outcome.problem}")


def register(group: click.Group) -> None:
    group.add_command(extract)
