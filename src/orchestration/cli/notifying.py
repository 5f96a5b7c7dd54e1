"""metrics, notify test: what the tasks report."""

from __future__ import annotations

import sys

import click

from .. import api
from .completion import complete_task
from .group import main, scope_option


@main.command()
@scope_option
@click.option(
    "--output",
    metavar="FILE",
    help="Also write them to FILE (DIR/orchestration.prom), through a temporary file renamed over it.",
)
def metrics(scope: str, output: str | None) -> None:
    """Print the metrics of every installed task in Prometheus's text format."""
    found = api.metrics(scope=scope, output=output)
    if output is None:
        click.echo(found.text, nl=False)
    else:
        click.echo(f"Wrote {output} ({len(found)} task(s))")


@main.group()
def notify() -> None:
    """Notifications of installed tasks."""


@notify.command(name="test")
@click.argument("reference", metavar="NAMESPACE/TASK", shell_complete=complete_task)
@scope_option
def notify_test(reference: str, scope: str) -> None:
    """Send a test notification through every channel of a task, and say what happened."""
    deliveries = api.notify_test(reference, scope=scope)
    click.echo(f"Test notification of {reference}:")
    for delivery in deliveries:
        click.echo(
            f"  {delivery.channel} {delivery.target}: {'sent' if delivery.sent else 'failed'} ({delivery.detail})"
        )
    failed = sum(not delivery.sent for delivery in deliveries)
    if failed:
        click.echo(f"{failed} of {len(deliveries)} failed.", err=True)
        sys.exit(1)
    click.echo(f"All {len(deliveries)} sent.")
