"""`orchestration why`: would an installed task run at a given minute, and if not, why not.

It judges the schedule (does it fire at that minute; the firing times around it), a pause in force
then, and every skip condition as if a run were scheduled then, the way orchestration-exec would
decide it: pauses with the shim's own rule, constants and built-in conditions from the manifest,
functions from the tasks file as installed (in a child process in the tasks file's folder, as a run
calls them), earlier runs from the journal. Command conditions run their commands; environment
conditions read the environment `why` runs in, with the PATH scripts get. Nothing is written.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..compile.manifest import Manifest, Skip
from ..errors import RunError
from ..frozen import Frozen
from ..installer.manifests import find_task
from ..rules.context import RunContext
from ..rules.instants import machine_zone
from ..rules.values import hide_secrets
from ..runtime import conditions, gate
from ..runtime.environment import run_environment, task_variables
from ..runtime.inputs import TaskFunctions
from ..runtime.journal import Journal
from ..runtime.records import local_datetime
from ..state import Pause, journal_path, pause_of, tasks_copy_path, to_resume
from .preview import next_times, previous_time, zone

if TYPE_CHECKING:
    from ..runtime.userprocess import UserProcess


def _nothing() -> None:
    """What `why` closes before it starts the tasks file's process: nothing is open."""


class Verdict(Frozen):
    """What one skip condition says about the run."""

    position: int
    kind: str  # "static" | "builtin" | "callable", as in the manifest
    description: str
    verdict: str  # "skip" | "run" | "error"
    error: str | None = None
    reached: bool = True  # False when an earlier condition already decides the run

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "kind": self.kind,
            "description": self.description,
            "verdict": self.verdict,
            "error": self.error,
            "reached": self.reached,
        }


