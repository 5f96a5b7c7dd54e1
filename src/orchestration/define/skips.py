"""Built-in skip conditions: declarative, stored in the manifest, and evaluated by
`orchestration-exec` without importing the tasks file.

    from orchestration import skips

    task.add_skip(skips.weekend())
    task.add_skip(skips.on_dates_in_file("holidays.txt"))
    task.add_skip(skips.any_of(skips.outside_hours("09:00", "17:00"), skips.file_missing("in.csv")))

Each builder checks its arguments at the call (a DefinitionError that names the condition, the
argument and the fix) and returns a `Condition`: a kind, its arguments as JSON, and a description
used in messages, `orchestration why` and the journal. What each kind checks at a run is in
`rules.conditions`. Relative paths are resolved from the tasks file's folder, where commands
also run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import date, datetime, time

from ..errors import DefinitionError, RunError
from ..rules import conditions
from ..rules.context import RunContext

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Condition",
    "all_of",
    "any_of",
    "command_fails",
    "command_succeeds",
    "env_equals",
    "env_set",
    "file_exists",
    "file_missing",
    "inside_hours",
    "not_",
    "on_dates",
    "on_dates_in_file",
    "outside_hours",
    "previous_failed",
    "previous_succeeded",
    "succeeded_today",
    "weekdays",
    "weekend",
]

_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Condition:
    """A built-in skip condition, made by the functions of this module; true means skip the run."""

    __slots__ = ("args", "kind")

    def __init__(self, kind: str, args: dict[str, Any]) -> None:
        self.kind = kind
        self.args = args  # JSON values only: this is what the manifest stores

    @property
    def description(self) -> str:
        """The condition in words, as messages, `why` and the journal show it."""
        return conditions.describe(self.to_spec())

    def evaluate(self, context: RunContext) -> bool:
        """Whether the run `context` describes is skipped; RunError if that cannot be decided."""
        return conditions.check(self.to_spec(), context)

    def to_spec(self) -> dict[str, Any]:
        """The condition as the manifest stores it."""
        return {"type": self.kind, **self.args}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Condition:
        """The condition a manifest entry stores."""
        kind = spec.get("type")
        if not isinstance(kind, str) or not conditions.known(kind):
            raise RunError(
                f"the manifest has an unknown built-in skip condition {kind!r} (installed by another"
                " version of orchestration?); run `orchestration install TASKS_FILE` again"
            )
        return cls(kind, {key: value for key, value in spec.items() if key != "type"})

    def bound(self, base_dir: str | os.PathLike[str]) -> Condition:
        """The same condition with relative paths resolved from `base_dir`, where commands run."""
        base = os.fspath(base_dir)
        args = dict(self.args)
        if "path" in args:
            args["path"] = os.path.normpath(os.path.join(base, args["path"]))
        if "cwd" in args and args["cwd"] is None:
            args["cwd"] = base
        if "conditions" in args:
            args["conditions"] = [Condition.from_spec(c).bound(base).to_spec() for c in args["conditions"]]
        return Condition(self.kind, args)

    def __repr__(self) -> str:
        return f"<skip condition: {self.description}>"

    def __bool__(self) -> bool:
        # `if skips.weekend():` is always true and decides nothing; say what to write instead.
        raise TypeError(
            f"a skip condition ({self.description}) has no truth value of its own; give it to"
            " task.add_skip(...), or call .evaluate(context) in your own function"
        )


# --- calendar --------------------------------------------------------------------------------------


def weekend() -> Condition:
    """Skip runs scheduled on a Saturday or Sunday."""
    return Condition("weekend", {})


def weekdays() -> Condition:
    """Skip runs scheduled Monday to Friday."""
    return Condition("weekdays", {})


def on_dates(dates: Iterable[date | str]) -> Condition:
    """Skip runs scheduled on one of `dates` (datetime.date objects or 'YYYY-MM-DD' strings)."""
    call = "skips.on_dates"
    if isinstance(dates, (str, bytes, date)) or not _iterable(dates):
        raise DefinitionError(
            f"{call}: dates must be a list of dates such as ['2026-12-25', '2026-12-26'], not"
            f" {type(dates).__name__} {dates!r}",
            field="dates",
            hint="For dates kept in a file, use skips.on_dates_in_file(path).",
        )
    found = [_date_text(call, f"dates[{index}]", value) for index, value in enumerate(dates)]
    if not found:
        raise DefinitionError(
            f"{call}: dates is an empty list, so it would never skip; give at least one date", field="dates"
        )
    return Condition("on_dates", {"dates": sorted(set(found))})


def on_dates_in_file(path: str | os.PathLike[str]) -> Condition:
    """Skip runs scheduled on a date listed in the file `path`, read at each run: one
    'YYYY-MM-DD' a line; blank lines and '#' comments are allowed."""
    return Condition("on_dates_in_file", {"path": _path("skips.on_dates_in_file", path)})


# --- time of day -----------------------------------------------------------------------------------


def outside_hours(start: str | time, end: str | time) -> Condition:
    """Skip runs scheduled before `start` or from `end` on ('HH:MM', local time)."""
    return Condition("outside_hours", _window("skips.outside_hours", start, end))


def inside_hours(start: str | time, end: str | time) -> Condition:
    """Skip runs scheduled from `start` up to, not including, `end` ('HH:MM', local time)."""
    return Condition("inside_hours", _window("skips.inside_hours", start, end))


# --- the machine -----------------------------------------------------------------------------------


def file_exists(path: str | os.PathLike[str]) -> Condition:
    """Skip the run when `path` exists (a file, folder or anything else)."""
    return Condition("file_exists", {"path": _path("skips.file_exists", path)})


def file_missing(path: str | os.PathLike[str]) -> Condition:
    """Skip the run when `path` does not exist (for example: the input has not arrived)."""
    return Condition("file_missing", {"path": _path("skips.file_missing", path)})


def env_set(name: str) -> Condition:
    """Skip the run when the environment variable `name` is set (to any value, even empty)."""
    return Condition("env_set", {"name": _env_name("skips.env_set", name)})


def env_equals(name: str, value: str) -> Condition:
    """Skip the run when the environment variable `name` is set to exactly `value`."""
    call = "skips.env_equals"
    if not isinstance(value, str):
        raise DefinitionError(
            f"{call}: value must be a string (environment values are text), not"
            f" {type(value).__name__} {value!r}; write {str(value)!r}",
            field="value",
        )
    return Condition("env_equals", {"name": _env_name(call, name), "value": value})


def command_succeeds(argv: list[str], timeout: float = 10) -> Condition:
    """Skip the run when the command `argv` (a list, run without a shell) exits 0."""
    return Condition("command_succeeds", _command("skips.command_succeeds", argv, timeout))


def command_fails(argv: list[str], timeout: float = 10) -> Condition:
    """Skip the run when the command `argv` (a list, run without a shell) exits non-zero."""
    return Condition("command_fails", _command("skips.command_fails", argv, timeout))


# --- the task's own history ------------------------------------------------------------------------


def previous_failed() -> Condition:
    """Skip the run when the task's previous run failed (or ended in error, timed out or was
    killed); a skipped previous run did not fail."""
    return Condition("previous_failed", {})


def previous_succeeded() -> Condition:
    """Skip the run when the task's previous run succeeded."""
    return Condition("previous_succeeded", {})


