"""The documented API: `Orchestrator`, `Task` and their parts.

Every call validates its arguments at once and raises a `DefinitionError` at the call that is
wrong. Nothing here touches the scheduler: `execute_tasks()` hands over to `operations`.
"""

from __future__ import annotations

import math
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Union

from .errors import DefinitionError
from .params import PARAM_TYPES, SUPPORTED, Secret, Template, is_dynamic, name_problem, nul_problem
from .schedule import Schedule, parse_schedule
from .skips import Condition

SCRIPT_TYPES = ("bash", "python")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

ParamValue = Union[str, int, float, bool, Path, Template, Secret, Callable[..., Any]]
SkipCondition = Union[bool, Condition, Callable[..., Any]]


@dataclass(frozen=True)
class Step:
    """One `add_script` (one parameter set) or `add_repeat` (one run per parameter set, or per
    dict of the list that `parameter_function` returns at each run)."""

    path: Path
    parameter_sets: tuple[Mapping[str, Any], ...]
    repeat: bool = False
    parameter_function: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Retention:
    """How much history each task keeps: pruned by the runs themselves, no daemon needed."""

    keep_runs: int
    keep_days: float
    max_log_bytes: int


OVERLAP_POLICIES = ("skip", "queue", "allow")


@dataclass(frozen=True)
class RunPolicy:
    """How runs of a task are bounded: time limit, overlapping firings, retries, catching up."""

    timeout: float | None = None
    overlap: str = "skip"
    retries: int = 0
    retry_delay: float = 0
    catch_up: bool = False


