"""Definitions to a deterministic Plan, and the Plan to the manifest the shim reads. No I/O.

Identity: a namespace per tasks file (`Orchestrator(name=...)`, else the file's stem plus a short
hash of its absolute path) and a task id per task (`add_task(name=...)`, else its first script's
stem, made unique in the namespace with `-2`, `-3`, ...).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import DefinitionError
from .model import Orchestrator, Retention, RunPolicy, Step, Task
from .params import encode, function_name, kind_of
from .schedule import Schedule
from .skips import Condition

MANIFEST_FORMAT = 1
BASH = "/bin/bash"


@dataclass(frozen=True)
class Environment:
    """What an install captures from the machine: the programs and PATH runs will use."""

    exec_program: str  # absolute path of orchestration-exec
    cli_program: str  # absolute path of orchestration, for the commands in headers
    python: str  # interpreter for python scripts
    path: str  # PATH at install time, given to scripts
    home: str
    state_dir: Path


@dataclass(frozen=True)
class StepPlan:
    """One add_script/add_repeat: the command to run and its parameter sets. A value is text, or
    an object for a template, a function or a secret (see `params.encode`)."""

    script: str
    command: tuple[str, ...]  # interpreter and script; parameter values follow
    runs: tuple[tuple[tuple[str, Any], ...], ...]  # one tuple of (name, value) per run
    repeat: bool
    runs_from: str | None = None  # the function that returns the parameter sets at each run

    def manifest(self) -> dict[str, Any]:
        entry = {
            "script": self.script,
            "command": list(self.command),
            "repeat": self.repeat,
            "runs": [dict(run) for run in self.runs],
        }
        if self.runs_from:
            entry["runs_from"] = {"callable": self.runs_from}
        return entry

    @property
    def uses_function(self) -> bool:
        """Whether a run needs a function of the tasks file: for a value or the parameter sets."""
        return bool(self.runs_from) or any(
            isinstance(value, dict) and "callable" in value for run in self.runs for _, value in run
        )


@dataclass(frozen=True)
class SkipPlan:
    """A skip condition: a constant or a built-in condition from the manifest, or a callable
    found in the tasks file."""

    kind: str  # "static" | "builtin" | "callable"
    description: str
    value: bool | None = None
    index: int | None = None  # position among the task's skips, to find a callable again
    condition: dict[str, Any] | None = None  # a built-in condition's spec

    def manifest(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": self.kind, "description": self.description}
        if self.kind == "static":
            entry["value"] = self.value
        elif self.kind == "builtin":
            entry["condition"] = self.condition
        else:
            entry["index"] = self.index
        return entry


@dataclass(frozen=True)
class TaskPlan:
    id: str
    schedule: Schedule
    script_type: str
    interval: float
    steps: tuple[StepPlan, ...]
    skips: tuple[SkipPlan, ...]
    retention: Retention
    signature: dict[str, list[str]]
    policy: RunPolicy

    @property
    def needs_tasks_file(self) -> bool:
        """Whether a run must import the tasks file (for callables)."""
        return any(skip.kind == "callable" for skip in self.skips) or any(
            step.uses_function for step in self.steps
        )

    def manifest(self) -> dict[str, Any]:
        entry = {
            "schedule": self.schedule.expression,
            "cron": self.schedule.cron,
            "fields": self.schedule.manifest_fields(),
            "description": self.schedule.describe(),
            "script_type": self.script_type,
            "interval": self.interval,
            "needs_tasks_file": self.needs_tasks_file,
            "retention": asdict(self.retention),
            "policy": asdict(self.policy),
            "skips": [skip.manifest() for skip in self.skips],
            "steps": [step.manifest() for step in self.steps],
        }
        if self.needs_tasks_file:  # what the shim checks before it calls the file's functions
            entry["signature"] = self.signature
        return entry


@dataclass(frozen=True)
class Plan:
    """Everything one namespace installs."""

    namespace: str
    tasks_file: str
    tasks_file_sha256: str
    working_directory: str
    environment: Environment
    tasks: tuple[TaskPlan, ...]

    def task(self, task_id: str) -> TaskPlan:
        return next(task for task in self.tasks if task.id == task_id)

    def manifest(self, backend: str, scope: str = "user") -> dict[str, Any]:
        """The JSON the shim reads: parameter values live here, never in crontab or units."""
        return {
            "format": MANIFEST_FORMAT,
            "namespace": self.namespace,
            "backend": backend,
            "scope": scope,
            "tasks_file": self.tasks_file,
            "tasks_file_sha256": self.tasks_file_sha256,
            "working_directory": self.working_directory,
            "exec": self.environment.exec_program,
            "cli": self.environment.cli_program,
            "python": self.environment.python,
            "environment": {"PATH": self.environment.path, "HOME": self.environment.home},
            "tasks": {task.id: task.manifest() for task in self.tasks},
        }


def namespace_of(orchestrator: Orchestrator) -> str:
    """The orchestrator's name, else the tasks file's stem plus a short hash of its path."""
    if orchestrator.name:
        return orchestrator.name
    path = str(orchestrator.tasks_file) if orchestrator.tasks_file else "<interactive>"
    stem = orchestrator.tasks_file.stem if orchestrator.tasks_file else "interactive"
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:40] or "tasks"
    return f"{stem}-{hashlib.sha256(path.encode()).hexdigest()[:6]}"


def task_ids(orchestrator: Orchestrator) -> list[str]:
    """The id of each task, in order."""
    explicit = {task.name for task in orchestrator.tasks if task.name}
    used: set[str] = set(explicit)
    ids = []
    for task in orchestrator.tasks:
        if task.name:
            ids.append(task.name)
            continue
        base = _id_from_script(task)
        candidate, counter = base, 1
        while candidate in used:
            counter += 1
            candidate = f"{base}-{counter}"
        used.add(candidate)
        ids.append(candidate)
    return ids


def _id_from_script(task: Task) -> str:
    _require_scripts(task, task.label)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", task.steps[0].path.stem).strip("-_")[:60]
    return stem or "task"


def compile_plan(orchestrator: Orchestrator, tasks_file_sha256: str, environment: Environment) -> Plan:
    """The Plan of one Orchestrator (pure: everything it needs is passed in)."""
    if not orchestrator.tasks:
        raise DefinitionError(
            f"{orchestrator.tasks_file}: Orchestrator {namespace_of(orchestrator)!r} has no tasks;"
            " add one with orchestrator.add_task('0 * * * *', 'bash')"
        )
    python = orchestrator.python or environment.python
    tasks = tuple(
        _compile_task(task, task_id, python, orchestrator.retention)
        for task, task_id in zip(orchestrator.tasks, task_ids(orchestrator))
    )
    return Plan(
        namespace=namespace_of(orchestrator),
        tasks_file=str(orchestrator.tasks_file),
        tasks_file_sha256=tasks_file_sha256,
        working_directory=str(orchestrator.base_dir),
        environment=environment,
        tasks=tasks,
    )


def _require_scripts(task: Task, label: str) -> None:
    if not task.steps:
        error = DefinitionError(
            "has no scripts, so it would do nothing; add one with task.add_script(path)",
            task=label,
            field="scripts",
        )
        raise error.located(task.defined_at) if task.defined_at else error


def _compile_task(task: Task, task_id: str, python: str, retention: Retention) -> TaskPlan:
    _require_scripts(task, f"task '{task_id}'")
    interpreter = BASH if task.script_type == "bash" else python
    steps = tuple(
        StepPlan(
            script=str(step.path),
            command=(interpreter, str(step.path)),
            runs=tuple(_encoded(params) for params in step.parameter_sets),
            repeat=step.repeat,
            runs_from=function_name(step.parameter_function) if step.parameter_function else None,
        )
        for step in task.steps
    )
    skips = tuple(_skip_plan(condition, index) for index, condition in enumerate(task.skips))
    return TaskPlan(
        id=task_id,
        schedule=task.schedule,
        script_type=task.script_type,
        interval=task.interval,
        steps=steps,
        skips=skips,
        retention=retention,
        signature=task_signature(task),
        policy=task.policy,
    )


def _skip_plan(condition: Any, index: int) -> SkipPlan:
    if isinstance(condition, bool):
        return SkipPlan("static", f"add_skip({condition})", value=condition, index=index)
    if isinstance(condition, Condition):
        return SkipPlan("builtin", condition.description, condition=condition.to_spec())
    return SkipPlan("callable", function_name(condition), index=index)


def _encoded(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((key, encode(value)) for key, value in params.items())


def task_signature(task: Task) -> dict[str, list[str]]:
    """The shape the shim relies on to find a task's functions again: the kinds of its skip
    conditions and of each parameter value, in order (not the values themselves)."""
    return {
        "skips": [_skip_kind(condition) for condition in task.skips],
        "scripts": [_step_signature(step) for step in task.steps],
    }


def _skip_kind(condition: Any) -> str:
    if isinstance(condition, bool):
        return "True/False"
    return "built-in" if isinstance(condition, Condition) else "function"


def _step_signature(step: Step) -> str:
    if step.parameter_function is not None:
        return f"{step.path.name} (parameter sets from a function)"
    sets = (", ".join(f"{key}={kind_of(value)}" for key, value in params.items())
            for params in step.parameter_sets)
    return f"{step.path.name} ({' | '.join(sets)})"