class Explanation(Frozen):
    """The schedule's and each skip condition's say about a run scheduled at `at`."""

    reference: str
    at: datetime
    schedule: str
    description: str
    reboot: bool
    fires: bool
    previous_time: datetime | None
    next_time: datetime | None
    verdicts: tuple[Verdict, ...]
    pause: Pause | None = None  # the pause in force at `at`: a run then is skipped before any condition
    resume: str = ""  # with a pause: what `orchestration resume` takes to end it
    notifications: tuple[str, ...] = ()  # the task's notify rules and ping, secrets masked
    deliveries: tuple[dict[str, Any], ...] = ()  # what those of its latest run that sent any did
    deliveries_run: str | None = None  # that run's id

    @property
    def deciding(self) -> Verdict | None:
        """The first condition that skips the run or ends it in error; None if all let it run."""
        return next((verdict for verdict in self.verdicts if verdict.verdict != "run"), None)

    @property
    def conditions_outcome(self) -> str:
        """What the skip conditions alone decide: 'run', 'skipped' or 'error'."""
        deciding = self.deciding
        return "run" if deciding is None else "skipped" if deciding.verdict == "skip" else "error"

    @property
    def outcome(self) -> str:
        if not self.fires:
            return "not scheduled"
        return "skipped" if self.pause is not None else self.conditions_outcome

    @property
    def reason(self) -> str | None:
        """Why the run would not go ahead, as the journal would say it (None if it would)."""
        if not self.fires:
            if self.reboot:
                return "the task runs only at boot (@reboot)"
            return "the schedule does not fire at this minute"
        if self.pause is not None:
            return self.pause.reason()
        deciding = self.deciding
        if deciding is None:
            return None
        return f"skipped by {deciding.description}" if deciding.verdict == "skip" else deciding.error

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.reference,
            "at": self.at.isoformat(),
            "schedule": self.schedule,
            "description": self.description,
            "fires": self.fires,
            "previous_time": self.previous_time.isoformat() if self.previous_time else None,
            "next_time": self.next_time.isoformat() if self.next_time else None,
            "conditions": [verdict.to_json() for verdict in self.verdicts],
            "paused": None if self.pause is None else _pause_json(self.pause),
            "conditions_outcome": self.conditions_outcome,
            "outcome": self.outcome,
            "would_run": self.outcome == "run",
            "reason": self.reason,
            "notifications": list(self.notifications),
            "deliveries": list(self.deliveries),
            "deliveries_run": self.deliveries_run,
        }

    def lines(self) -> list[str]:
        """The explanation for people: the schedule, the pause, one line per condition, the verdict."""
        lines = [f"{self.reference} at {_time(self.at)} ({self.at:%A})", f"  schedule: {self._schedule_text()}"]
        if self.pause is not None:
            lines.append(f"  pause: {self.pause.reason()}; `orchestration resume {self.resume}` ends it")
        lines += [
            f"  {verdict.position}. skip if {verdict.description}: {_verdict_text(verdict, self._decides_first())}"
            for verdict in self.verdicts
        ]
        if not self.verdicts:
            lines.append("  no skip conditions")
        lines += [f"  notify {line}" for line in self.notifications]
        if self.deliveries:
            lines.append(f"  run {self.deliveries_run} notified:")
            lines += [
                f"    {d['channel']} {d['target']} ({d['event']}): {d['outcome']} ({d['detail']})"
                for d in self.deliveries
            ]
        lines.append(self._conclusion())
        return lines

    def _schedule_text(self) -> str:
        words = f"{self.schedule}: {self.description}"
        if self.reboot:
            return f"runs only at boot ({words})"
        if self.fires:
            return f"fires at this minute ({words})"
        around = [
            f"previous firing {_time(self.previous_time)}" if self.previous_time else None,
            f"next firing {_time(self.next_time)}" if self.next_time else None,
        ]
        return f"does not fire at this minute; {', '.join(t for t in around if t)} ({words})"

    def _decides_first(self) -> str | None:
        """What decides the run before the conditions that are not reached."""
        if self.pause is not None:
            return "the pause"
        return None if self.deciding is None else f"condition {self.deciding.position}"

    def _conclusion(self) -> str:
        deciding = self.deciding
        if self.fires:
            if self.pause is not None:
                return f"Would be skipped: {self.pause.reason()}."
            if deciding is None:
                return "Would run."
            if deciding.verdict == "skip":
                return f"Would be skipped by {deciding.description}."
            return f"Would end in error: {deciding.error}"
        if self.pause is not None:
            then = f"a run at this minute would be skipped: {self.pause.reason()}"
        elif deciding is None:
            then = "its skip conditions would let a run at this minute go ahead"
        elif deciding.verdict == "skip":
            then = f"a run at this minute would be skipped by {deciding.description}"
        else:
            then = "a run at this minute would end in error, since a skip condition fails"
        return f"Would not run: {self.reason}; {then}."


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %z")


def _verdict_text(verdict: Verdict, decides_first: str | None) -> str:
    text = {"skip": "yes, skip", "run": "no"}.get(verdict.verdict) or f"error: {verdict.error}"
    if not verdict.reached and decides_first is not None:
        text += f" (not checked at run time: {decides_first} decides first)"
    return text


def _pause_json(pause: Pause) -> dict[str, Any]:
    """As `list --json` and `status --json` show a pause."""
    until = None if pause.until is None else datetime.fromtimestamp(pause.until).astimezone().isoformat()
    return {"scope": pause.reference, "until": until}


def explain(state: Path, reference: str, at: datetime | None = None, now: datetime | None = None) -> Explanation:
    """Would the installed task `reference` run at `at` (default: its next firing time)?"""
    installed, task_id = find_task(state, reference)
    manifest = installed.manifest
    task = manifest.task(task_id)
    where = zone(task)
    now = (now or datetime.now(where)).astimezone(where)
    if at is None:
        upcoming = next_times(task, now, 1)
        at = upcoming[0] if upcoming else now
    at = at.astimezone(where).replace(second=0, microsecond=0)
    # The runtime's own rule, at the judged minute: a pause that ends before it does not count.
    pause = pause_of(state, manifest.namespace, task_id, at.timestamp())
    moment = _Moment(state, manifest, task_id, at, now)
    try:
        verdicts = _verdicts(task.skips, moment, paused=pause is not None)
    finally:
        moment.close()
    return Explanation(
        reference=f"{manifest.namespace}/{task_id}",
        at=at,
        schedule=task.expression,
        description=task.description,
        reboot=task.reboot,
        fires=not task.reboot and gate.admits(task, at.timestamp(), machine_zone()),
        previous_time=previous_time(task, at),
        next_time=next(iter(next_times(task, at, 1)), None),
        verdicts=verdicts,
        pause=pause,
        resume=to_resume(state, manifest.namespace, task_id, at.timestamp()) if pause else "",
        notifications=tuple(task.reporting.lines) if task.reporting else (),
        **_latest_deliveries(state, manifest.namespace, task_id),
    )


