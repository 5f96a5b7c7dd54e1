"""The state of every installed task: last run, failures in a row, next firing time, and whether
what was installed still matches the machine (drift, missing files, entries changed by hand).

It is made to stay quick with thousands of tasks: one query of the journal for every task's
newest run and failures in a row, next firing times by the daemon's rule read on the wall clock,
the entries checked against the digests their install kept, and no module of a backend that is
not in use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OrchestrationError
from ..frozen import Frozen
from ..installer.entries import hand_edit_summary_of
from ..installer.manifests import Installed, installed_manifests
from ..installer.schedulers import make_scheduler
from ..rules.instants import Outlook, union_next_instant, zone_of
from ..runtime.records import RunRecord
from ..state import Pause, longest, pauses
from .history import latest_runs

if TYPE_CHECKING:
    from ..compile.manifest import Manifest, TaskManifest
    from ..installer.schedulers import Scheduler


class TaskStatus(Frozen):
    namespace: str
    task: str
    schedule: str
    description: str
    backend: str
    tasks_file: str
    next_time: datetime | None
    last_run: RunRecord | None
    failures_in_a_row: int
    namespace_problems: tuple[str, ...] = ()
    task_problems: tuple[str, ...] = ()
    paused: Pause | None = None  # the pause in force: the namespace's or the task's own
    jitter: int = 0

    @property
    def needs_attention(self) -> bool:
        """Something to fix: a problem of its namespace; unless the task is paused (which is how
        one silences a task while fixing it), a problem of its own or failures since its last
        success."""
        own = bool(self.task_problems) or self.failures_in_a_row > 0
        return bool(self.namespace_problems) or (own and self.paused is None)

    @property
    def reference(self) -> str:
        return f"{self.namespace}/{self.task}"

    @property
    def problems(self) -> tuple[str, ...]:
        return self.namespace_problems + self.task_problems

    def to_json(self) -> dict[str, Any]:
        last = self.last_run.to_json() if self.last_run else None
        return {
            "namespace": self.namespace,
            "task": self.task,
            "schedule": self.schedule,
            "description": self.description,
            "next": self.next_time.isoformat() if self.next_time else None,
            "backend": self.backend,
            "tasks_file": self.tasks_file,
            "last_run": {key: last[key] for key in ("run_id", "started_at", "status", "exit_code", "reason")}
            if last
            else None,
            "failures_in_a_row": self.failures_in_a_row,
            "problems": list(self.problems),
            "paused": None
            if self.paused is None
            else {"scope": self.paused.reference, "until": _iso(self.paused.until)},
            "jitter": self.jitter,
        }


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp).astimezone().isoformat()


NextTime = Callable[["Manifest", str, datetime], "datetime | None"]


def installed_status(state: Path, now: datetime, next_time: NextTime | None = None) -> list[TaskStatus]:
    """Every installed task's state, by namespace and task."""
    next_time = next_time or NextFromSchedule()
    result = []
    now_s = now.timestamp()
    paused = {reference: pause for reference, pause in pauses(state).items() if pause.active(now_s)}
    latest = latest_runs(state)
    present: dict[str, bool] = {}  # programs looked at: bash once, not once per task
    schedulers: Schedulers = {}  # each read once: one `crontab -l` for every namespace
    for installed in installed_manifests(state):
        manifest = installed.manifest
        namespace_problems = namespace_problems_of(manifest) + entry_problems(installed, schedulers)
        for task_id, task in manifest.tasks.items():
            last_run, failures = latest.get((manifest.namespace, task_id), (None, 0))
            result.append(
                TaskStatus(
                    namespace=manifest.namespace,
                    task=task_id,
                    schedule=task.expression,
                    description=task.description,
                    backend=manifest.backend,
                    tasks_file=manifest.tasks_file,
                    next_time=next_time(manifest, task_id, now),
                    last_run=last_run,
                    failures_in_a_row=failures,
                    namespace_problems=tuple(namespace_problems),
                    task_problems=tuple(task_problems_of(manifest, task, present)),
                    paused=longest(
                        paused.get(manifest.namespace), paused.get(f"{manifest.namespace}/{task_id}"), now=now_s
                    ),
                    jitter=task.policy.jitter,
                )
            )
    return result


# How far ahead a listing finds each zone's clock changes once: most tasks fire within it.
OUTLOOK_DAYS = 8


