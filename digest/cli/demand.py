"""`digest demand`: the ranked waitlist, in the same order as /waitlist and the admin queue."""

from __future__ import annotations

import click

from digest import demand as ranking
from digest.cli import CliState, pass_state
from digest.cli.output import summary


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the top N only.")
@click.option("--all", "show_all", is_flag=True, help="Include councils nobody has asked for.")
@pass_state
def demand(state: CliState, limit: int | None, show_all: bool) -> None:
    """The ranked waitlist with scores (subscriptions + weight x professional requests)."""
    rt = state.runtime()
    cfg = rt.config.demand
    with rt.read_sessions() as session:
        rows = ranking.ranking(session, cfg.professional_weight)
    shown = [r for r in rows if show_all or r.position is not None][:limit]
    click.echo(f"{'#':>4}  {'score':>6}  {'subs':>6}  {'reqs':>4}  {'first asked':<16}  council")
    for row in shown:
        first = row.first_demand_at.strftime("%Y-%m-%d %H:%M") if row.first_demand_at else "-"
        ready = "  [ready]" if ranking.is_ready(row, cfg) else ""
        if not row.council.is_collectable:
            ready = "  [unsupported: we can't collect its meetings automatically yet]"
        click.echo(
            f"{row.position or '-':>4}  {row.score:>6}  {row.subscribers:>6}  "
            f"{row.requests:>4}  {first:<16}  {row.council.slug}{ready}"
        )
    ranked = sum(1 for r in rows if r.position is not None)
    summary(
        f"{ranked} of {len(rows)} waitlisted councils have demand "
        f"(professional weight {cfg.professional_weight})."
    )


def register(group: click.Group) -> None:
    group.add_command(demand)
