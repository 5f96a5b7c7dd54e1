"""Checks of the arguments of the API's calls: each returns the value to keep, or raises a
DefinitionError at the call that is wrong, naming the task, the argument and the fix."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

from ..errors import DefinitionError
from ..rules.policy import OVERLAP_POLICIES, RunPolicy
from ..rules.values import PARAM_TYPES, SUPPORTED, Secret, is_dynamic, value_problem
from .schedule import Schedule

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

SCRIPT_TYPES = ("bash", "python")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_RETRIES = 1000  # more is a mistake: a failing script would be started again without end


def check_name(name: Any, call: str, what: str, task: str | None = None) -> str:
    """A namespace or task name: letters, digits, '-' and '_' (it appears in crontab and unit names)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise DefinitionError(
            f"{call}: {what} {name!r} must be 1-64 letters, digits, '-' or '_', starting with a"
            " letter or digit (it becomes part of crontab markers and unit file names)",
            task=task,
            field="name",
        )
    return name


def interpreter(python: Any) -> str:
    """The absolute path of an executable interpreter for python scripts."""
    if not isinstance(python, (str, os.PathLike)):
        raise DefinitionError(
            f"Orchestrator(python=...): {python!r} is not a path to a Python interpreter", field="python"
        )
    path = os.path.abspath(os.path.expanduser(os.fspath(python)))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise DefinitionError(
            f"Orchestrator(python=...): {path} is not an executable file; give the path of the"
            " interpreter that python scripts should run with",
            field="python",
        )
    return path


