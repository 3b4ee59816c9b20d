"""The `digest` command line. Commands are thin: they build the runtime, open a
transaction and call the same functions the web app and jobs use."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import click

from digest.config import ConfigError, load_config
from digest.runtime import Runtime


@dataclass
class CliState:
    config_path: str | None
    _runtime: Runtime | None = field(default=None, repr=False)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            try:
                self._runtime = Runtime.from_config(load_config(self.config_path))
            except ConfigError as exc:
                click.echo(f"digest: invalid configuration: {exc}", err=True)
                sys.exit(2)
        return self._runtime


pass_state = click.make_pass_decorator(CliState)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: $DIGEST_CONFIG, else ./config.toml).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Council Digest: weekly digests of UK council meetings."""
    # Tests hand in a state with a ready-made runtime; otherwise build one from the config.
    if not isinstance(ctx.obj, CliState):
        ctx.obj = CliState(config_path)


def _register() -> None:
    from digest.cli import admin, collect, councils, demand, demo, digests, extract, run, setup

    for module in (setup, run, councils, collect, extract, digests, demand, admin, demo):
        module.register(main)

    from digest.cli import bounces, finding

    bounces.register(main)
    finding.register(main)


_register()
