"""The `orchestration` command group: OrchestrationError is caught once, here, and printed as
"Error: ..." with its exit code."""

from __future__ import annotations

from importlib import import_module
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


# Where each command is defined, so that a command imports only its own module (and what that
# module needs); a name not listed here is looked for in every module of COMMAND_MODULES.
COMMAND_MODULES = ("installing", "reading", "running", "notifying", "completion")
COMMAND_MODULE = {
    "install": "installing",
    "uninstall": "installing",
    "compile": "installing",
    "list": "reading",
    "status": "reading",
    "next": "reading",
    "why": "reading",
    "history": "reading",
    "logs": "reading",
    "run": "running",
    "pause": "running",
    "resume": "running",
    "run-scheduler": "running",
    "metrics": "notifying",
    "notify": "notifying",
    "completion": "completion",
}


class Commands(click.Group):
    """A group that turns OrchestrationError into 'Error: ...' and its exit code, and imports a
    command's module when the command is asked for."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULE.get(cmd_name)
        if module is not None:
            import_module(f"{__package__}.{module}")
        if cmd_name not in self.commands:
            self.load_all()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return super().list_commands(ctx)

    def load_all(self) -> None:
        """Import every command module (for --help, completion and the docs test)."""
        for module in COMMAND_MODULES:
            import_module(f"{__package__}.{module}")

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
