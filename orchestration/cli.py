"""The `orchestration` command: parse arguments, call the library, print.

OrchestrationError is caught once, here, and printed as "Error: ..." with its exit code.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import click

from . import installer, manifest as manifests, operations, records
from .errors import OrchestrationError
from .follow import follow_runs, format_run
from .installer import scope_state
from .records import parse_since
from .schedule import local_timezone

BACKEND_CHOICES = click.Choice(["auto", "crontab", "systemd"])
TARGET_CHOICES = click.Choice(["crontab", "systemd"])
scope_option = click.option(
    "--scope", type=click.Choice(["user", "system"]), default="user", show_default=True,
    help="user: your crontab or user manager and ~/.local/state; system: the system manager and"
    " /var/lib/orchestration (root only).",
)


class Commands(click.Group):
    """A group that turns OrchestrationError into 'Error: ...' and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OrchestrationError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orchestration")
def main() -> None:
    """Define scheduled scripts in Python; cron or systemd runs them."""


@main.command()
@click.argument("tasks_file")
@click.option("--backend", type=BACKEND_CHOICES, default="auto", show_default=True,
              help="Where to install: auto picks crontab when a cron daemon runs, else systemd.")
@scope_option
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
def install(tasks_file: str, backend: str, scope: str, dry_run: bool) -> None:
    """Install (or update) the tasks of TASKS_FILE into the scheduler."""
    for changes in installer.install(tasks_file, backend=backend, scope=scope, dry_run=dry_run):
        for warning in changes.warnings:
            click.echo(f"Warning: {warning}", err=True)
        _echo_lines(installer.describe_changes(changes, dry_run=dry_run))
    if dry_run:
        click.echo("Dry run: nothing was written.")


@main.command()
@click.argument("tasks_file", required=False)
@click.option("--name", "namespace", metavar="NAMESPACE", help="Remove this namespace.")
@click.option("--all", "everything", is_flag=True, help="Remove every installed namespace.")
@scope_option
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
def uninstall(tasks_file: str | None, namespace: str | None, everything: bool, scope: str, dry_run: bool) -> None:
    """Remove the entries and manifests installed from TASKS_FILE (run records stay)."""
    removed = installer.uninstall(
        tasks_file=tasks_file, namespace=namespace, everything=everything, scope=scope, dry_run=dry_run
    )
    verb = "Would remove" if dry_run else "Removed"
    for changes in removed:
        for warning in changes.warnings:
            click.echo(f"Warning: {warning}", err=True)
        click.echo(
            f"{verb} namespace '{changes.namespace}' ({changes.backend}):"
            f" {len(changes.removed)} task(s) {', '.join(changes.removed)}"
        )
    if not removed:
        click.echo("Nothing is installed.")


@main.command(name="compile")
@click.argument("tasks_file")
@click.option("--target", type=TARGET_CHOICES, default="crontab", show_default=True,
              help="What to render.")
@scope_option
@click.option("--output", type=click.Path(file_okay=False), metavar="DIR",
              help="Write the files into DIR instead of printing them.")
def compile_command(tasks_file: str, target: str, scope: str, output: str | None) -> None:
    """Print (or write to DIR) what installing TASKS_FILE would write; touch nothing else."""
    plans = installer.compile_file(tasks_file, installer.capture_environment(scope_state(scope)))
    files = {}
    for plan in plans:
        manifest = plan.manifest(target, scope)
        path = str(manifests.versioned_path(plan.environment.state_dir, manifest))
        if target == "crontab":
            from .backends.crontab import render_block

            files[f"{plan.namespace}.crontab"] = render_block(manifest, path)
        else:
            from .backends.systemd import render_units

            files.update(render_units(manifest, path, scope))
    if output:
        _write_files(Path(output), files)
        return
    for name, text in files.items():
        if target == "systemd":
            click.echo(f"# --- {name} ---")
        click.echo(text, nl=False)


def _write_files(directory: Path, files: dict[str, str]) -> None:
    from .state import write_private

    for name, text in files.items():
        write_private(directory / name, text)
        click.echo(f"Wrote {directory / name}")


@main.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@scope_option
def list_command(as_json: bool, scope: str) -> None:
    """Show installed tasks: schedule, next firing time, last run, backend, tasks file."""
    listings = operations.list_installed(scope)
    if as_json:
        click.echo(json.dumps([listing.to_json() for listing in listings], indent=2))
        return
    if not listings:
        click.echo("Nothing is installed. Install a tasks file with `orchestration install tasks.py`.")
        return
    rows = [
        (
            item.reference + (" !" if item.problems else ""),
            item.schedule,
            item.description,
            _time(item.next_time) if item.next_time else "at boot",
            item.last_run.status if item.last_run else "-",
            item.backend,
            item.tasks_file,
        )
        for item in listings
    ]
    _echo_table(("TASK", "SCHEDULE", "WHEN", "NEXT", "LAST", "BACKEND", "TASKS FILE"), rows)
    if any(item.problems for item in listings):
        click.echo("! needs attention: see `orchestration status`")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@scope_option
