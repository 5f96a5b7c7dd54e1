"""Running the tasks file's own functions at run time: skip conditions, parameter values and the
parameter sets of a repeat.

A run does this in a child process (`runtime.userprocess` starts it and calls `serve` here), so
that user code that exits, hangs or swallows every exception cannot end or hide the run; `why`
calls `UserCode` directly. This is the one part of the runtime that loads the definitions
(`define`). It imports the tasks file in collecting mode once per run, as it was installed (the
private copy kept beside the manifest, when there is one), finds the task by id and checks that
its shape (the kinds of its skip conditions and parameter values, in order) is still the
installed one, because each function is found again by its position.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from datetime import datetime

from ..compile.manifest import Manifest, Shape, Skip
from ..define.identity import namespace_of, task_ids, task_shape
from ..define.loader import load_tasks_file
from ..define.orchestrator import Task
from ..define.parameters import unchecked_templates
from ..errors import OrchestrationError, RunError
from ..rules.arity import arity_of
from ..rules.context import RunContext
from ..rules.values import Secret

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

REINSTALL = "run `orchestration install {tasks_file}` again"


def find_installed_task(manifest: Manifest, task_id: str, copy: str | None = None) -> Task:
    """The task `task_id` of the manifest's namespace, as the tasks file installed defines it
    (from `copy`, the copy kept at install, when it exists), else as the tasks file does now."""
    fix = REINSTALL.format(tasks_file=manifest.tasks_file)
    try:
        with unchecked_templates():
            if copy is not None and os.path.exists(copy):
                loaded = load_tasks_file(manifest.tasks_file, expected_sha256=manifest.tasks_file_sha256, copy=copy)
            else:
                loaded = load_tasks_file(manifest.tasks_file)
    except OrchestrationError as error:
        raise RunError(f"the tasks file cannot be loaded: {error.message}; fix it, then {fix}") from None
    for orchestrator in loaded.orchestrators:
        if namespace_of(orchestrator) == manifest.namespace:
            for task, candidate in zip(orchestrator.tasks, task_ids(orchestrator)):
                if candidate == task_id:
                    return task
    raise RunError(
        f"the tasks file {manifest.tasks_file} no longer defines task '{task_id}' of namespace"
        f" '{manifest.namespace}'; {fix}"
    )


def call_with_context(function: Callable[..., Any], context: RunContext) -> Any:
    """Call `function()` or `function(context)`, whichever it accepts."""
    arity = arity_of(function)
    return function(context) if arity is not None and arity.takes_context else function()


def call(function: Callable[..., Any], context: RunContext, what: str, secret: bool = False) -> Any:
    """Call a function of the tasks file; what it raises becomes a RunError naming `what` (for
    a secret, only the kind of error: its text could hold the secret)."""
    try:
        return call_with_context(function, context)
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # user code: report, never end the run
        detail = "" if secret or not str(error) else f": {error}"
        raise RunError(f"{what} raised {type(error).__name__}{detail}") from None


class UserCode:
    """The installed task as the tasks file defines it now (loaded on first use)."""

    def __init__(self, manifest: Manifest, task_id: str, copy: str | None = None) -> None:
        self.manifest = manifest
        self.task_id = task_id
        self.copy = copy
        self.fix = REINSTALL.format(tasks_file=manifest.tasks_file)
        self._task: Task | None = None

    @property
    def task(self) -> Task:
        if self._task is None:
            task = find_installed_task(self.manifest, self.task_id, self.copy)
            self._check_shape(task)
            self._task = task
        return self._task

    def skip_condition(self, skip: Skip, context: RunContext) -> bool:
        """Whether the function behind the manifest's `skip` says skip."""
        what = f"skip condition {skip.description}"
        condition = self._find(what, lambda task: task.skips[skip.index])
        result = call(condition, context, what)
        try:
            return bool(result)
        except Exception as error:  # e.g. a function that returns a skips.Condition
            raise RunError(f"{what} returned {type(result).__name__}, not True/False: {error}") from None

    def parameter(self, step: int, run: int, key: str, what: str, context: RunContext, secret: bool = False) -> Any:
        """What the function behind one parameter value returns for this run."""

        def lookup(task: Task) -> Any:
            value = task.steps[step].parameter_sets[run][key]
            return value.value if isinstance(value, Secret) else value

        return call(self._find(what, lookup), context, what, secret)

    def parameter_sets(self, step: int, what: str, context: RunContext) -> Any:
        """What the function behind a repeat's parameter sets returns for this run."""
        return call(self._find(what, lambda task: task.steps[step].parameter_function), context, what)

    def _find(self, what: str, lookup: Callable[[Task], Any]) -> Any:
        try:
            found = lookup(self.task)
        except (IndexError, KeyError, AttributeError):
            found = None
        if not callable(found):
            raise RunError(f"{what} of task '{self.task_id}' is no longer in {self.manifest.tasks_file}; {self.fix}")
        return found

    def _check_shape(self, task: Task) -> None:
        installed = self.manifest.task(self.task_id).shape
        difference = shape_difference(installed, Shape(*task_shape(task)))
        if difference:
            raise RunError(
                f"task '{self.task_id}' in {self.manifest.tasks_file} no longer matches what was"
                f" installed: {difference}; {self.fix}"
            )


