"""`digest collect [SLUG…]`: collect meetings now."""

from __future__ import annotations

import logging
import sys

import click

from digest.cli import CliState, pass_state
from digest.cli.output import progress, summary
from digest.collector.runner import CollectionReport, Collector, UnknownCouncils
from digest.documents import extract as extraction


@click.command()
@click.argument("slugs", nargs=-1)
@click.option(
    "--no-extract",
    is_flag=True,
    help="Leave reading PDF minutes to `digest worker` instead of doing it before returning.",
)
@pass_state
def collect(state: CliState, slugs: tuple[str, ...], no_extract: bool) -> None:
    """Collect meetings now for the named councils (default: every enabled council)."""
    rt = state.runtime()
    # Failures are listed after the progress bar; log lines would tear it apart.
    logging.getLogger("digest.collector").addHandler(logging.NullHandler())
    collector = Collector.from_runtime(rt)
    try:
        targets = collector.targets(slugs)
    except UnknownCouncils as exc:
        click.echo(f"digest: {exc}", err=True)
        sys.exit(2)
    if not targets:
        summary("No enabled councils to collect.")
        return
    report = CollectionReport()
    for outcome in progress(
        collector.run_targets(targets), length=len(targets), label="Collecting"
    ):
        report.outcomes.append(outcome)
    summary(report.summary() + ".", ok=not report.failed)
    for outcome in report.failed:
        click.echo(f"  {outcome.slug}: {outcome.error}", err=True)
    if not no_extract and rt.config.collector.pdf_text:
        fetcher = extraction.pdf_fetcher(rt.config.collector, gate=collector.fetcher.gate)
        read = extraction.run(
            rt.sessions, fetcher, rt.now, council_ids=[target.id for target in targets]
        )
        if read.outcomes:
            summary(f"PDF minutes: {read.summary()}.")
    if report.failed:
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(collect)
