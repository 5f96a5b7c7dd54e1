"""run, pause, resume: an installed task now, as the scheduler would run it; its firings held
back and let go again."""

from __future__ import annotations

import sys
import time

import click

from .. import api
from .completion import complete_file, complete_namespace_or_task, complete_task
from .group import json_option, main, scope_option
from .output import echo_json


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK", shell_complete=complete_task)
@click.option("--ignore-skips", is_flag=True, help="Run even if a skip condition or a pause says not to.")
@scope_option
def run(reference: str, ignore_skips: bool, scope: str) -> None:
    """Run an installed task now through orchestration-exec, as the scheduler would."""
    sys.exit(api.run(reference, ignore_skips=ignore_skips, scope=scope))


def _moment(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(timestamp))


@main.command()
@click.argument("reference", metavar="NAMESPACE[/TASK]", shell_complete=complete_namespace_or_task)
@click.option(
    "--until",
    metavar="WHEN",
    help="Resume by itself at WHEN: a duration from now (30m, 2h, 7d, 1w) or ISO 8601. Default: until `resume`.",
)
@json_option
@scope_option
def pause(reference: str, until: str | None, as_json: bool, scope: str) -> None:
    """Hold back the firings of an installed namespace or task, without editing the tasks file."""
    change = api.pause(reference, api.parse_until(until) if until else None, scope=scope)
    for warning in change.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        echo_json(change.to_json())
        return
    how = f"until {_moment(change.until)}" if change.until is not None else "until `orchestration resume`"
    what = "its timers are stopped" if change.backend == "systemd" else "its firings are recorded as skipped (paused)"
    click.echo(f"Paused {reference} ({len(change.tasks)} task(s)) {how}: {what}.")


@main.command()
@click.argument("reference", metavar="NAMESPACE[/TASK]", shell_complete=complete_namespace_or_task)
@click.option(
    "--expired",
    is_flag=True,
    hidden=True,  # what the timer of a pause with an end runs at that end
    help="End only this pause, and only if its end has come.",
)
@json_option
@scope_option
def resume(reference: str, expired: bool, as_json: bool, scope: str) -> None:
    """Let a paused namespace or task fire again."""
    change = api.resume(reference, scope=scope, expired=expired)
    for warning in change.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        echo_json(change.to_json())
        return
    if change.still_paused_by:
        click.echo(
            f"{reference} is still paused: its whole namespace is; resume it with"
            f" `orchestration resume {change.still_paused_by}`."
        )
    elif change.changed:
        click.echo(f"Resumed {reference}: it fires on its schedule again.")
    else:
        click.echo(f"{reference} was not paused; nothing changed.")


@main.command(name="run-scheduler")
@click.argument("tasks_file", shell_complete=complete_file)
def run_scheduler(tasks_file: str) -> None:
    """Run the tasks of TASKS_FILE in the foreground with a cron daemon of its own, until SIGTERM
    or Ctrl-C: for containers (as their entry point, as root) and machines where no scheduler runs.
    Job output and a line per run go to stdout; nothing stays installed afterwards."""
    api.run_scheduler(tasks_file)