class NextFromSchedule:
    """The next firing time of a task by the daemon's rule (`rules.instants`), in its zone or the
    machine's; each zone's wall clock and clock changes are worked out once per listing."""

    def __init__(self) -> None:
        self._outlooks: dict[tuple[str | None, float], Outlook] = {}

    def __call__(self, manifest: Manifest, task_id: str, now: datetime) -> datetime | None:
        task = manifest.task(task_id)
        if task.reboot:
            return None
        key = (task.zone, now.timestamp())
        outlook = self._outlooks.get(key)
        if outlook is None:  # zone_of loads zoneinfo: only for listings with a schedule
            outlook = self._outlooks[key] = Outlook(zone_of(task.zone), key[1], days=OUTLOOK_DAYS)
        found = union_next_instant(task.all_fields, outlook)
        return None if found is None else datetime.fromtimestamp(found, outlook.zone)


def namespace_problems_of(manifest: Manifest) -> list[str]:
    """What no longer matches the install: the tasks file, the programs it runs with."""
    tasks_file = manifest.tasks_file
    reinstall = f"`orchestration install {tasks_file}`"
    problems = []
    if not os.path.isfile(tasks_file):
        problems.append(
            f"the tasks file {tasks_file} is gone; runs go on as installed, but tasks that call"
            f" its functions fail; restore it, or remove the tasks with `orchestration uninstall"
            f" --name {manifest.namespace}`"
        )
    elif _changed(manifest):
        problems.append(f"the tasks file changed since it was installed (drift); run {reinstall}")
    exec_program = manifest.exec_program
    if not os.access(exec_program, os.X_OK):
        problems.append(
            f"{exec_program} is gone (was its virtual environment removed?); every run fails;"
            f" reinstall the package, then run {reinstall}"
        )
    return problems


Schedulers = dict[tuple[str, str], "Scheduler"]


def entry_problems(installed: Installed, schedulers: Schedulers | None = None) -> list[str]:
    """Entries changed by hand since the install: runs follow what is in place, not the manifest.
    `schedulers`: those a listing has made so far, by backend and scope, to be shared."""
    manifest = installed.manifest
    if manifest.backend == "foreground" and not _engine_running(installed.path.parent.parent):
        return [
            "the foreground scheduler (`orchestration run-scheduler`) that ran it is not running, so"
            f" nothing fires it; start it again with `orchestration run-scheduler {manifest.tasks_file}`,"
            f" or install it elsewhere with `orchestration install {manifest.tasks_file}`"
        ]
    key = (manifest.backend, manifest.scope)
    schedulers = {} if schedulers is None else schedulers
    try:
        if key not in schedulers:
            schedulers[key] = make_scheduler(*key, looking=True)
        summary = hand_edit_summary_of(schedulers[key], installed)
    except OrchestrationError as error:
        return [f"its {manifest.backend} entries cannot be read ({error.message})"]
    if summary is None:
        return []
    return [
        f"its {manifest.backend} entries were changed by hand ({summary}); what runs is not what"
        f" {manifest.tasks_file} defines; put them back with `orchestration install {manifest.tasks_file}`"
    ]


def _engine_running(state: Path) -> bool:
    from ..installer.foreground import engine_running  # only for namespaces it runs

    return engine_running(state)


def task_problems_of(manifest: Manifest, task: TaskManifest, present: dict[str, bool] | None = None) -> list[str]:
    """Scripts or interpreters of one task that are no longer there (`present` remembers what
    was looked at, across the tasks of a listing)."""
    problems = []
    seen = set()
    present = {} if present is None else present
    for step in task.steps:
        for program in step.command:
            if program in seen:
                continue
            seen.add(program)
            if program not in present:
                present[program] = os.path.exists(program)
            if not present[program]:
                problems.append(f"{program} is gone; runs of this task fail until it is back or reinstalled")
    return problems


def _changed(manifest: Manifest) -> bool:
    try:
        return manifest.tasks_file_changed()
    except OSError:
        return True


class NextFiring:
    """The next firing time of a task: as systemd reports it for a timer, else from the schedule."""

    def __init__(self) -> None:
        self._elapses: dict[str, dict[str, datetime]] = {}  # by scope, asked once per listing
        self._schedule = NextFromSchedule()

    def __call__(self, manifest: Manifest, task_id: str, now: datetime) -> datetime | None:
        if manifest.backend == "systemd":
            from ..targets.systemd import unit_name

            timer = f"{unit_name(manifest.namespace, task_id)}.timer"
            elapse = self._timers(manifest.scope).get(timer)
            if elapse is not None:  # shown in the task's zone, as a crontab task's is
                zone = manifest.tasks[task_id].zone
                return elapse if zone is None else elapse.astimezone(zone_of(zone))
        return self._schedule(manifest, task_id, now)

    def _timers(self, scope: str) -> dict[str, datetime]:
        if scope not in self._elapses:
            from ..installer.systemctl import Systemctl  # only for systemd timers

            self._elapses[scope] = Systemctl(scope).next_elapses()
        return self._elapses[scope]
