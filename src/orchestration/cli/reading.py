"""list, status, next, why, history, logs: read what is installed and what ran; write nothing."""

from __future__ import annotations

import sys
import time

import click

from .. import api
from ..observe.follow import follow_runs, format_run
from ..observe.history import parse_since, split_reference
from ..observe.status import TaskStatus
from .group import json_option, main, scope_option
from .output import echo_json, echo_lines, echo_table, last_run_text, time_text

NOTHING_INSTALLED = "Nothing is installed. Install a tasks file with `orchestration install tasks.py`."


def _next_text(item: TaskStatus) -> str:
    return time_text(item.next_time) if item.next_time else "at boot"


@main.command(name="list")
@json_option
@scope_option
def list_command(as_json: bool, scope: str) -> None:
    """Show installed tasks: schedule, next firing time, last run, backend, tasks file."""
    listings = api.installed(scope)
    if as_json:
        echo_json([listing.to_json() for listing in listings])
        return
    if not listings:
        click.echo(NOTHING_INSTALLED)
        return
    rows = [
        (
            item.reference + (" !" if item.problems else ""),
            item.schedule,
            item.description,
            _next_text(item),
            item.last_run.status if item.last_run else "-",
            item.backend,
            item.tasks_file,
        )
        for item in listings
    ]
    echo_table(("TASK", "SCHEDULE", "WHEN", "NEXT", "LAST", "BACKEND", "TASKS FILE"), rows)
    if any(item.problems for item in listings):
        click.echo("! needs attention: see `orchestration status`")


@main.command()
@json_option
@scope_option
def status(as_json: bool, scope: str) -> None:
    """Per task: the last run, failures in a row, the next firing time, and drift or breakage."""
    statuses = api.installed(scope)
    if as_json:
        echo_json([item.to_json() for item in statuses])
        return
    if not statuses:
        click.echo(NOTHING_INSTALLED)
        return
    rows = [
        (item.reference, last_run_text(item.last_run), str(item.failures_in_a_row), _next_text(item), item.description)
        for item in statuses
    ]
    echo_table(("TASK", "LAST RUN", "FAILURES IN A ROW", "NEXT", "WHEN"), rows)
    problems: dict[str, None] = {}  # in order, each once: the namespace's own, then each task's
    for item in statuses:
        for problem in item.namespace_problems:
            problems.setdefault(f"! {item.namespace}: {problem}")
        for problem in item.task_problems:
            problems.setdefault(f"! {item.reference}: {problem}")
    echo_lines(problems)


@main.command(name="next")
@click.argument("target", metavar="TASKS_FILE|NAMESPACE/TASK")
@click.option(
    "--count", "-n", default=5, show_default=True, type=click.IntRange(1, 10000), help="How many firing times."
)
@click.option("--from", "start", metavar="TIME", help="Start after TIME (ISO 8601) instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: task to a list of ISO 8601 times.")
@scope_option
def next_command(target: str, count: int, start: str | None, as_json: bool, scope: str) -> None:
    """Print the next firing times, exactly as the cron daemon will use them."""
    after = api.parse_time(start) if start else None
    upcoming = api.next_times(target, count=count, after=after, scope=scope)
    if as_json:
        echo_json({ref: [t.isoformat() for t in times] for ref, times in upcoming.items()})
        return
    for reference, times in upcoming.items():
        click.echo(reference)
        for moment in times:
            click.echo(f"  {time_text(moment)}")
        if not times:
            click.echo("  at boot only (@reboot)")


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK")
@click.option(
    "--at",
    "at",
    metavar="WHEN",
    help="Judge a run scheduled at WHEN (ISO 8601; local time without an offset) instead of the next firing time.",
)
@json_option
@scope_option
def why(reference: str, at: str | None, as_json: bool, scope: str) -> None:
    """Say whether a task would run at a minute, and why not: its schedule and each skip condition."""
    explanation = api.why(reference, api.parse_time(at) if at else None, scope=scope)
    if as_json:
        echo_json(explanation.to_json())
    else:
        echo_lines(explanation.lines())


@main.command()
@click.argument("reference", required=False, metavar="[NAMESPACE[/TASK]]")
@click.option("--limit", "-n", type=click.IntRange(1), default=20, show_default=True, help="How many runs.")
@click.option("--status", help="Only runs with this status (ok, failed, skipped, error, ...).")
@click.option("--since", metavar="WHEN", help="Only runs started at or after WHEN: 30m, 2h, 7d or ISO 8601.")
@json_option
@click.option("--follow", "-f", is_flag=True, help="Then print each run as it starts and finishes.")
@scope_option
def history(
    reference: str | None, limit: int, status: str | None, since: str | None, as_json: bool, follow: bool, scope: str
) -> None:
    """Show recorded runs: the newest LIMIT, oldest first (--json: newest first)."""
    runs = api.history(reference, status=status, since=parse_since(since) if since else None, limit=limit, scope=scope)
    for warning in runs.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        echo_json([run.to_json() for run in runs])
    elif runs:
        for run in reversed(runs):
            click.echo(format_run(run))
    elif not follow:
        click.echo("No runs recorded yet.")
    if follow:
        namespace, task = split_reference(reference)
        click.echo("Following new runs; press Ctrl-C to stop.")
        try:
            follow_runs(
                api.state_directory(scope), namespace=namespace, task=task, report=click.echo, since=time.time()
            )
        except KeyboardInterrupt:
            pass


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK")
@click.option("--run", "run_id", metavar="ID", help="This run instead of the newest.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing as the run (and later runs) write.")
@scope_option
def logs(reference: str, run_id: str | None, follow: bool, scope: str) -> None:
    """Print the output of a task's newest run (or of run ID)."""
    out = sys.stdout.buffer
    try:
        for chunk in api.logs(reference, run_id, follow=follow, scope=scope):
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        pass