def succeeded_today() -> Condition:
    """Skip the run when a run of the task already succeeded on the day it is scheduled for."""
    return Condition("succeeded_today", {})


# --- combining -------------------------------------------------------------------------------------


def any_of(*conditions: Condition) -> Condition:
    """Skip when at least one of `conditions` says skip (checked in order, stopping at the first)."""
    return Condition("any_of", {"conditions": _parts("skips.any_of", conditions)})


def all_of(*conditions: Condition) -> Condition:
    """Skip when every one of `conditions` says skip (checked in order, stopping at the first no)."""
    return Condition("all_of", {"conditions": _parts("skips.all_of", conditions)})


def not_(condition: Any) -> Condition:
    """Skip when `condition` says run, and run when it says skip."""
    if isinstance(condition, (list, tuple)):
        raise DefinitionError(
            "skips.not_: give one condition, not a list; to negate several, combine them first:"
            " skips.not_(skips.any_of(a, b))",
            field="condition",
        )
    return Condition("not", {"conditions": _parts("skips.not_", (condition,))})


# --- checking arguments at the call ----------------------------------------------------------------


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return not isinstance(value, dict)


def _date_text(call: str, where: str, value: Any) -> str:
    if isinstance(value, datetime):
        raise DefinitionError(
            f"{call}: {where} is a datetime ({value!r}); give the day only: {value.date().isoformat()!r}",
            field="dates",
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and conditions.ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise DefinitionError(
        f"{call}: {where} {value!r} is not a date; give datetime.date objects or ISO dates such as '2026-12-25'",
        field="dates",
    )


def _path(call: str, path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).strip():
        raise DefinitionError(f"{call}: path must be a file path such as '/data/in.csv', not {path!r}", field="path")
    text = os.fspath(path)
    if "\0" in text:
        raise DefinitionError(f"{call}: path {text!r} contains a NUL byte; remove it", field="path")
    return os.path.expanduser(text)


def _clock(call: str, name: str, value: Any) -> str:
    if isinstance(value, time):
        if value.second or value.microsecond:
            raise DefinitionError(
                f"{call}: {name} {value.isoformat()} has seconds; runs are judged by their minute,"
                f" so give hours and minutes: '{value:%H:%M}'",
                field=name,
            )
        return f"{value:%H:%M}"
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise DefinitionError(
            f"{call}: {name} {value!r} is not a time of day; write it as 'HH:MM' (24-hour clock),"
            " such as '09:00' or '17:30'",
            field=name,
        )
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _window(call: str, start: Any, end: Any) -> dict[str, str]:
    window = {"start": _clock(call, "start", start), "end": _clock(call, "end", end)}
    if window["start"] == window["end"]:
        raise DefinitionError(
            f"{call}: start and end are both {window['start']}, so the window is empty; give"
            " different times (a window may cross midnight: '22:00' to '06:00')",
            field="end",
        )
    return window


def _env_name(call: str, name: Any) -> str:
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise DefinitionError(
            f"{call}: name {name!r} is not an environment variable name; use letters, digits and"
            " '_', not starting with a digit, such as 'MAINTENANCE'",
            field="name",
        )
    return name


def _command(call: str, argv: Any, timeout: Any) -> dict[str, Any]:
    if isinstance(argv, (str, bytes)):
        raise DefinitionError(
            f"{call}: argv must be a list of arguments such as ['test', '-e', '/data/ready'], not"
            f" the string {argv!r}; no shell reads it, so split it into its words",
            field="argv",
        )
    if not isinstance(argv, (list, tuple)) or not argv:
        raise DefinitionError(
            f"{call}: argv must be a non-empty list of arguments such as ['test', '-e', '/data/ready'], not {argv!r}",
            field="argv",
        )
    words = []
    for index, word in enumerate(argv):
        if not isinstance(word, (str, os.PathLike)) or "\0" in os.fspath(word):
            raise DefinitionError(
                f"{call}: argv[{index}] {word!r} must be a string without NUL bytes (convert numbers with str())",
                field="argv",
            )
        words.append(os.fspath(word))
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise DefinitionError(f"{call}: timeout must be a positive number of seconds, not {timeout!r}", field="timeout")
    return {"argv": words, "timeout": timeout, "cwd": None}


def _parts(call: str, conditions: tuple[Any, ...]) -> list[dict[str, Any]]:
    if len(conditions) == 1 and isinstance(conditions[0], (list, tuple)):
        conditions = tuple(conditions[0])  # any_of([a, b]) reads as any_of(a, b)
    if not conditions:
        raise DefinitionError(
            f"{call}: give at least one condition, such as {call}(skips.weekend())", field="conditions"
        )
    for position, condition in enumerate(conditions, start=1):
        if not isinstance(condition, Condition):
            what = "a function" if callable(condition) else f"{type(condition).__name__} {condition!r}"
            raise DefinitionError(
                f"{call}: condition {position} is {what}; it combines conditions from orchestration.skips only",
                field="conditions",
                hint=(
                    "To combine your own function with them, write one function and give it to"
                    " add_skip: task.add_skip(lambda ctx: is_holiday(ctx) or"
                    " skips.weekend().evaluate(ctx))."
                ),
            )
    return [condition.to_spec() for condition in conditions]