def status(as_json: bool, scope: str) -> None:
    """Per task: the last run, failures in a row, the next firing time, and drift or breakage."""
    statuses = operations.list_installed(scope)
    if as_json:
        click.echo(json.dumps([item.to_json() for item in statuses], indent=2, ensure_ascii=False))
        return
    if not statuses:
        click.echo("Nothing is installed. Install a tasks file with `orchestration install tasks.py`.")
        return
    rows = [
        (
            item.reference,
            _last_run(item.last_run),
            str(item.failures_in_a_row),
            _time(item.next_time) if item.next_time else "at boot",
            item.description,
        )
        for item in statuses
    ]
    _echo_table(("TASK", "LAST RUN", "FAILURES IN A ROW", "NEXT", "WHEN"), rows)
    problems = {}  # in order, each once: the namespace's own, then each task's
    for item in statuses:
        for problem in item.namespace_problems:
            problems.setdefault(f"! {item.namespace}: {problem}")
        for problem in item.task_problems:
            problems.setdefault(f"! {item.reference}: {problem}")
    _echo_lines(problems)


def _last_run(run) -> str:
    if run is None:
        return "never"
    started = datetime.fromtimestamp(run.started_at).astimezone()
    code = f" (exit {run.exit_code})" if run.exit_code not in (None, 0) else ""
    return f"{run.status}{code} at {_time(started)}"


@main.command(name="next")
@click.argument("target", metavar="TASKS_FILE|NAMESPACE/TASK")
@click.option("--count", "-n", default=5, show_default=True, type=click.IntRange(1, 10000),
              help="How many firing times.")
@click.option("--from", "start", metavar="TIME", help="Start after TIME (ISO 8601) instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: task to a list of ISO 8601 times.")
@scope_option
def next_command(target: str, count: int, start: str | None, as_json: bool, scope: str) -> None:
    """Print the next firing times, exactly as the cron daemon will use them."""
    after = operations.parse_time(start) if start else datetime.now(local_timezone())
    upcoming = operations.upcoming(target, count=count, after=after, scope=scope)
    if as_json:
        click.echo(json.dumps({ref: [t.isoformat() for t in times] for ref, times in upcoming.items()}, indent=2))
        return
    for reference, times in upcoming.items():
        click.echo(reference)
        for moment in times:
            click.echo(f"  {_time(moment)}")
        if not times:
            click.echo("  at boot only (@reboot)")


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK")
@click.option("--at", "at", metavar="WHEN",
              help="Judge a run scheduled at WHEN (ISO 8601; local time without an offset)"
                   " instead of the next firing time.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@scope_option
def why(reference: str, at: str | None, as_json: bool, scope: str) -> None:
    """Say whether a task would run at a minute, and why not: its schedule and each skip condition."""
    from .why import explain  # noqa: PLC0415

    explanation = explain(scope_state(scope), reference, operations.parse_time(at) if at else None)
    if as_json:
        click.echo(json.dumps(explanation.to_json(), indent=2, ensure_ascii=False))
    else:
        _echo_lines(explanation.lines())


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK")
@scope_option
def run(reference: str, scope: str) -> None:
    """Run an installed task now through orchestration-exec, as the scheduler would."""
    sys.stdout.flush()
    code = operations.run_now(reference, scope)
    sys.exit(code)


@main.command()
@click.argument("reference", required=False, metavar="[NAMESPACE[/TASK]]")
@click.option("--limit", "-n", type=click.IntRange(1), default=20, show_default=True, help="How many runs.")
@click.option("--status", help="Only runs with this status (ok, failed, skipped, error, ...).")
@click.option("--since", metavar="WHEN", help="Only runs started after WHEN: 30m, 2h, 7d or ISO 8601.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--follow", "-f", is_flag=True, help="Then print each run as it starts and finishes.")
@scope_option
def history(reference: str | None, limit: int, status: str | None, since: str | None, as_json: bool,
            follow: bool, scope: str) -> None:
    """Show recorded runs, newest first."""
    state = scope_state(scope)
    since_time = parse_since(since) if since else None
    runs = records.history(state, reference, status=status, since=since_time, limit=limit)
    for warning in runs.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps([run.to_json() for run in runs], indent=2, ensure_ascii=False))
    elif runs:
        for run in reversed(runs):
            click.echo(format_run(run))
    elif not follow:
        click.echo("No runs recorded yet.")
    if follow:
        namespace, task = records.split_reference(reference)
        since = time.time()
        click.echo("Following new runs; press Ctrl-C to stop.")
        try:
            follow_runs(state, namespace=namespace, task=task, report=click.echo, since=since)
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
        for chunk in records.log_chunks(scope_state(scope), reference, run_id, follow=follow):
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        pass


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def _echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)


def _echo_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    main()