def shape_difference(installed: Shape, current: Shape) -> str | None:
    """How a task's shape changed since it was installed, in words (None if it did not)."""
    if installed.skips != current.skips:
        return f"its skip conditions were [{', '.join(installed.skips)}] and are now [{', '.join(current.skips)}]"
    before, now = installed.scripts, current.scripts
    if len(before) != len(now):
        return f"it had {len(before)} scripts and now has {len(now)}"
    for position, (old, new) in enumerate(zip(before, now), start=1):
        if old != new:
            return f"script {position} was {old} and is now {new}"
    return None


# --- the child process of a run (runtime.userprocess) -------------------------------------------


def serve(manifest: Manifest, task_id: str, copy: str | None, requests: int, replies: int) -> None:
    """Answer the run's requests, one JSON line each, until it closes `requests`: call the
    function asked for with the run's context, and reply with what it returned (encoded) or the
    message of the error it ended in. The context reads the earlier runs through the run. It
    works in the tasks file's folder, where the task's scripts run, so that a relative path means
    the same to a function under cron, under systemd and in `orchestration run` or `why`."""
    try:
        os.chdir(manifest.working_directory)
        failure = None
    except OSError as error:
        failure = (
            f"the tasks file's folder {manifest.working_directory} cannot be entered ({error.strerror}),"
            f" so its functions cannot run there; {REINSTALL.format(tasks_file=manifest.tasks_file)}"
        )
    code = UserCode(manifest, task_id, copy)
    incoming = os.fdopen(requests, "rb")
    outgoing = os.fdopen(replies, "wb")

    def send(message: dict[str, Any]) -> None:
        for stream in (sys.stdout, sys.stderr):  # what user code printed, before the answer
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        outgoing.write(json.dumps(message).encode() + b"\n")
        outgoing.flush()

    def history() -> tuple[str | None, datetime | None, datetime | None]:
        send({"history": True})
        status, previous, success = json.loads(incoming.readline())["history"]
        return status, _moment(previous), _moment(success)

    for line in incoming:
        request = json.loads(line)
        shown = request["context"]
        context = RunContext(
            namespace=shown["namespace"],
            task=shown["task"],
            run_id=shown["run_id"],
            scheduled_time=datetime.fromisoformat(shown["scheduled_time"]),
            now=datetime.fromisoformat(shown["now"]),
            trigger=shown["trigger"],
            environ=shown["environ"],
            history=history,
        )
        try:
            if failure is not None:
                raise RunError(failure)
            if request["call"] == "skip":
                result: Any = code.skip_condition(Skip.from_json(request["skip"]), context)
            elif request["call"] == "parameter":
                result = code.parameter(
                    request["step"], request["run"], request["key"], request["what"], context, request["secret"]
                )
            else:
                result = code.parameter_sets(request["step"], request["what"], context)
            send({"result": encode(result)})
        except OrchestrationError as error:
            send({"error": error.message})
        except BaseException as error:  # user code: SystemExit, KeyboardInterrupt, ...
            send({"error": f"the tasks file's code raised {type(error).__name__}: {error}"})


def encode(value: Any) -> Any:
    """A value user code returned, as JSON the run decodes (`runtime.userprocess.decode`)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Secret):
        return {"secret": encode(value.value), "argument": value.argument}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(item) for item in value]}
    if isinstance(value, Mapping):
        return {"map": [[encode(key), encode(item)] for key, item in value.items()]}
    if isinstance(value, os.PathLike):
        return {"path": str(os.fspath(value))}
    return {"other": type(value).__name__, "repr": repr(value)}


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
