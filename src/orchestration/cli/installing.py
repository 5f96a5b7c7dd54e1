"""install, uninstall, compile."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..errors import UsageError
from ..installer.diff import describe_changes
from ..state import write_private
from ..targets import TARGETS, as_text
from .completion import complete_file, complete_namespace
from .group import main, scope_option
from .output import echo, echo_json, echo_lines, warning

BACKEND_CHOICES = click.Choice(["auto", "crontab", "systemd", "kubernetes"])
IMAGE_HELP = "The container image the kubernetes target's pods run (it holds the project and orchestration)."


@main.command()
@click.argument("tasks_file", shell_complete=complete_file)
@click.option(
    "--backend",
    type=BACKEND_CHOICES,
    default="auto",
    show_default=True,
    help="Where to install: auto picks crontab when a cron daemon runs, else systemd; kubernetes applies CronJobs with kubectl.",
)
@scope_option
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--image", metavar="IMAGE", help=IMAGE_HELP + " Default: the image of the last install.")
@click.option("--json", "as_json", is_flag=True, help="Print what changed (with --dry-run: the plan) as JSON.")
def install(tasks_file: str, backend: str, scope: str, dry_run: bool, image: str | None, as_json: bool) -> None:
    """Install (or update) the tasks of TASKS_FILE into the scheduler."""
    installed = api.install(tasks_file, backend=backend, scope=scope, dry_run=dry_run, image=image)
    for changes in installed:
        for problem in changes.warnings:
            warning(problem)
    if as_json:
        echo_json({"dry_run": dry_run, "namespaces": [changes.to_json() for changes in installed]})
        return
    for changes in installed:
        echo_lines(describe_changes(changes, dry_run=dry_run))
    if dry_run:
        echo("Dry run: nothing was written.")


@main.command()
@click.argument("tasks_file", required=False, shell_complete=complete_file)
@click.option(
    "--name", "namespace", metavar="NAMESPACE", help="Remove this namespace.", shell_complete=complete_namespace
)
@click.option("--all", "everything", is_flag=True, help="Remove every installed namespace.")
@scope_option
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
def uninstall(tasks_file: str | None, namespace: str | None, everything: bool, scope: str, dry_run: bool) -> None:
    """Remove the entries and manifests installed from TASKS_FILE (run records stay)."""
    removed = api.uninstall(
        tasks_file=tasks_file, namespace=namespace, everything=everything, scope=scope, dry_run=dry_run
    )
    verb = "Would remove" if dry_run else "Removed"
    for changes in removed:
        for problem in changes.warnings:
            warning(problem)
        click.echo(
            f"{verb} namespace '{changes.namespace}' ({changes.backend}):"
            f" {len(changes.removed)} task(s) {', '.join(changes.removed)}"
        )
    if not removed:
        click.echo("Nothing is installed.")


@main.command(name="compile")
@click.argument("tasks_file", shell_complete=complete_file)
@click.option(
    "--target", type=click.Choice(sorted(TARGETS)), default="crontab", show_default=True, help="What to render."
)
@scope_option
@click.option(
    "--output",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write the files into DIR instead of printing them.",
)
@click.option("--image", metavar="IMAGE", help=IMAGE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the files as JSON: file name to text.")
def compile_command(
    tasks_file: str, target: str, scope: str, output: str | None, image: str | None, as_json: bool
) -> None:
    """Print (or write to DIR) what installing TASKS_FILE would write; touch nothing else."""
    if as_json and output:
        raise UsageError("--json prints the files and --output writes them into DIR: give one of them")
    files = api.render(tasks_file, target, scope=scope, image=image)
    if as_json:
        echo_json({"target": target, "files": files})
        return
    if output:
        for name, text in files.items():
            write_private(Path(output) / name, text)
            click.echo(f"Wrote {Path(output) / name}")
        return
    click.echo(as_text(target, files), nl=False)
