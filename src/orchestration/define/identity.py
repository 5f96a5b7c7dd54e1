"""Identity: a namespace per tasks file and a task id per task, and the shape by which the shim
finds a task's functions again.

A namespace is `Orchestrator(name=...)`, else the tasks file's stem plus a short hash of its real
path. A task id is `add_task(name=...)`, else its first script's stem, made unique in the
namespace with `-2`, `-3`, ...
"""

from __future__ import annotations

import hashlib
import re

from ..errors import DefinitionError
from ..rules.values import kind_of
from .orchestrator import Orchestrator, Step, Task
from .skips import Condition

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def namespace_of(orchestrator: Orchestrator) -> str:
    """The orchestrator's name, else the tasks file's stem plus a short hash of its path."""
    if orchestrator.name:
        return orchestrator.name
    path = str(orchestrator.tasks_file) if orchestrator.tasks_file else "<interactive>"
    stem = orchestrator.tasks_file.stem if orchestrator.tasks_file else "interactive"
    stem = _UNSAFE.sub("-", stem).strip("-_")[:40] or "tasks"
    return f"{stem}-{hashlib.sha256(path.encode()).hexdigest()[:6]}"


def task_ids(orchestrator: Orchestrator) -> list[str]:
    """The id of each task, in order."""
    used: set[str] = {task.name for task in orchestrator.tasks if task.name}
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


def require_scripts(task: Task, label: str) -> None:
    """A task without scripts would do nothing: a DefinitionError at its add_task call."""
    if not task.steps:
        error = DefinitionError(
            "has no scripts, so it would do nothing; add one with task.add_script(path)",
            task=label,
            field="scripts",
        )
        raise error.located(task.defined_at) if task.defined_at else error


def _id_from_script(task: Task) -> str:
    require_scripts(task, task.label)
    stem = _UNSAFE.sub("-", task.steps[0].path.stem).strip("-_")[:60]
    return stem or "task"


def task_shape(task: Task) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the shim relies on to find a task's functions again: the kinds of its skip
    conditions and of each parameter value, in order (not the values themselves)."""
    return (
        tuple(_skip_kind(condition) for condition in task.skips),
        tuple(_step_shape(step) for step in task.steps),
    )


def _skip_kind(condition: Any) -> str:
    if isinstance(condition, bool):
        return "True/False"
    return "built-in" if isinstance(condition, Condition) else "function"


def _step_shape(step: Step) -> str:
    if step.parameter_function is not None:
        return f"{step.path.name} (parameter sets from a function)"
    sets = (", ".join(f"{key}={kind_of(value)}" for key, value in params.items()) for params in step.parameter_sets)
    return f"{step.path.name} ({' | '.join(sets)})"
