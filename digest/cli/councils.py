"""`digest councils …`: list and look after councils."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.orm import Session

from digest import admins, coverage, enablement
from digest import councils as directory
from digest.cli import CliState, pass_state
from digest.cli.output import summary
from digest.collector.committees import InvalidCommitteeFilter, check_filter
from digest.collector.http_client import Fetcher
from digest.collector.probe import probe as probe_council
from digest.collector.sources import system_name
from digest.models import Council, CouncilStatus
from digest.words import plural
from jobs import tasks


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


def _council(session: Session, slug: str) -> Council:
    council = directory.get_by_slug(session, slug)
    if council is None:
        click.echo(f"digest: no such council: {slug}", err=True)
        sys.exit(2)
    return council


@councils.command("enable")
@click.argument("slug")
@click.option(
    "--base-url",
    default=None,
    help="The council's ModernGov or CMIS site, e.g. https://democracy.wigan.gov.uk",
)
@click.option(
    "--committee-filter",
    default=None,
    help="Regular expression on committee titles: only matching committees are collected "
    "(for installs shared by two councils; '' clears it).",
)
@click.option(
    "--collect/--no-collect",
    default=True,
    help="Collect the council's meetings straight away (default) or leave it to the scheduler.",
)
@pass_state
def enable_council(
    state: CliState, slug: str, base_url: str | None, committee_filter: str | None, collect: bool
) -> None:
    """Enable a council: tell everyone waiting, approve open requests, collect its meetings."""
    rt = state.runtime()
    with rt.sessions.begin() as session:
        council = _council(session, slug)
        try:
            if committee_filter is not None:
                council.committee_filter = check_filter(committee_filter)
            result = enablement.go_live(session, rt.mail, council, rt.now(), base_url=base_url)
        except (enablement.EnablementError, InvalidCommitteeFilter) as exc:
            click.echo(f"digest: {exc}", err=True)
            sys.exit(1)
        if result.changed:
            admins.record(
                session,
                actor="cli",
                action="council.enable",
                target=slug,
                now=rt.now(),
                detail=f"{result.notified} subscribers told, "
                f"{result.requests_approved} requests approved",
            )
        name, source = council.name, council.base_url
    if not result.changed:
        summary(f"{name} already enabled; source {source}.")
        return
    summary(
        f"{name} enabled; source {source}; "
        f"{plural(result.notified, 'waiting subscriber')} will be told, "
        f"{plural(result.requests_approved, 'professional request')} approved."
    )
    if collect:
        summary(f"First collection: {tasks.collect_councils(rt, [slug])}")


@councils.command("pause")
@click.argument("slug")
@pass_state
def pause_council(state: CliState, slug: str) -> None:
    """Pause an enabled council: no collection and no digests until enabled again."""
    rt = state.runtime()
    with rt.sessions.begin() as session:
        council = _council(session, slug)
        paused = enablement.pause(session, council, rt.now())
        name, status = council.name, council.status.value
    if not paused:
        summary(f"{name} is not enabled (status: {status}); nothing to pause.", ok=False)
        sys.exit(1)
    summary(f"{name} paused.")


@councils.command("probe")
@click.argument("slug")
@pass_state
def probe(state: CliState, slug: str) -> None:
    """Recognise the council's system (ModernGov web service, CMIS calendar, or neither)
    from its democracy URL or website, and record it."""
    rt = state.runtime()
    with rt.sessions.begin() as session:
        council = _council(session, slug)
        result = probe_council(
            session, council, Fetcher(rt.config.collector), rt.now(), rt.config.tz
        )
        name, source = council.name, council.base_url or "(no base URL)"
        system = council.system
        collectable = council.is_collectable
    summary(f"{name} at {source}: {result.message}.", ok=result.ok)
    summary(
        f"System: {system.value} ({system_name(system)}); "
        + ("collectable." if collectable else "we can't collect it automatically yet."),
        ok=result.ok,
    )
    if not result.ok:
        sys.exit(1)


@councils.command("coverage")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see SPEC §12.2).")
@pass_state
def coverage_command(state: CliState, as_json: bool) -> None:
    """Per council system: councils, how many are collectable, enabled and fresh."""
    rt = state.runtime()
    with rt.read_sessions() as session:
        found = coverage.coverage(session, rt.now())
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
        return
    click.echo(
        f"{'system':<10}  {'councils':>8}  {'collectable':>11}  {'enabled':>7}  {'fresh':>5}"
    )
    rows = [(s.value, c) for s, c in found.systems.items()] + [("total", found.total)]
    for label, c in rows:
        click.echo(
            f"{label:<10}  {c.councils:>8}  {c.collectable:>11}  {c.enabled:>7}  {c.fresh:>5}"
        )
    summary(
        f"{found.total.collectable} of {found.total.councils} councils collectable; "
        f"{found.total.councils - found.total.collectable} not yet supported."
    )


def register(group: click.Group) -> None:
    group.add_command(councils)
