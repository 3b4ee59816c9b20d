"""`digest demo` (`make demo`): the service as `digest start` runs it, on var/demo/, with
two councils collected from a loopback replay of real council responses."""

from __future__ import annotations

import click

from digest.cli import CliState, pass_state
from digest.cli.output import summary
from digest.config import ConfigError, load_config
from digest.runtime import Runtime

DEMO_DIR = "var/demo"


def demo_config(config_path: str | None) -> Runtime:
    """The developer's configuration with its own database, Maildir and banner."""
    config = load_config(config_path).replace(
        site={"var_dir": DEMO_DIR, "demo": True},
        database={"url": f"sqlite:///{DEMO_DIR}/digest.sqlite3"},
        mail={"backend": "maildir", "maildir_path": f"{DEMO_DIR}/mail"},
        # The replay listens on 127.0.0.1, which the SSRF guard otherwise refuses.
        collector={"allow_private_hosts": True},
    )
    return Runtime.from_config(config)


@click.command()
@pass_state
def demo(state: CliState) -> None:
    """Start the service on var/demo/ with two councils replayed from real responses."""
    from pathlib import Path

    from digest.cli.run import _logging, serve
    from digest.demo.replay import ReplayServer
    from digest.demo.setup import prepare

    Path(DEMO_DIR).mkdir(parents=True, exist_ok=True)
    try:
        rt = demo_config(state.config_path)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from exc
    _logging(rt)
    replay = ReplayServer(rt.now().date())
    replay.start()
    try:
        ready = prepare(rt, replay)
        summary(f"Collected from the replay: {ready.collected}.")
        summary(f"Digests: {ready.built}; mailed: {ready.delivered.summary()}.")
        base = rt.config.site.base_url
        pages = "  ".join(f"{base}/councils/{slug}" for slug in ready.councils)
        serve(
            rt,
            banner=(
                f"DEMO: {pages}\n"
                f"      digests in {rt.config.mail.maildir_path}/new and at "
                f"{base}/councils/{ready.councils[0]}/digests\n"
                f"      admin at {base}/admin  email {ready.admin_email}  "
                f"password {ready.admin_password}"
            ),
        )
    finally:
        replay.stop()


def register(group: click.Group) -> None:
    group.add_command(demo)
