"""How the commands print: times, tables, lines, JSON, and colour.

Colour follows `--color auto|always|never` (default auto): auto colours a terminal unless the
NO_COLOR environment variable is set to anything but the empty string (https://no-color.org).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import click

from ..runtime.records import RunRecord

COLOR_MODES = ("auto", "always", "never")
STATUS_COLORS = {
    "ok": "green",
    "failed": "red",
    "error": "red",
    "timeout": "red",
    "killed": "red",
    "skipped": "yellow",
    "overlap": "yellow",
    "running": "cyan",
}
_color = False  # on stdout; decided once per command by the group's --color
_color_errors = False  # on stderr, which may be a terminal when stdout is not (or the reverse)


def set_color(mode: str) -> None:
    """Decide whether this command colours its output and its errors."""
    global _color, _color_errors
    if mode == "auto":
        allowed = not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        _color, _color_errors = allowed and sys.stdout.isatty(), allowed and sys.stderr.isatty()
    else:
        _color = _color_errors = mode == "always"


def styled(text: str, **style: Any) -> str:
    """`text` in colour when colour is on for either stream (`echo` takes it out for a stream
    without colour), else as it is."""
    return click.style(text, **style) if _color or _color_errors else text


def echo(text: str = "", *, err: bool = False) -> None:
    click.echo(text, err=err, color=_color_errors if err else _color)


def status_text(status: str, text: str | None = None) -> str:
    """A run's status (or `text`), coloured by the status."""
    color = STATUS_COLORS.get(status)
    return styled(text or status, fg=color) if color else text or status


def warning(message: str) -> None:
    echo(f"{styled('Warning:', fg='yellow', bold=True)} {message}", err=True)


def attention(line: str) -> str:
    """A '! ...' line: something that needs attention."""
    return styled(line, fg="yellow")


def time_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        echo(line)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


Paint = Callable[[int, str], str]  # (column, padded cell) -> the cell as printed


def echo_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], paint: Paint | None = None) -> None:
    """Columns padded to their widest cell; `paint` colours cells after padding."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for number, row in enumerate([headers, *rows]):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        if number == 0:
            cells = [styled(cell, bold=True) for cell in cells]
        elif paint is not None and _color:
            cells = [paint(column, cell) for column, cell in enumerate(cells)]
        lines.append("  ".join(cells).rstrip())
    echo("\n".join(lines))  # one write: a table may have thousands of rows


def last_run_text(run: RunRecord | None) -> str:
    if run is None:
        return "never"
    started = datetime.fromtimestamp(run.started_at).astimezone()
    code = f" (exit {run.exit_code})" if run.exit_code not in (None, 0) else ""
    return f"{run.status}{code} at {time_text(started)}"


def run_line(record: RunRecord, line: str) -> str:
    """A history line with its status coloured."""
    marker = f"  {record.status}"
    return line.replace(marker, f"  {status_text(record.status)}", 1) if _color else line
