"""Pausing and resuming installed tasks (`orchestration pause`, `resume`).

A pause is a file in the state directory (`paused/NAMESPACE` or `paused/NAMESPACE.TASK`) that the
shim reads at every firing: a paused firing is recorded as skipped, and nothing in the crontab
changes. On systemd the task's timer is stopped as well, so nothing wakes at all; a pause with an
end gets a transient timer that runs `orchestration resume --expired` then, which ends that pause
alone (a task paused for good stays paused when its namespace's pause runs out, as on a crontab).
Whichever happens, the file decides: a timer started again by a reboot still finds the task paused.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..compile.manifest import Manifest, read_head
from ..errors import ApplyError, NotInstalledError, UsageError
from ..state import PAUSED, pause_of, paused_path, read_pause, remove_file, write_private
from .manifests import candidates, current, find_task
from .systemctl import Systemctl


class PauseChange:
    """What `pause` or `resume` did: the tasks it concerns, until when, and what it could not do."""

    def __init__(
        self, reference: str, backend: str, tasks: list[str], until: float | None = None, changed: bool = True
    ) -> None:
        self.reference = reference  # 'NAMESPACE' or 'NAMESPACE/TASK'
        self.backend = backend
        self.tasks = tasks  # 'NAMESPACE/TASK' of each task concerned
        self.until = until
        self.changed = changed  # False: resume of something that was not paused
        self.still_paused_by: str | None = None  # resume of a task whose namespace stays paused
        self.warnings: list[str] = []

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


class _Target:
    """What pausing needs of an installed namespace: where it is installed, its tasks, and which
    of them fire at boot only."""

    def __init__(self, backend: str, scope: str, cli: str, tasks: list[str], at_boot: set[str]) -> None:
        self.backend, self.scope, self.cli, self.tasks, self.at_boot = backend, scope, cli, tasks, at_boot


def _target(state: Path, namespace: str, task: str | None) -> _Target:
    """The namespace (or its task), read as little as can be: one task's part of the manifest, or
    its first line when the tasks' ids are all that is needed."""
    if task is not None:
        found, _ = find_task(state, f"{namespace}/{task}")
        manifest = found.manifest
        at_boot = {task} if manifest.task(task).reboot else set()
        return _Target(manifest.backend, manifest.scope, manifest.cli_program, [task], at_boot)
    paths = candidates(state, namespace)
    head = read_head(paths[0]) if len(paths) == 1 else None
    if head is not None and head.get("backend") != "systemd" and isinstance(head.get("index"), dict):
        return _Target(
            str(head.get("backend")), str(head.get("scope")), str(head.get("cli")), list(head["index"]), set()
        )
    installed = current(state, namespace)
    if installed is None:
        raise NotInstalledError(f"namespace '{namespace}' is not installed; `orchestration list` shows what is")
    manifest = installed.manifest
    at_boot = {task_id for task_id, task in manifest.tasks.items() if task.reboot}
    return _Target(manifest.backend, manifest.scope, manifest.cli_program, list(manifest.tasks), at_boot)


def pause(state: Path, reference: str, until: float | None, now: float | None = None) -> PauseChange:
    """Pause a namespace or one task, for good or until the timestamp `until`."""
    now = time.time() if now is None else now
    namespace, task = split(reference)
    target = _target(state, namespace, task)
    _refuse_cluster(target, reference, "true")
    if until is not None and until <= now:
        raise UsageError(f"--until {time.strftime('%Y-%m-%d %H:%M:%S %z', time.localtime(until))} is not in the future")
    write_private(paused_path(state, namespace, task), json.dumps({"until": until, "paused_at": now}) + "\n")
    tasks = target.tasks
    change = PauseChange(reference, target.backend, [f"{namespace}/{t}" for t in tasks], until)
    if target.backend == "systemd":
        systemctl = Systemctl(target.scope)
        resumer = _resume_unit(namespace, task)
        try:
            systemctl.stop_quietly([f"{resumer}.timer"])
            systemctl.run("stop", *(f"{unit_name(namespace, t)}.timer" for t in tasks))
            if until is not None:
                systemctl.transient_timer(
                    resumer,
                    f"@{int(until)}",
                    [target.cli, "resume", reference, "--expired", "--scope", target.scope],
                    {"ORCHESTRATION_HOME": str(state)},
                )
        except ApplyError as error:
            change.warnings.append(
                f"{error}; the pause holds all the same: firings are recorded as skipped until you resume"
            )
    return change


