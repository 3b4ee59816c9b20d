"""`digest build`: build this week's digests and queue them."""

from __future__ import annotations

import sys

import click

from digest.cli import CliState, pass_state
from digest.cli.output import progress, summary
from digest.cli.run import _require_schema
from digest.weekly.build import BuildSettings, UnknownCouncil, councils_to_build
from digest.weekly.run import BuildReport, build_each
from digest.weekly.weeks import InvalidWeek, IsoWeek


@click.command()
@click.option(
    "--week",
    "week_label",
    metavar="YYYY-Www",
    help="ISO week the digest is for (default: the current week). It reports meetings "
    "of the week before and previews meetings of that week.",
)
@click.argument("slugs", nargs=-1)
@pass_state
def build(state: CliState, week_label: str | None, slugs: tuple[str, ...]) -> None:
    """Build weekly digests for the named (default: all enabled) councils and queue them."""
    rt = state.runtime()
    _require_schema(rt)
    now = rt.now()
    try:
        week = IsoWeek.parse(week_label) if week_label else IsoWeek.of(now, rt.config.tz)
    except InvalidWeek as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from exc
    with rt.read_sessions() as session:
        try:
            chosen = councils_to_build(session, slugs)
        except UnknownCouncil as exc:
            click.echo(f"digest: {exc}", err=True)
            sys.exit(2)
        ids = [c.id for c in chosen]
        skipped = sorted(set(slugs) - {c.slug for c in chosen})
    for slug in skipped:
        click.echo(f"digest: {slug} is not enabled; no digest built", err=True)
    report = BuildReport(week=week.label)
    steps = build_each(
        rt.sessions, ids, week, now, BuildSettings.from_config(rt.config), rt.links, report
    )
    for _ in progress(steps, length=len(ids), label=f"Building {week}"):
        pass
    summary(report.summary() + ".", ok=not report.failed)
    if report.failed:
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(build)
