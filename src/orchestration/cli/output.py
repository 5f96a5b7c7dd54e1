"""How the commands print: times, tables, lines, JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import click

from ..runtime.records import RunRecord


def time_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def echo_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def last_run_text(run: RunRecord | None) -> str:
    if run is None:
        return "never"
    started = datetime.fromtimestamp(run.started_at).astimezone()
    code = f" (exit {run.exit_code})" if run.exit_code not in (None, 0) else ""
    return f"{run.status}{code} at {time_text(started)}"