def _latest_deliveries(state: Path, namespace: str, task_id: str) -> dict[str, Any]:
    """The deliveries of the task's newest run that has any (among its last 50)."""
    journal = Journal(journal_path(state))
    if not journal.exists:
        return {}
    try:
        for run in journal.runs(namespace=namespace, task=task_id, limit=50):
            if run.deliveries:
                return {"deliveries": tuple(run.deliveries), "deliveries_run": run.run_id}
    except (sqlite3.Error, UnicodeDecodeError):
        pass
    finally:
        journal.close()
    return {}


def _verdicts(skips: tuple[Skip, ...], moment: _Moment, paused: bool) -> tuple[Verdict, ...]:
    """Every condition's verdict (all are checked, unlike a run, which stops at the first, and
    checks none when paused)."""
    verdicts, decided = [], paused
    secrets = moment.manifest.task(moment.task_id).secret_texts  # an error may quote one, as in a run
    for position, skip in enumerate(skips, start=1):
        try:
            verdict, error = ("skip" if conditions.evaluate(skip, moment) else "run"), None
        except RunError as failure:
            verdict, error = "error", hide_secrets(failure.message, secrets)
        verdicts.append(Verdict(position, skip.kind, skip.description, verdict, error, reached=not decided))
        decided = decided or verdict != "run"
    return tuple(verdicts)


class _Moment:
    """What conditions ask for (runtime.inputs.RunInputs), for a run as if scheduled at `at`."""

    def __init__(self, state: Path, manifest: Manifest, task_id: str, at: datetime, now: datetime) -> None:
        self.state, self.manifest, self.task_id, self.at, self.now = state, manifest, task_id, at, now
        self._context: RunContext | None = None
        self._functions: UserProcess | None = None

    def context(self) -> RunContext:
        if self._context is None:
            self._context = RunContext(
                namespace=self.manifest.namespace,
                task=self.task_id,
                run_id="why",
                scheduled_time=self.at,
                now=self.now,
                trigger="systemd" if self.manifest.backend == "systemd" else "cron",
                environ=run_environment(self.manifest, os.environ, task_variables(self.manifest.task(self.task_id))),
                history=self._earlier_runs,
            )
        return self._context

    def functions(self) -> TaskFunctions:
        if self._functions is None:
            from ..runtime.userprocess import UserProcess  # only for tasks with functions

            copy = tasks_copy_path(self.state, self.manifest.tasks_file_sha256)
            self._functions = UserProcess(self.manifest, self.task_id, copy, before_fork=_nothing, close=())
        return self._functions

    def close(self) -> None:
        """End the process that ran the tasks file's functions, if one was started."""
        if self._functions is not None:
            self._functions.stop()

    def note(self, message: str) -> None:
        """Nothing runs here, so nothing is said."""

    def _earlier_runs(self) -> tuple[str | None, datetime | None, datetime | None]:
        """The journal's runs before `at`; none if there is no readable journal."""
        journal = Journal(journal_path(self.state))
        if not journal.exists:  # connecting would create it; why writes nothing
            return None, None, None
        try:
            status, started, succeeded = journal.earlier_runs(
                self.manifest.namespace, self.task_id, self.at.timestamp()
            )
        except (sqlite3.Error, UnicodeDecodeError):
            return None, None, None
        finally:
            journal.close()
        return status, local_datetime(started), local_datetime(succeeded)