def positive(value: Any, name: str, what: str, *, integer: bool = False) -> Any:
    """A positive (whole) number for an Orchestrator argument."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 < value < float("inf"):
        raise DefinitionError(
            f"Orchestrator({name}=...): {value!r} is not a positive {'whole ' if integer else ''}number of {what}",
            field=name,
        )
    return value


def run_policy(
    timeout: Any,
    overlap: Any,
    retries: Any,
    retry_delay: Any,
    label: str,
    catch_up: Any,
    schedules: tuple[Schedule, ...],
    jitter: Any = 0,
) -> RunPolicy:
    """The run policy of add_task's arguments."""
    if timeout is not None and not _seconds(timeout, minimum_exclusive=True):
        raise DefinitionError(
            f"add_task: timeout {timeout!r} must be a number of seconds above 0, or None for no limit",
            task=label,
            field="timeout",
        )
    if overlap not in OVERLAP_POLICIES:
        raise DefinitionError(
            f"add_task: overlap {overlap!r} must be one of {', '.join(repr(p) for p in OVERLAP_POLICIES)}"
            " (skip a firing while the previous run still runs, queue it, or allow both)",
            task=label,
            field="overlap",
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise DefinitionError(
            f"add_task: retries {retries!r} must be a whole number of extra attempts, from 0 to {MAX_RETRIES}",
            task=label,
            field="retries",
        )
    if not _seconds(retry_delay, minimum_exclusive=False):
        raise DefinitionError(
            f"add_task: retry_delay {retry_delay!r} must be a number of seconds, 0 or more",
            task=label,
            field="retry_delay",
        )
    if not isinstance(catch_up, bool):
        raise DefinitionError(
            f"add_task: catch_up {catch_up!r} must be True (run a firing missed while the machine was"
            " down once it is back) or False",
            task=label,
            field="catch_up",
        )
    if catch_up and any(schedule.reboot for schedule in schedules):
        raise DefinitionError(
            "add_task: catch_up=True has nothing to catch up on an @reboot task, which runs at every"
            " start; remove catch_up",
            task=label,
            field="catch_up",
        )
    return RunPolicy(
        timeout=timeout,
        overlap=overlap,
        retries=retries,
        retry_delay=retry_delay,
        catch_up=catch_up,
        jitter=jitter_seconds(jitter, label),
    )


MAX_JITTER = 86400


def jitter_seconds(value: Any, label: str) -> int:
    """A jitter window: whole seconds from 0 (none) to a day."""
    whole = (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )
    if not whole or not 0 <= value <= MAX_JITTER:
        raise DefinitionError(
            f"add_task: jitter {value!r} must be a whole number of seconds from 0 to {MAX_JITTER}"
            " (each run starts within that many seconds after its firing time, at a delay of its own)",
            task=label,
            field="jitter",
        )
    return int(value)


def environment(env: Any, label: str) -> dict[str, Any]:
    """add_task's `env`: variable names to plain values or secret(...) of one."""
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise DefinitionError(
            f"add_task: env must be a dict of variable name to value, not {type(env).__name__} {env!r}",
            task=label,
            field="env",
        )
    for key, value in env.items():
        if not isinstance(key, str) or not ENV_NAME.fullmatch(key):
            raise DefinitionError(
                f"add_task: env: {key!r} is not a variable name; use letters, digits and '_', not"
                " starting with a digit",
                task=label,
                field="env",
            )
        if key.upper().startswith("ORCHESTRATION_"):
            raise DefinitionError(
                f"add_task: env: {key!r} starts with ORCHESTRATION_, which orchestration sets itself;"
                " choose another name",
                task=label,
                field="env",
            )
        inner = value.value if isinstance(value, Secret) else value
        if is_dynamic(inner):
            raise DefinitionError(
                f"add_task: env: {key!r} is a template or a function; a variable takes a plain"
                f" {SUPPORTED}, or secret() of one (values worked out at each run are parameters)",
                task=label,
                field="env",
            )
        if not isinstance(inner, PARAM_TYPES):
            raise DefinitionError(
                f"add_task: env: {key!r} has a value of type {type(inner).__name__}; use a {SUPPORTED},"
                " or secret() of one",
                task=label,
                field="env",
            )
        problem = value_problem(f"env {key!r}", inner, key)  # never shows the value
        if problem:
            raise DefinitionError(f"add_task: {problem}", task=label, field="env")
    return dict(env)


def _seconds(value: Any, *, minimum_exclusive: bool) -> bool:
    if not _finite(value):
        return False
    return bool(value > 0 if minimum_exclusive else value >= 0)


def _finite(value: Any) -> bool:
    """Whether `value` is an int or a float (not a bool) that a float can hold and is finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float: no count of seconds is that long
        return False


def script_type(value: Any, label: str) -> str:
    """'bash' or 'python', in any case."""
    if isinstance(value, str) and value.lower() in SCRIPT_TYPES:
        return value.lower()
    import difflib  # only to word an error: a run that loads the file does without

    close = difflib.get_close_matches(str(value).lower(), SCRIPT_TYPES, n=1, cutoff=0.5)
    raise DefinitionError(
        f"add_task: unknown script_type {value!r}; valid types are {', '.join(repr(t) for t in SCRIPT_TYPES)}",
        task=label,
        field="script_type",
        hint=f"Did you mean {close[0]!r}?" if close else None,
    )


def interval(value: Any, label: str) -> float:
    """Seconds between consecutive scripts: a finite number, 0 or more."""
    if not _finite(value):
        raise DefinitionError(
            f"add_task: interval must be a number of seconds between scripts, not {value!r}",
            task=label,
            field="interval",
        )
    if value < 0:
        raise DefinitionError(
            f"add_task: interval {value} is negative; give the seconds to wait between scripts (0 or more, default 1)",
            task=label,
            field="interval",
        )
    return value if isinstance(value, int) else float(value)


def zone(value: Any, call: str, label: str | None = None) -> str:
    """An IANA time zone name that this machine's zoneinfo knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    if isinstance(value, str) and value and "\0" not in value:
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    import difflib  # only to word an error

    close = difflib.get_close_matches(str(value), sorted(available_timezones()), n=1, cutoff=0.6)
    raise DefinitionError(
        f"{call}: timezone {value!r} is not a time zone this machine knows; give an IANA name such as"
        " 'America/New_York', 'Europe/Berlin' or 'UTC'",
        task=label,
        field="timezone",
        hint=f"Did you mean {close[0]!r}?" if close else None,
    )