def resume(state: Path, reference: str, expired: bool = False) -> PauseChange:
    """End the pause of a namespace (and of each of its tasks) or of one task; with `expired`,
    only the reference's own pause, and only once its end has come (what its timer runs)."""
    now = time.time()
    namespace, task = split(reference)
    target = _target(state, namespace, task)
    _refuse_cluster(target, reference, "false")
    tasks = target.tasks
    own = Path(paused_path(state, namespace, task))
    if expired:
        found = read_pause(state, namespace, task)
        # The timer fires at the end, to the second; a pause renewed since then is not its to end.
        files = [own] if found is not None and found.until is not None and found.until <= now + 1 else []
    elif task is None:
        folder = Path(state) / PAUSED
        files = [own, *(sorted(folder.glob(f"{namespace}.*")) if folder.is_dir() else [])]
    else:
        files = [own]
    removed = [path for path in files if remove_file(path)]
    change = PauseChange(reference, target.backend, [f"{namespace}/{t}" for t in tasks], changed=bool(removed))
    whole = read_pause(state, namespace) if task else None
    if whole is not None and whole.active(now):
        change.still_paused_by = namespace
    if target.backend == "systemd" and change.still_paused_by is None and (removed or not expired):
        systemctl = Systemctl(target.scope)
        resumers = [_resume_unit(namespace, task)]
        if task is None and not expired:
            resumers += [_resume_unit(namespace, t) for t in tasks]
        runnable = [
            f"{unit_name(namespace, t)}.timer"
            for t in tasks
            if t not in target.at_boot and pause_of(state, namespace, t, now) is None
        ]
        try:
            systemctl.stop_quietly([f"{name}.timer" for name in resumers])
            if runnable:
                systemctl.run("start", *runnable)
        except ApplyError as error:
            change.warnings.append(f"{error}; start the timers with `systemctl --user start ...`")
    return change


def _refuse_cluster(target: _Target, reference: str, suspend: str) -> None:
    """A pause is read by the shim from this machine's state folder, which a pod does not see."""
    if target.backend == "kubernetes":
        raise UsageError(
            f"{reference} runs on Kubernetes, whose pods do not see the pauses of this machine; nothing was changed",
            hint="Suspend (or resume) its CronJobs on the cluster instead: `kubectl patch cronjob"
            f' NAME --type merge -p \'{{"spec": {{"suspend": {suspend}}}}}\'`.',
        )


def hold(state: Path, manifest: Manifest) -> list[str]:
    """Stop again the timers of paused tasks that an install of the namespace started; the
    warnings of what could not be done."""
    now = time.time()
    whole = read_pause(state, manifest.namespace)
    held = [
        f"{unit_name(manifest.namespace, task)}.timer"
        for task in manifest.tasks
        if (whole is not None and whole.active(now))
        or ((found := read_pause(state, manifest.namespace, task)) is not None and found.active(now))
    ]
    if not held:
        return []
    try:
        Systemctl(manifest.scope).run("stop", *held)
    except ApplyError as error:
        return [f"{error}; the paused tasks' firings are recorded as skipped until you resume"]
    return []


def forget_removed_tasks(state: Path, manifest: Manifest) -> None:
    """Remove the pauses of tasks the namespace no longer has: a task of that name added again
    later is a new task, and starts unpaused."""
    folder = Path(state) / PAUSED
    if folder.is_dir():
        for path in folder.glob(f"{manifest.namespace}.*"):
            if path.name.partition(".")[2] not in manifest.tasks:
                remove_file(path)


def unit_name(namespace: str, task: str) -> str:
    from ..targets.systemd import unit_name as name  # only for namespaces on systemd

    return name(namespace, task)


def _resume_unit(namespace: str, task: str | None) -> str:
    """The transient unit that ends a pause (a '.' cannot occur in task units' names)."""
    return f"orchestration-resume.{namespace}.{task}" if task else f"orchestration-resume.{namespace}"


def forget(state: Path, manifest: Manifest) -> None:
    """Remove the pause files of a namespace that is uninstalled, and on systemd the timers that
    would end its pauses (they would otherwise resume a namespace installed again)."""
    namespace = manifest.namespace
    folder = Path(state) / PAUSED
    if folder.is_dir():
        for path in [folder / namespace, *folder.glob(f"{namespace}.*")]:
            remove_file(path)
    if manifest.backend == "systemd":
        resumers = [f"{_resume_unit(namespace, None)}.timer", f"{_resume_unit(namespace, '*')}.timer"]
        Systemctl(manifest.scope).stop_quietly(resumers)  # a pattern: whichever of them exist


__all__ = ["PauseChange", "forget", "forget_removed_tasks", "pause", "resume", "split"]
