"""Running the tasks file's own functions at run time (callable skip conditions).

The shim imports this only for tasks that need it: it imports the tasks file in collecting mode,
finds the task by id and checks that it still matches what was installed.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from .context import RunContext
from .errors import OrchestrationError
from .exec import RunError
from .loader import load_tasks_file
from .model import Task
from .plan import namespace_of, task_ids

REINSTALL = "run `orchestration install {tasks_file}` again"


def find_installed_task(manifest: dict[str, Any], task_id: str) -> Task:
    """The task `task_id` of the manifest's namespace, as the tasks file defines it now."""
    fix = REINSTALL.format(tasks_file=manifest["tasks_file"])
    try:
        loaded = load_tasks_file(manifest["tasks_file"])
    except OrchestrationError as error:
        raise RunError(f"the tasks file cannot be loaded: {error}; fix it, then {fix}") from None
    for orchestrator in loaded.orchestrators:
        if namespace_of(orchestrator) == manifest["namespace"]:
            for task, candidate in zip(orchestrator.tasks, task_ids(orchestrator)):
                if candidate == task_id:
                    return task
    raise RunError(
        f"the tasks file {manifest['tasks_file']} no longer defines task '{task_id}' of namespace"
        f" '{manifest['namespace']}'; {fix}"
    )


def call_with_context(function: Callable[..., Any], context: RunContext) -> Any:
    """Call `function()` or `function(context)`, whichever it accepts."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return function()
    required = [
        p for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    accepts_one = required or any(p.kind == p.VAR_POSITIONAL for p in parameters)
    return function(context) if accepts_one else function()


def evaluate_callable_skip(manifest: dict[str, Any], task_id: str, skip: dict[str, Any], context: RunContext) -> bool:
    """Whether the callable condition `skip` says to skip this run."""
    task = find_installed_task(manifest, task_id)
    index = skip["index"]
    condition = task.skips[index] if index < len(task.skips) else None
    if not callable(condition):
        raise RunError(
            f"skip condition {skip['description']} of task '{task_id}' is no longer in"
            f" {manifest['tasks_file']}; {REINSTALL.format(tasks_file=manifest['tasks_file'])}"
        )
    try:
        return bool(call_with_context(condition, context))
    except Exception as error:  # noqa: BLE001 - user code: report, never crash the shim
        raise RunError(
            f"skip condition {skip['description']} raised {type(error).__name__}: {error}"
        ) from None
