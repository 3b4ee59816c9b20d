"""`digest admin create EMAIL`: add someone who can sign in to /admin."""

from __future__ import annotations

import sys

import click

from digest import admins
from digest.addresses import InvalidEmail
from digest.cli import CliState, pass_state
from digest.cli.output import summary


@click.group()
def admin() -> None:
    """Manage admin accounts."""


@admin.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_state
def create(state: CliState, email: str, password_stdin: bool) -> None:
    """Create an admin; the password comes from a prompt or --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = state.runtime()
    try:
        with rt.sessions.begin() as session:
            created = admins.create_admin(session, email, password, rt.now())
            admins.record(
                session, actor="cli", action="admin.create", target=created.email, now=rt.now()
            )
    except (admins.AdminError, InvalidEmail) as exc:
        click.echo(f"digest: {exc}", err=True)
        sys.exit(1)
    summary(f"Admin {created.email} created; sign in at {rt.config.site.base_url}/admin")


def register(group: click.Group) -> None:
    group.add_command(admin)
