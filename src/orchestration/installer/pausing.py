"""Pausing and resuming installed tasks (`orchestration pause`, `resume`).

A pause is a file in the state directory (`paused/NAMESPACE` or `paused/NAMESPACE.TASK`) that the
shim reads at every firing: a paused firing is recorded as skipped, and nothing in the crontab
changes. On systemd the task's timer is stopped as well, so nothing wakes at all; a pause with an
end gets a transient timer that runs `orchestration resume` then. Whichever happens, the file
decides: a timer started again by a reboot still finds the task paused.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ApplyError, NotInstalledError, UsageError
from ..state import PAUSED, Pause, paused_path, read_pause, remove_file, write_private
from ..targets.systemd import unit_name
from .manifests import Installed, current
from .systemctl import Systemctl


@dataclass
class PauseChange:
    """What `pause` or `resume` did: the tasks it concerns, until when, and what it could not do."""

    reference: str  # 'NAMESPACE' or 'NAMESPACE/TASK'
    backend: str
    tasks: list[str]  # 'NAMESPACE/TASK' of each task concerned
    until: float | None = None
    changed: bool = True  # False: resume of something that was not paused
    still_paused_by: str | None = None  # resume of a task whose namespace stays paused
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "backend": self.backend,
            "tasks": self.tasks,
            "until": self.until,
            "changed": self.changed,
            "still_paused_by": self.still_paused_by,
            "warnings": self.warnings,
        }


def split(reference: str) -> tuple[str, str | None]:
    """'NAMESPACE' or 'NAMESPACE/TASK' to its parts, or UsageError."""
    namespace, slash, task = reference.partition("/")
    if not namespace or (slash and not task) or "/" in task:
        raise UsageError(f"'{reference}' is not NAMESPACE or NAMESPACE/TASK; `orchestration list` shows them")
    return namespace, task or None


def _installed(state: Path, namespace: str, task: str | None) -> Installed:
    installed = current(state, namespace)
    if installed is None:
        raise NotInstalledError(f"namespace '{namespace}' is not installed; `orchestration list` shows what is")
    if task is not None and task not in installed.manifest.tasks:
        known = ", ".join(sorted(installed.manifest.tasks))
        raise NotInstalledError(f"namespace '{namespace}' has no task '{task}'; its tasks: {known}")
    return installed


def pause(state: Path, reference: str, until: float | None, now: float | None = None) -> PauseChange:
    """Pause a namespace or one task, for good or until the timestamp `until`."""
    now = time.time() if now is None else now
    namespace, task = split(reference)
    installed = _installed(state, namespace, task)
    if until is not None and until <= now:
        raise UsageError(f"--until {time.strftime('%Y-%m-%d %H:%M:%S %z', time.localtime(until))} is not in the future")
    write_private(paused_path(state, namespace, task), json.dumps({"until": until, "paused_at": now}) + "\n")
    manifest = installed.manifest
    tasks = [task] if task else list(manifest.tasks)
    change = PauseChange(reference, manifest.backend, [f"{namespace}/{t}" for t in tasks], until)
    if manifest.backend == "systemd":
        systemctl = Systemctl(manifest.scope)
        resumer = _resume_unit(namespace, task)
        try:
            systemctl.stop_quietly([f"{resumer}.timer"])
            systemctl.run("stop", *(f"{unit_name(namespace, t)}.timer" for t in tasks))
            if until is not None:
                systemctl.transient_timer(
                    resumer,
                    f"@{int(until)}",
                    [manifest.cli_program, "resume", reference, "--scope", manifest.scope],
                    {"ORCHESTRATION_HOME": str(state)},
                )
        except ApplyError as error:
            change.warnings.append(
                f"{error}; the pause holds all the same: firings are recorded as skipped until you resume"
            )
    return change


def resume(state: Path, reference: str) -> PauseChange:
    """End the pause of a namespace (and of each of its tasks) or of one task."""
    namespace, task = split(reference)
    installed = _installed(state, namespace, task)
    manifest = installed.manifest
    if task is None:
        files = [Path(paused_path(state, namespace))]
        folder = Path(state) / PAUSED
        files += sorted(folder.glob(f"{namespace}.*")) if folder.is_dir() else []
        tasks = list(manifest.tasks)
    else:
        files, tasks = [Path(paused_path(state, namespace, task))], [task]
    removed = [path for path in files if remove_file(path)]
    change = PauseChange(reference, manifest.backend, [f"{namespace}/{t}" for t in tasks], changed=bool(removed))
    whole = read_pause(state, namespace) if task else None
    if whole is not None and whole.active(time.time()):
        change.still_paused_by = namespace
    if manifest.backend == "systemd" and change.still_paused_by is None:
        systemctl = Systemctl(manifest.scope)
        resumers = [_resume_unit(namespace, task)]
        if task is None:
            resumers += [_resume_unit(namespace, t) for t in tasks]
        runnable = [
            f"{unit_name(namespace, t)}.timer"
            for t in tasks
            if not manifest.task(t).timing.reboot and read_pause(state, namespace, t) is None
        ]
        try:
            systemctl.stop_quietly([f"{name}.timer" for name in resumers])
            if runnable:
                systemctl.run("start", *runnable)
        except ApplyError as error:
            change.warnings.append(f"{error}; start the timers with `systemctl --user start ...`")
    return change


def pauses(state: Path) -> dict[str, Pause]:
    """Every pause file of the state directory, by 'NAMESPACE' or 'NAMESPACE/TASK' (expired ones too)."""
    folder = Path(state) / PAUSED
    found: dict[str, Pause] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        namespace, _, task = path.name.partition(".")
        pause = read_pause(state, namespace, task or None)
        if pause is not None:
            found[pause.reference] = pause
    return found


def _resume_unit(namespace: str, task: str | None) -> str:
    """The transient unit that ends a pause (a '.' cannot occur in task units' names)."""
    return f"orchestration-resume.{namespace}.{task}" if task else f"orchestration-resume.{namespace}"


def forget(state: Path, namespace: str) -> None:
    """Remove the pause files of a namespace that is uninstalled."""
    folder = Path(state) / PAUSED
    if folder.is_dir():
        for path in [folder / namespace, *folder.glob(f"{namespace}.*")]:
            remove_file(path)


__all__ = ["PauseChange", "forget", "pause", "pauses", "resume", "split"]
