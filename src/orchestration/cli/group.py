"""The `orchestration` command group: OrchestrationError is caught once, here, and printed as
"Error: ..." with its exit code."""

from __future__ import annotations

from typing import Any

import click

from ..errors import OrchestrationError
from . import output

scope_option = click.option(
    "--scope",
    type=click.Choice(["user", "system"]),
    default="user",
    show_default=True,
    help="user: your crontab or user manager and ~/.local/state; system: the system manager and"
    " /var/lib/orchestration (root only).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


class Commands(click.Group):
    """A group that turns OrchestrationError into 'Error: ...' and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OrchestrationError as error:
            output.echo(f"{output.styled('Error:', fg='red', bold=True)} {error}", err=True)
            ctx.exit(error.exit_code)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orchestration")
@click.option(
    "--color",
    type=click.Choice(output.COLOR_MODES),
    default="auto",
    show_default=True,
    help="Colour the output: auto colours a terminal unless NO_COLOR is set.",
)
def main(color: str) -> None:
    """Define scheduled scripts in Python; cron or systemd runs them."""
    output.set_color(color)
