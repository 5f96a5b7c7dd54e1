"""The definitions of the documented API: `Orchestrator` and `Task`.

Every call validates its arguments at once and raises a `DefinitionError` at the call that is
wrong. Nothing here touches the scheduler: `orchestration.Orchestrator` adds `execute_tasks()`,
which installs (see `orchestration.api`).

While `orchestration install` imports a tasks file (`collecting`), every Orchestrator it creates
is gathered, and `execute_tasks()` returns at once.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from ..errors import DefinitionError
from ..frozen import Frozen
from ..rules.notify import Ping, Rule
from ..rules.policy import Retention, RunPolicy
from ..rules.values import Template, is_dynamic
from . import checks
from . import notify as notify_rules
from .parameters import checked_parameters, function_problem
from .schedule import Schedule, parse_schedules
from .skips import Condition

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    SkipCondition: TypeAlias = bool | Condition | Callable[..., Any]


class Step(Frozen):
    """One `add_script` (one parameter set) or `add_repeat` (one run per parameter set, or per
    dict of the list that `parameter_function` returns at each run)."""

    path: Path
    parameter_sets: tuple[Mapping[str, Any], ...]
    repeat: bool = False
    parameter_function: Callable[..., Any] | None = None


def unnamed_label(number: int, expression: object) -> str:
    """How messages name a task without a name: its position and its schedule."""
    if isinstance(expression, tuple):
        return f"task #{number} ({', '.join(repr(part) for part in expression)})"
    return f"task #{number} ('{expression}')"


class Task:
    """A cron schedule (or several, whose union is when it runs) and the scripts it runs in
    order, `interval` seconds apart."""

    def __init__(
        self,
        *,
        cron_expression: str | Sequence[str],  # as written: one expression, or several
        script_type: str,
        interval: float,
        name: str | None,
        schedules: tuple[Schedule, ...],
        base_dir: Path,
        number: int,  # 1-based position in its Orchestrator, for messages about unnamed tasks
        defined_at: str = "",  # "tasks.py:12", where add_task was called
        timezone: str | None = None,  # IANA zone of the schedule; None: the machine's
        policy: RunPolicy | None = None,
        environment: dict[str, Any] | None = None,  # env=: variables of its scripts
        # What the run reports (None: the Orchestrator's; False for ping: none).
        notify: tuple[Rule, ...] | None = None,
        ping: Ping | bool | None = None,
        verbose: bool | None = None,
    ) -> None:
        self.cron_expression, self.script_type, self.interval = cron_expression, script_type, interval
        self.name, self.schedules, self.base_dir, self.number = name, schedules, base_dir, number
        self.defined_at, self.timezone = defined_at, timezone
        self.policy = policy if policy is not None else RunPolicy()
        self.environment = environment if environment is not None else {}
        self.notify, self.ping, self.verbose = notify, ping, verbose
        self.steps: list[Step] = []
        self.skips: list[SkipCondition] = []

    def __repr__(self) -> str:
        return f"<Task {self.label} {self.cron_expression!r}>"

    @property
    def label(self) -> str:
        """How messages name this task."""
        if self.name:
            return f"task '{self.name}'"
        if self.steps:
            return f"task '{self.steps[0].path.stem}'"
        return unnamed_label(self.number, self.cron_expression)

    def add_script(
        self, script_path: str | os.PathLike[str], script_parameters: Mapping[str, Any] | None = None
    ) -> Task:
        """Run `script_path` with `script_parameters` as positional arguments, in insertion order."""
        path = self._script(script_path, "add_script")
        params = checked_parameters(script_parameters or {}, "add_script", "script_parameters", self.label)
        self.steps.append(Step(path=path, parameter_sets=(params,)))
        return self

    def add_repeat(self, script_path: str | os.PathLike[str], script_parameters: Any) -> Task:
        """Run `script_path` once per parameter dict in the list `script_parameters`, or in the
        list a function given as `script_parameters` returns at each run."""
        path = self._script(script_path, "add_repeat")
        if is_dynamic(script_parameters) and not isinstance(script_parameters, Template):
            problem = function_problem(script_parameters, "script_parameters:")
            if problem:
                raise DefinitionError(f"add_repeat: {problem}", task=self.label, field="script_parameters")
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
            checked_parameters(params, "add_repeat", f"script_parameters[{index}]", self.label)
            for index, params in enumerate(script_parameters)
        )
        self.steps.append(Step(path=path, parameter_sets=sets, repeat=True))
        return self

    def add_skip(self, condition: SkipCondition) -> Task:
        """Skip a run when `condition` is true: a bool, a condition from `orchestration.skips`,
        or a function called at run time (with no argument or a RunContext)."""
        if isinstance(condition, Condition):
            self.skips.append(condition.bound(self.base_dir))
            return self
        if callable(condition) and getattr(condition, "__module__", None) == Condition.__module__:
            name = getattr(condition, "__name__", "condition")
            raise DefinitionError(
                f"add_skip: skips.{name} makes a condition; call it: add_skip(skips.{name}(...))",
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
        problem = function_problem(condition, "the skip condition")
        if problem:
            raise DefinitionError(f"add_skip: {problem}", task=self.label, field="condition")
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
        timezone: str | None = None,
        notify: Rule | list[Rule] | None = None,
        ping: str | Ping | None = None,
        verbose: bool = False,
        metrics_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if name is not None:
            checks.check_name(name, "Orchestrator(name=...)", "namespace")
        self.name = name
        self.python = checks.interpreter(python) if python is not None else None
        self.retention = Retention(
            keep_runs=checks.positive(keep_runs, "keep_runs", "runs to keep per task", integer=True),
            keep_days=checks.positive(keep_days, "keep_days", "days to keep runs and logs"),
            max_log_bytes=checks.positive(max_log_bytes, "max_log_bytes", "bytes kept of each run's log", integer=True),
        )
        self.timezone = checks.zone(timezone, "Orchestrator(timezone=...)") if timezone is not None else None
        self.notify = notify_rules.rules_of(notify, "Orchestrator(notify=...)") or ()
        default_ping = notify_rules.ping_of(ping, "Orchestrator(ping=...)")
        self.ping: Ping | None = default_ping if isinstance(default_ping, Ping) else None
        self.verbose = bool(notify_rules.verbose_of(verbose, "Orchestrator(verbose=...)"))
        self.tasks: list[Task] = []
        self._names: set[str | None] = set()  # task names in use, for a quick uniqueness check
        self.tasks_file = _defining_file()
        self.metrics_dir = notify_rules.metrics_dir_of(metrics_dir, str(self.base_dir))
        if _collecting is not None:
            _collecting.append(self)

    @property
    def base_dir(self) -> Path:
        return self.tasks_file.parent if self.tasks_file else Path.cwd()

    def add_task(
        self,
        cron_expression: str | Sequence[str],
        script_type: str,
        interval: float = 1,
        *,
        name: str | None = None,
        timeout: float | None = None,
        overlap: str = "skip",
        retries: int = 0,
        retry_delay: float = 0,
        catch_up: bool = False,
        jitter: float = 0,
        env: Mapping[str, Any] | None = None,
        timezone: str | None = None,
        notify: Rule | list[Rule] | bool | None = None,
        ping: str | Ping | bool | None = None,
        verbose: bool | None = None,
    ) -> Task:
        """A task that runs on `cron_expression` with scripts of `script_type` ('bash' or 'python').

        `cron_expression`: one expression, or a list of them: the task runs at every instant of
        any of them, once when several share an instant, as one task with one history.

        `timeout`: seconds a run may take before its scripts are stopped (None: no limit).
        `overlap`: what a firing does while the previous run still runs: 'skip' it (recorded as
        'overlap'), 'queue' it until the previous run ends, or 'allow' both to run.
        `retries`, `retry_delay`: run a failed or timed-out run again, up to `retries` times.
        `catch_up`: run once at start-up when the last firing was missed while the machine (or
        the scheduler) was down, as anacron and systemd's Persistent= do.
        `jitter`: seconds; each run starts within that window after its firing time, at a delay
        of the task's own that is the same at every firing (spreads load across tasks).
        `env`: environment variables of the task's scripts (values may be secret(...)).
        `timezone`: the IANA zone the schedule is read in (default: the Orchestrator's, else the
        machine's), with the same clock-change rule applied there.
        `notify`, `ping`, `verbose`: as the Orchestrator's, which they replace for this task.
        """
        number = len(self.tasks) + 1
        expression = (
            tuple(cron_expression) if isinstance(cron_expression, list) else cron_expression
        )  # hashable, as labels show it
        label = f"task '{name}'" if isinstance(name, str) else unnamed_label(number, expression)
        if name is not None:
            checks.check_name(name, "add_task(name=...)", "task name", label)
            if name in self._names:
                raise DefinitionError(
                    f"add_task: the name {name!r} is already used by another task of this"
                    " Orchestrator; task names must be unique",
                    task=label,
                    field="name",
                )
        schedules = parse_schedules(expression, label)
        task = Task(
            cron_expression=expression,
            script_type=checks.script_type(script_type, label),
            interval=checks.interval(interval, label),
            name=name,
            schedules=schedules,
            base_dir=self.base_dir,
            number=number,
            defined_at=self._caller_location(),
            policy=checks.run_policy(timeout, overlap, retries, retry_delay, label, catch_up, schedules, jitter),
            environment=checks.environment(env, label),
            timezone=checks.zone(timezone, "add_task", label) if timezone is not None else self.timezone,
            notify=notify_rules.rules_of(notify, "add_task", label),
            ping=notify_rules.ping_of(ping, "add_task", label),
            verbose=notify_rules.verbose_of(verbose, "add_task", label),
        )
        self.tasks.append(task)
        self._names.add(name)
        return task

    def _caller_location(self) -> str:
        """file:line of the tasks file's call that is running now."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            if self.tasks_file and _real_path(frame.f_code.co_filename) == self.tasks_file:
                return f"{self.tasks_file}:{frame.f_lineno}"
            frame = frame.f_back
        return str(self.tasks_file or "")


@functools.lru_cache(maxsize=64)
def _real_path(filename: str) -> Path:
    """A code object's file as a real path (asked once per file, not once per add_task)."""
    return Path(os.path.realpath(filename))


# --- collecting mode: `orchestration install tasks.py` gathers the Orchestrators it creates ---

_collecting: list[Orchestrator] | None = None
_collecting_file: Path | None = None


def is_collecting() -> bool:
    """Whether a tasks file is being loaded by `install` (execute_tasks() then returns at once)."""
    return _collecting is not None


@contextmanager
def collecting(tasks_file: Path) -> Iterator[list[Orchestrator]]:
    """Gather every Orchestrator created while importing `tasks_file`."""
    global _collecting, _collecting_file
    saved = (_collecting, _collecting_file)
    _collecting, _collecting_file = [], tasks_file
    try:
        yield _collecting
    finally:
        _collecting, _collecting_file = saved


def _defining_file() -> Path | None:
    """The tasks file that creates this Orchestrator: the one being loaded, else the caller's
    (the first frame outside this package)."""
    if _collecting_file is not None:
        return _collecting_file
    package = Path(__file__).resolve().parent.parent
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        filename = frame.f_globals.get("__file__")
        if filename and package not in Path(filename).resolve().parents:
            return Path(os.path.realpath(filename))
        frame = frame.f_back
    return None
