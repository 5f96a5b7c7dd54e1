"""list, status, next, why, history, logs: read what is installed and what ran; write nothing."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from .. import api
from ..errors import UsageError
from .completion import complete_file_or_task, complete_namespace_or_task, complete_status, complete_task
from .group import json_option, main, scope_option
from .output import (
    attention,
    echo,
    echo_json,
    echo_lines,
    echo_table,
    last_run_text,
    run_line,
    status_text,
    time_text,
    warning,
)

if TYPE_CHECKING:
    from ..observe.status import TaskStatus

NOTHING_INSTALLED = "Nothing is installed. Install a tasks file with `orchestration install tasks.py`."


def _next_text(item: TaskStatus) -> str:
    if item.paused is not None:
        until = item.paused.until
        return "paused" + (f" until {time_text(datetime.fromtimestamp(until).astimezone())}" if until else "")
    return time_text(item.next_time) if item.next_time else "at boot"


def _window_end(start: datetime, end: datetime) -> str:
    """The end of a jitter window: its time, with its date too when that is a later day."""
    return end.strftime("%H:%M:%S") if end.date() == start.date() else time_text(end)


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
        echo(NOTHING_INSTALLED)
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

    def paint(column: int, cell: str) -> str:
        return (
            status_text(cell.strip(), cell)
            if column == 4
            else attention(cell)
            if cell.rstrip().endswith(" !")
            else cell
        )

    echo_table(("TASK", "SCHEDULE", "WHEN", "NEXT", "LAST", "BACKEND", "TASKS FILE"), rows, paint)
    if any(item.problems for item in listings):
        echo(attention("! needs attention: see `orchestration status`"))


@main.command()
@json_option
@click.option("--check", is_flag=True, help="Exit 1 when something needs attention (for monitoring).")
@scope_option
def status(as_json: bool, check: bool, scope: str) -> None:
    """Per task: the last run, failures in a row, the next firing time, and what needs attention."""
    statuses = api.installed(scope)
    failing = check and any(item.needs_attention for item in statuses)
    if as_json:
        echo_json([item.to_json() for item in statuses])
    elif not statuses:
        echo(NOTHING_INSTALLED)
    else:
        _print_status(statuses)
    if failing:
        sys.exit(1)


def _print_status(statuses: list[TaskStatus]) -> None:
    rows = [
        (item.reference, last_run_text(item.last_run), str(item.failures_in_a_row), _next_text(item), item.description)
        for item in statuses
    ]

    def paint(column: int, cell: str) -> str:
        if column == 1 and cell.strip() != "never":
            return status_text(cell.split(" ", 1)[0], cell)
        return styled_count(cell) if column == 2 else cell

    echo_table(("TASK", "LAST RUN", "FAILURES IN A ROW", "NEXT", "WHEN"), rows, paint)
    problems: dict[str, None] = {}  # in order, each once: the namespace's own, then each task's
    for item in statuses:
        for problem in item.namespace_problems:
            problems.setdefault(f"! {item.namespace}: {problem}")
        for problem in item.task_problems:
            problems.setdefault(f"! {item.reference}: {problem}")
        if item.failures_in_a_row:
            problems.setdefault(
                f"! {item.reference}: {item.failures_in_a_row} failure(s) in a row; see"
                f" `orchestration logs {item.reference}`"
            )
    echo_lines(attention(problem) for problem in problems)


def styled_count(cell: str) -> str:
    return status_text("failed", cell) if cell.strip() not in ("", "0") else cell


@main.command(name="next")
@click.argument("target", metavar="TASKS_FILE|NAMESPACE/TASK", shell_complete=complete_file_or_task)
@click.option(
    "--count", "-n", default=5, show_default=True, type=click.IntRange(1, 10000), help="How many firing times."
)
@click.option("--from", "start", metavar="TIME", help="Start after TIME (ISO 8601) instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: task to a list of ISO 8601 times.")
@scope_option
def next_command(target: str, count: int, start: str | None, as_json: bool, scope: str) -> None:
    """Print the next firing times, exactly as the cron daemon will use them."""
    after = api.parse_time(start) if start else None
    upcoming = api.upcoming(target, count=count, after=after, scope=scope)
    for item in upcoming:
        for problem in item.warnings:
            warning(problem)
    if as_json:
        echo_json({item.reference: [t.isoformat() for t in item.times] for item in upcoming})
        return
    for item in upcoming:
        jitter = item.jitter
        echo(item.reference + (f"  (jitter: each run starts within {jitter}s, at a fixed delay)" if jitter else ""))
        for moment in item.times:
            window = f" .. {_window_end(moment, moment + timedelta(seconds=jitter))}" if jitter else ""
            echo(f"  {time_text(moment)}{window}")
        if not item.times:
            echo("  at boot only (@reboot)")


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK", shell_complete=complete_task)
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
@click.argument("reference", required=False, metavar="[NAMESPACE[/TASK]]", shell_complete=complete_namespace_or_task)
@click.option("--limit", "-n", type=click.IntRange(1), default=20, show_default=True, help="How many runs.")
@click.option(
    "--status", help="Only runs with this status (ok, failed, skipped, error, ...).", shell_complete=complete_status
)
@click.option("--since", metavar="WHEN", help="Only runs started at or after WHEN: 30m, 2h, 7d or ISO 8601.")
@json_option
@click.option("--reverse", "-r", is_flag=True, help="Newest first.")
@click.option("--follow", "-f", is_flag=True, help="Then print each run as it starts and finishes (not with --json).")
@scope_option
def history(
    reference: str | None,
    limit: int,
    status: str | None,
    since: str | None,
    as_json: bool,
    reverse: bool,
    follow: bool,
    scope: str,
) -> None:
    """Show recorded runs with their ids: the newest LIMIT, newest last (--reverse: first)."""
    if as_json and follow:
        raise UsageError("--json prints the runs recorded so far and ends; it cannot be combined with --follow")
    from ..observe.follow import follow_runs, format_run
    from ..observe.history import require_known, split_reference
    from ..observe.moments import parse_since

    runs = api.history(
        reference,
        status=status,
        since=parse_since(since, time.time()) if since else None,
        limit=limit,
        reverse=reverse,
        scope=scope,
    )
    for problem in runs.warnings:
        warning(problem)
    if reference is not None and not runs and not runs.warnings:  # an unreadable journal proves nothing
        require_known(api.state_directory(scope), reference)
    if as_json:
        echo_json([run.to_json() for run in runs])
    elif runs:
        for run in runs:
            echo(run_line(run, format_run(run)))
    elif not follow:
        echo(_no_runs(reference, status, since))
    if follow:
        namespace, task = split_reference(reference)
        echo("Following new runs; press Ctrl-C to stop.")
        try:
            follow_runs(api.state_directory(scope), namespace=namespace, task=task, report=echo, since=time.time())
        except KeyboardInterrupt:
            pass


def _no_runs(reference: str | None, status: str | None, since: str | None) -> str:
    """What an empty history says: that nothing ran, or that nothing matches the filters given."""
    filters = " ".join(f"{option} {value}" for option, value in (("--status", status), ("--since", since)) if value)
    of = f" of {reference}" if reference else ""
    return f"No runs{of} match {filters}." if filters else f"No runs{of} recorded yet."


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK", shell_complete=complete_task)
@click.option("--run", "run_id", metavar="ID", help="This run instead of the newest (ids are in `history`).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing as the run (and later runs) write.")
@click.option("--json", "as_json", is_flag=True, help="Print the run and its log as JSON (not with --follow).")
@scope_option
def logs(reference: str, run_id: str | None, follow: bool, as_json: bool, scope: str) -> None:
    """Print the output of a task's newest run (or of run ID)."""
    if as_json:
        if follow:
            raise UsageError("--json prints one run's log and ends; it cannot be combined with --follow")
        run = api.find_run(reference, run_id, scope=scope)
        text = b"".join(api.logs(reference, run.run_id, scope=scope)).decode("utf-8", errors="replace")
        echo_json({"run": run.to_json(), "log": text})
        return
    out = sys.stdout.buffer
    try:
        for chunk in api.logs(reference, run_id, follow=follow, scope=scope):
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        pass
