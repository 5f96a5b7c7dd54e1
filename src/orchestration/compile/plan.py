"""Definitions to manifests: one `Manifest` per Orchestrator, pure and deterministic (everything
it needs is passed in; nothing is read or written)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..define.identity import namespace_of, require_scripts, task_ids, task_shape
from ..define.loader import LoadedTasks
from ..define.orchestrator import Orchestrator, Task
from ..define.skips import Condition
from ..define.wording import describe
from ..errors import DefinitionError
from ..rules.notify import Ping, Reporting
from ..rules.policy import Retention
from ..rules.values import Secret, Template, argument_text, function_name, is_dynamic
from .environment import Environment
from .manifest import (
    BUILTIN,
    FUNCTION,
    STATIC,
    Manifest,
    Parameter,
    Shape,
    Skip,
    Step,
    TaskManifest,
    Timing,
)

BASH = "/bin/bash"


def compile_loaded(loaded: LoadedTasks, environment: Environment) -> list[Manifest]:
    """The manifest of each Orchestrator of a loaded tasks file."""
    manifests = [compile_orchestrator(o, loaded, environment) for o in loaded.orchestrators]
    seen: set[str] = set()
    for manifest in manifests:
        if manifest.namespace in seen:
            raise DefinitionError(
                f"{loaded.path}: two Orchestrators share the namespace '{manifest.namespace}'; give each"
                " its own name with Orchestrator(name='...')"
            )
        seen.add(manifest.namespace)
    return manifests


def compile_orchestrator(orchestrator: Orchestrator, loaded: LoadedTasks, environment: Environment) -> Manifest:
    """The manifest of one Orchestrator."""
    if not orchestrator.tasks:
        raise DefinitionError(
            f"{orchestrator.tasks_file}: Orchestrator {namespace_of(orchestrator)!r} has no tasks;"
            " add one with orchestrator.add_task('0 * * * *', 'bash')"
        )
    python = orchestrator.python or environment.python
    tasks = {
        task_id: compile_task(task, task_id, python, orchestrator.retention, reporting(task, orchestrator))
        for task, task_id in zip(orchestrator.tasks, task_ids(orchestrator))
    }
    return Manifest(
        namespace=namespace_of(orchestrator),
        tasks_file=str(orchestrator.tasks_file),
        tasks_file_sha256=loaded.sha256,
        tasks_file_stat=loaded.stat,
        working_directory=str(orchestrator.base_dir),
        exec_program=environment.exec_program,
        cli_program=environment.cli_program,
        python=environment.python,
        path=environment.path,
        home=environment.home,
        tasks=tasks,
        machine_zone=environment.zone,
        install_year=environment.year,
        image=environment.image,
    )


def compile_task(
    task: Task, task_id: str, python: str, retention: Retention, reporting: Reporting | None = None
) -> TaskManifest:
    label = f"task '{task_id}'"
    require_scripts(task, label)
    interpreter = BASH if task.script_type == "bash" else python
    steps = tuple(
        Step(
            script=str(step.path),
            command=(interpreter, str(step.path)),
            repeat=step.repeat,
            runs=tuple(parameters(params) for params in step.parameter_sets),
            runs_from=function_name(step.parameter_function) if step.parameter_function else None,
        )
        for step in task.steps
    )
    skips_shape, scripts_shape = task_shape(task)
    return TaskManifest(
        id=task_id,
        timings=tuple(
            Timing(
                expression=schedule.expression,
                cron=schedule.cron,
                description=describe(schedule) + (f" in {task.timezone}" if task.timezone else ""),
                fields=None if schedule.reboot else schedule.fields,
                zone=task.timezone,
            )
            for schedule in task.schedules
        ),
        script_type=task.script_type,
        interval=task.interval,
        steps=steps,
        skips=tuple(_skip(condition, index) for index, condition in enumerate(task.skips)),
        policy=task.policy,
        retention=retention,
        shape=Shape(skips_shape, scripts_shape),
        environment=parameters(task.environment),
        reporting=reporting if reporting != Reporting() else None,
    )


def reporting(task: Task, orchestrator: Orchestrator) -> Reporting:
    """What a task reports: its own notify, ping and verbose, else the Orchestrator's."""
    ping = task.ping if task.ping is not None else orchestrator.ping
    return Reporting(
        rules=task.notify if task.notify is not None else orchestrator.notify,
        ping=ping if isinstance(ping, Ping) else None,
        verbose=task.verbose if task.verbose is not None else orchestrator.verbose,
        metrics_dir=orchestrator.metrics_dir,
    )


def parameters(params: Mapping[str, Any]) -> dict[str, Parameter]:
    """A parameter dict of the tasks file as the manifest stores it."""
    return {key: parameter(value) for key, value in params.items()}


def parameter(value: Any) -> Parameter:
    """One value: plain text, or a template, a function or a secret (the function itself stays
    in the tasks file; the shim finds it again by its position)."""
    secret = isinstance(value, Secret)
    inner = value.value if isinstance(value, Secret) else value
    argument = value.argument if isinstance(value, Secret) else True
    if isinstance(inner, Template):
        return Parameter(template=inner.source, secret=secret, argument=argument)
    if is_dynamic(inner):
        return Parameter(function=function_name(inner), secret=secret, argument=argument)
    return Parameter(text=argument_text(inner), secret=secret, argument=argument)


def _skip(condition: Any, index: int) -> Skip:
    if isinstance(condition, bool):
        return Skip(STATIC, f"add_skip({condition})", value=condition, index=index)
    if isinstance(condition, Condition):
        return Skip(BUILTIN, condition.description, condition=condition.to_spec(), index=index)
    return Skip(FUNCTION, function_name(condition), index=index)
