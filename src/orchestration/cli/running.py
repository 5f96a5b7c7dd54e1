"""run: an installed task now, as the scheduler would run it."""

from __future__ import annotations

import sys

import click

from .. import api
from .group import main, scope_option


@main.command()
@click.argument("reference", metavar="NAMESPACE/TASK")
@scope_option
def run(reference: str, scope: str) -> None:
    """Run an installed task now through orchestration-exec, as the scheduler would."""
    sys.exit(api.run(reference, scope=scope))