@dataclass
class Task:
    """A cron schedule and the scripts it runs in order, `interval` seconds apart."""

    cron_expression: str
    script_type: str
    interval: float
    name: str | None
    schedule: Schedule
    base_dir: Path
    number: int  # 1-based position in its Orchestrator, for messages about unnamed tasks
    defined_at: str = ""  # "tasks.py:12", where add_task was called
    policy: RunPolicy = field(default_factory=RunPolicy)
    steps: list[Step] = field(default_factory=list)
    skips: list[SkipCondition] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How messages name this task."""
        if self.name:
            return f"task '{self.name}'"
        if self.steps:
            return f"task '{self.steps[0].path.stem}'"
        return f"task #{self.number} ('{self.cron_expression}')"

    def add_script(self, script_path: str | os.PathLike[str], script_parameters: Mapping[str, Any] | None = None) -> "Task":
        """Run `script_path` with `script_parameters` as positional arguments, in insertion order."""
        path = self._script(script_path, "add_script")
        params = self._parameters(script_parameters or {}, "add_script", "script_parameters")
        self.steps.append(Step(path=path, parameter_sets=(params,)))
        return self

    def add_repeat(self, script_path: str | os.PathLike[str], script_parameters: Any) -> "Task":
        """Run `script_path` once per parameter dict in the list `script_parameters`, or in the
        list a function given as `script_parameters` returns at each run."""
        path = self._script(script_path, "add_repeat")
        if is_dynamic(script_parameters) and not isinstance(script_parameters, Template):
            step = Step(path=path, parameter_sets=(), repeat=True, parameter_function=script_parameters)
            self.steps.append(step)
            return self
        if not isinstance(script_parameters, (list, tuple)):
            raise DefinitionError(
                f"add_repeat: script_parameters must be a list of dicts, one per run, or a"
                f" function that returns one at each run, not {type(script_parameters).__name__}",
                task=self.label,
                field="script_parameters",
                hint="Use add_script for a single run: task.add_script(path, {'key': 'value'})",
            )
        if not script_parameters:
            raise DefinitionError(
                "add_repeat: script_parameters is an empty list, so the script would never run;"
                " give at least one dict of parameters",
                task=self.label,
                field="script_parameters",
            )
        sets = tuple(
            self._parameters(params, "add_repeat", f"script_parameters[{index}]")
            for index, params in enumerate(script_parameters)
        )
        self.steps.append(Step(path=path, parameter_sets=sets, repeat=True))
        return self

    def add_skip(self, condition: SkipCondition) -> "Task":
        """Skip a run when `condition` is true: a bool, a condition from `orchestration.skips`,
        or a function called at run time (with no argument or a RunContext)."""
        if isinstance(condition, Condition):
            self.skips.append(condition.bound(self.base_dir))
            return self
        if callable(condition) and getattr(condition, "__module__", None) == Condition.__module__:
            raise DefinitionError(
                f"add_skip: skips.{condition.__name__} makes a condition; call it:"
                f" add_skip(skips.{condition.__name__}(...))",
                task=self.label,
                field="condition",
            )
        if not (isinstance(condition, bool) or callable(condition)):
            raise DefinitionError(
                f"add_skip: condition must be True/False, a condition from orchestration.skips or"
                f" a function returning True/False, not {type(condition).__name__} {condition!r}",
                task=self.label,
                field="condition",
            )
        self.skips.append(condition)
        return self

    def _script(self, script_path: Any, call: str) -> Path:
        if not isinstance(script_path, (str, os.PathLike)) or not str(script_path).strip():
            raise DefinitionError(
                f"{call}: script_path must be a path to a script file, not {script_path!r}",
                task=self.label,
                field="script_path",
            )
        path = Path(os.path.expanduser(os.fspath(script_path)))
        path = path if path.is_absolute() else self.base_dir / path
        path = Path(os.path.normpath(path))
        if not path.is_file():
            reason = "is a directory" if path.is_dir() else "does not exist"
            raise DefinitionError(
                f"{call}: script {path} {reason}",
                task=self.label,
                field="script_path",
                hint=f"Relative paths are resolved from the tasks file's folder {self.base_dir}.",
            )
        if not os.access(path, os.R_OK):
            raise DefinitionError(
                f"{call}: script {path} is not readable; check its permissions",
                task=self.label,
                field="script_path",
            )
        return path

    def _parameters(self, params: Any, call: str, where: str) -> dict[str, Any]:
        if not isinstance(params, Mapping):
            raise DefinitionError(
                f"{call}: {where} must be a dict of parameter name to value, not"
                f" {type(params).__name__} {params!r}",
                task=self.label,
                field="script_parameters",
            )
        seen: dict[str, str] = {}
        for key, value in params.items():
            problem = name_problem(key, where, seen) or self._value_problem(key, value)
            if problem:
                raise DefinitionError(f"{call}: {problem}", task=self.label, field="script_parameters")
        return dict(params)

    @staticmethod
    def _value_problem(key: str, value: Any) -> str | None:
        if isinstance(value, Secret) or is_dynamic(value):
            return None  # secret() checked its value; dynamic ones are checked at each run
        if not isinstance(value, PARAM_TYPES):
            return (
                f"parameter {key!r} has a value of type {type(value).__name__} ({value!r}); use"
                f" {SUPPORTED}, or work it out at each run with template('...') or a function"
            )
        return nul_problem(key, value)


class Orchestrator:
    """A namespace of tasks, compiled into crontab entries or systemd timers by `install`."""

    def __init__(
        self,
        name: str | None = None,
        *,
        python: str | os.PathLike[str] | None = None,
        keep_runs: int = 100,
        keep_days: float = 30,
        max_log_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        if name is not None:
            check_name(name, "Orchestrator(name=...)", "namespace")
        self.name = name
        self.python = _interpreter(python) if python is not None else None
        self.retention = Retention(
            keep_runs=_positive(keep_runs, "keep_runs", "runs to keep per task", integer=True),
            keep_days=_positive(keep_days, "keep_days", "days to keep runs and logs"),
            max_log_bytes=_positive(max_log_bytes, "max_log_bytes", "bytes kept of each run's log", integer=True),
        )
        self.tasks: list[Task] = []
        self._names: set[str | None] = set()  # task names in use, for a quick uniqueness check
        self.tasks_file = _defining_file()
        _register(self)

    @property
    def base_dir(self) -> Path:
        return self.tasks_file.parent if self.tasks_file else Path.cwd()

    def add_task(
        self,
        cron_expression: str,
        script_type: str,
        interval: float = 1,
        *,
        name: str | None = None,
        timeout: float | None = None,
        overlap: str = "skip",
        retries: int = 0,
        retry_delay: float = 0,
        catch_up: bool = False,
    ) -> Task:
        """A task that runs on `cron_expression` with scripts of `script_type` ('bash' or 'python').

        `timeout`: seconds a run may take before its scripts are stopped (None: no limit).
        `overlap`: what a firing does while the previous run still runs: 'skip' it (recorded as
        'overlap'), 'queue' it until the previous run ends, or 'allow' both to run.
        `retries`, `retry_delay`: run a failed or timed-out run again, up to `retries` times.
        `catch_up`: run once at start-up when the last firing was missed while the machine (or
        the scheduler) was down, as anacron and systemd's Persistent= do.
        """
        number = len(self.tasks) + 1
        label = f"task '{name}'" if isinstance(name, str) else f"task #{number} ('{cron_expression}')"
        if name is not None:
            check_name(name, "add_task(name=...)", "task name", label)
            if name in self._names:
                raise DefinitionError(
                    f"add_task: the name {name!r} is already used by another task of this"
                    " Orchestrator; task names must be unique",
                    task=label,
                    field="name",
                )
        schedule = parse_schedule(cron_expression, label)
        task = Task(
            cron_expression=cron_expression,
            script_type=_script_type(script_type, label),
            interval=_interval(interval, label),
            name=name,
            schedule=schedule,
            base_dir=self.base_dir,
            number=number,
            defined_at=self._caller_location(),
            policy=_run_policy(timeout, overlap, retries, retry_delay, label, catch_up, schedule),
        )
        self.tasks.append(task)
        self._names.add(name)
        return task

    def _caller_location(self) -> str:
        """file:line of the tasks file's call that is running now."""
        frame = sys._getframe(1)
        while frame is not None:
            if self.tasks_file and Path(frame.f_code.co_filename) == self.tasks_file:
                return f"{self.tasks_file}:{frame.f_lineno}"
            frame = frame.f_back  # type: ignore[assignment]
        return str(self.tasks_file or "")

    def execute_tasks(self, follow: bool = True, *, backend: str = "auto") -> None:
        """Install this Orchestrator's tasks, then print each run as it happens until Ctrl-C.

        While `orchestration install` imports the tasks file this returns at once.
        """
        if _collecting:
            return
        from .operations import execute  # noqa: PLC0415 - keeps `import orchestration` light

        execute(self, follow=follow, backend=backend)


