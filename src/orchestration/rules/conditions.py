"""What each built-in skip condition checks, and how it is described.

A condition is stored as a spec, `{"type": KIND, **arguments}` with JSON values only, made by the
builders of `orchestration.skips`. `describe(spec)` gives it in words (for messages, `why` and
the journal) and `check(spec, context)` decides a run: true means skip. Time-based conditions
judge the minute the run was scheduled for, in its local time, not the wall clock.

Standard library only: the shim evaluates these for every task that has built-in conditions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime

from ..errors import RunError
from .context import RunContext

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

    Spec = Mapping[str, Any]

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FAILURE_STATUSES = ("failed", "error", "timeout", "killed")
LISTED_DATES = 3  # on_dates describes up to this many dates one by one


def describe(spec: Spec) -> str:
    """The condition in words."""
    return _KINDS[spec["type"]][0](spec)


def check(spec: Spec, context: RunContext) -> bool:
    """Whether the run `context` describes is skipped; RunError if that cannot be decided."""
    return bool(_KINDS[spec["type"]][1](spec, context))


def known(kind: Any) -> bool:
    return kind in _KINDS


# --- helpers, by kind --------------------------------------------------------------------------


def _scheduled(context: RunContext) -> datetime:
    """The run's scheduled minute, in the zone it is given in (the task's, else the machine's)."""
    return context.scheduled_time


def _minute_of_day(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _inside(spec: Spec, context: RunContext) -> bool:
    moment = _scheduled(context)
    minute = moment.hour * 60 + moment.minute
    start, end = _minute_of_day(spec["start"]), _minute_of_day(spec["end"])
    return start <= minute < end if start < end else (minute >= start or minute < end)


def _describe_dates(spec: Spec) -> str:
    dates = spec["dates"]
    if len(dates) == 1:
        return f"on {dates[0]}"
    if len(dates) <= LISTED_DATES:
        return f"on {', '.join(dates[:-1])} or {dates[-1]}"
    return f"on one of {len(dates)} dates from {dates[0]} to {dates[-1]}"


def read_dates_file(path: str) -> set[str]:
    """The ISO dates listed in a dates file; RunError naming the file (and line) if it is bad."""
    try:
        with open(path, encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise RunError(f"cannot read the dates file {path}: {reason}") from None
    found = set()
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            if not ISO_DATE.fullmatch(text):
                raise ValueError
            found.add(date.fromisoformat(text).isoformat())
        except ValueError:
            raise RunError(
                f"the dates file {path}, line {number}: {text!r} is not a date; write one"
                " YYYY-MM-DD date per line ('#' starts a comment)"
            ) from None
    return found


def _run_command(spec: Spec, context: RunContext) -> int:
    import shlex
    import subprocess

    shown = shlex.join(spec["argv"])
    try:
        return subprocess.run(
            spec["argv"],
            cwd=spec["cwd"],
            env=dict(context.environ) or None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=spec["timeout"],
            check=False,
        ).returncode
    except subprocess.TimeoutExpired:
        raise RunError(f"command `{shown}` did not finish within {spec['timeout']:g}s") from None
    except OSError as error:
        raise RunError(f"command `{shown}` could not start: {error.strerror or error}") from None


def _describe_command(spec: Spec, outcome: str) -> str:
    import shlex

    return f"command `{shlex.join(spec['argv'])}` {outcome}"


def _succeeded_today(context: RunContext) -> bool:
    last = context.last_success_time
    if last is None:
        return False
    last = last.astimezone() if last.tzinfo is not None else last
    return last.date() == _scheduled(context).date()


def _describe_parts(spec: Spec, joiner: str) -> str:
    parts = []
    for part in spec["conditions"]:
        text = describe(part)
        nested = part["type"] in ("any_of", "all_of") and len(part["conditions"]) > 1
        parts.append(f"({text})" if nested else text)
    return f" {joiner} ".join(parts)


def _each(spec: Spec, context: RunContext) -> Iterable[bool]:
    return (check(part, context) for part in spec["conditions"])


# kind: (describe(spec) -> str, check(spec, context) -> bool)
_KINDS: dict[str, tuple[Callable[[Spec], str], Callable[[Spec, RunContext], bool]]] = {
    "weekend": (lambda s: "weekend (Saturday or Sunday)", lambda s, c: _scheduled(c).weekday() >= 5),
    "weekdays": (lambda s: "weekday (Monday to Friday)", lambda s, c: _scheduled(c).weekday() < 5),
    "on_dates": (_describe_dates, lambda s, c: _scheduled(c).date().isoformat() in s["dates"]),
    "on_dates_in_file": (
        lambda s: f"on a date listed in {s['path']}",
        lambda s, c: _scheduled(c).date().isoformat() in read_dates_file(s["path"]),
    ),
    "outside_hours": (lambda s: f"outside {s['start']}-{s['end']}", lambda s, c: not _inside(s, c)),
    "inside_hours": (lambda s: f"inside {s['start']}-{s['end']}", _inside),
    "file_exists": (lambda s: f"file {s['path']} exists", lambda s, c: os.path.exists(s["path"])),
    "file_missing": (lambda s: f"file {s['path']} is missing", lambda s, c: not os.path.exists(s["path"])),
    "env_set": (lambda s: f"environment variable {s['name']} is set", lambda s, c: s["name"] in c.environ),
    "env_equals": (
        lambda s: f"environment variable {s['name']} is {s['value']!r}",
        lambda s, c: c.environ.get(s["name"]) == s["value"],
    ),
    "command_succeeds": (lambda s: _describe_command(s, "succeeds"), lambda s, c: _run_command(s, c) == 0),
    "command_fails": (lambda s: _describe_command(s, "fails"), lambda s, c: _run_command(s, c) != 0),
    "previous_failed": (lambda s: "the previous run failed", lambda s, c: c.previous_status in FAILURE_STATUSES),
    "previous_succeeded": (lambda s: "the previous run succeeded", lambda s, c: c.previous_status == "ok"),
    "succeeded_today": (lambda s: "already succeeded today", lambda s, c: _succeeded_today(c)),
    "any_of": (lambda s: _describe_parts(s, "or"), lambda s, c: any(_each(s, c))),
    "all_of": (lambda s: _describe_parts(s, "and"), lambda s, c: all(_each(s, c))),
    "not": (lambda s: f"not ({_describe_parts(s, 'and')})", lambda s, c: not all(_each(s, c))),
}