def check_name(name: Any, call: str, what: str, task: str | None = None) -> str:
    """A namespace or task name: letters, digits, '-' and '_' (it appears in crontab and unit names)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise DefinitionError(
            f"{call}: {what} {name!r} must be 1-64 letters, digits, '-' or '_', starting with a"
            " letter or digit (it becomes part of crontab markers and unit file names)",
            task=task,
            field="name",
        )
    return name


def _interpreter(python: Any) -> str:
    if not isinstance(python, (str, os.PathLike)):
        raise DefinitionError(f"Orchestrator(python=...): {python!r} is not a path to a Python interpreter",
                              field="python")
    path = os.path.abspath(os.path.expanduser(os.fspath(python)))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise DefinitionError(
            f"Orchestrator(python=...): {path} is not an executable file; give the path of the"
            " interpreter that python scripts should run with",
            field="python",
        )
    return path


def _positive(value: Any, name: str, what: str, *, integer: bool = False) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 < value < float("inf"):
        raise DefinitionError(
            f"Orchestrator({name}=...): {value!r} is not a positive"
            f" {'whole ' if integer else ''}number of {what}",
            field=name,
        )
    return value


def _run_policy(timeout: Any, overlap: Any, retries: Any, retry_delay: Any, label: str, catch_up: Any,
                schedule: Schedule) -> RunPolicy:
    if timeout is not None and not _seconds(timeout, minimum_exclusive=True):
        raise DefinitionError(
            f"add_task: timeout {timeout!r} must be a number of seconds above 0, or None for no limit",
            task=label, field="timeout",
        )
    if overlap not in OVERLAP_POLICIES:
        raise DefinitionError(
            f"add_task: overlap {overlap!r} must be one of {', '.join(repr(p) for p in OVERLAP_POLICIES)}"
            " (skip a firing while the previous run still runs, queue it, or allow both)",
            task=label, field="overlap",
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise DefinitionError(
            f"add_task: retries {retries!r} must be a whole number of extra attempts, 0 or more",
            task=label, field="retries",
        )
    if not _seconds(retry_delay, minimum_exclusive=False):
        raise DefinitionError(
            f"add_task: retry_delay {retry_delay!r} must be a number of seconds, 0 or more",
            task=label, field="retry_delay",
        )
    if not isinstance(catch_up, bool):
        raise DefinitionError(
            f"add_task: catch_up {catch_up!r} must be True (run a firing missed while the machine was"
            " down once it is back) or False",
            task=label, field="catch_up",
        )
    if catch_up and schedule.reboot:
        raise DefinitionError(
            "add_task: catch_up=True has nothing to catch up on an @reboot task, which runs at every"
            " start; remove catch_up",
            task=label, field="catch_up",
        )
    return RunPolicy(timeout=timeout, overlap=overlap, retries=retries, retry_delay=retry_delay,
                     catch_up=catch_up)


def _seconds(value: Any, *, minimum_exclusive: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value > 0 if minimum_exclusive else value >= 0


def _script_type(script_type: Any, label: str) -> str:
    if isinstance(script_type, str) and script_type.lower() in SCRIPT_TYPES:
        return script_type.lower()
    import difflib  # noqa: PLC0415

    close = difflib.get_close_matches(str(script_type).lower(), SCRIPT_TYPES, n=1, cutoff=0.5)
    raise DefinitionError(
        f"add_task: unknown script_type {script_type!r}; valid types are"
        f" {', '.join(repr(t) for t in SCRIPT_TYPES)}",
        task=label,
        field="script_type",
        hint=f"Did you mean {close[0]!r}?" if close else None,
    )


def _interval(interval: Any, label: str) -> float:
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not math.isfinite(interval):
        raise DefinitionError(
            f"add_task: interval must be a number of seconds between scripts, not {interval!r}",
            task=label,
            field="interval",
        )
    if interval < 0:
        raise DefinitionError(
            f"add_task: interval {interval} is negative; give the seconds to wait between"
            " scripts (0 or more, default 1)",
            task=label,
            field="interval",
        )
    return interval


# --- collecting mode: `orchestration install tasks.py` gathers the Orchestrators it creates ---

_collecting: list[Orchestrator] | None = None
_collecting_file: Path | None = None


@contextmanager
def collecting(tasks_file: Path) -> Iterator[list[Orchestrator]]:
    """Gather every Orchestrator created while importing `tasks_file`; execute_tasks() returns."""
    global _collecting, _collecting_file
    saved = (_collecting, _collecting_file)
    _collecting, _collecting_file = [], tasks_file
    try:
        yield _collecting
    finally:
        _collecting, _collecting_file = saved


def _register(orchestrator: Orchestrator) -> None:
    if _collecting is not None:
        _collecting.append(orchestrator)


def _defining_file() -> Path | None:
    """The tasks file that creates this Orchestrator: the one being loaded, else the caller's."""
    if _collecting_file is not None:
        return _collecting_file
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_globals.get("__file__")
        if filename and Path(filename).resolve().parent != Path(__file__).resolve().parent:
            return Path(os.path.abspath(filename))
        frame = frame.f_back  # type: ignore[assignment]
    return None
