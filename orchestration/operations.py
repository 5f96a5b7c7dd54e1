"""What the reading and running commands do, as library calls: list, status, next, run, and
execute_tasks(). Installing and uninstalling live in `installer`."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import datetime
from typing import Any, Callable

from .errors import ApplyError, UsageError
from .installer import (
    capture_environment,
    compile_file,
    compile_loaded,
    describe_changes,
    find_task,
    install_plans,
    scope_state,
)
from .loader import LoadedTasks, file_sha256
from .model import Orchestrator
from .schedule import local_timezone, next_times, parse_schedule
from .status import TaskStatus, installed_status

# --- list / next ---------------------------------------------------------------------------------------


def list_installed(scope: str = "user", now: datetime | None = None) -> list[TaskStatus]:
    """Every installed task: schedule, next firing time, last run, problems."""
    return installed_status(scope_state(scope), now or datetime.now(local_timezone()), NextFiring())


class NextFiring:
    """The next firing time of a task: as systemd reports it for a timer, else from the schedule."""

    def __init__(self) -> None:
        self._elapses: dict[str, dict[str, datetime]] = {}  # by scope, asked once per listing

    def __call__(self, manifest: dict[str, Any], task_id: str, now: datetime) -> datetime | None:
        if manifest["backend"] == "systemd":
            from .backends.systemd import unit_name  # noqa: PLC0415

            elapse = self._timers(manifest.get("scope", "user")).get(f"{unit_name(manifest['namespace'], task_id)}.timer")
            if elapse is not None:
                return elapse
        times = next_times(parse_schedule(manifest["tasks"][task_id]["schedule"]), now, 1)
        return times[0] if times else None

    def _timers(self, scope: str) -> dict[str, datetime]:
        if scope not in self._elapses:
            from .backends.systemctl import Systemctl  # noqa: PLC0415

            self._elapses[scope] = Systemctl(scope).next_elapses()
        return self._elapses[scope]


def upcoming(target: str, *, count: int, after: datetime, scope: str = "user") -> dict[str, list[datetime]]:
    """Next firing times per 'NAMESPACE/TASK', for a tasks file or an installed task."""
    if target.endswith(".py") or os.path.sep in target and not _looks_like_reference(target):
        plans = compile_file(target)
        schedules = {f"{p.namespace}/{t.id}": t.schedule for p in plans for t in p.tasks}
    else:
        installed, task_id = find_task(scope_state(scope), target)
        schedules = {target: parse_schedule(installed.data["tasks"][task_id]["schedule"])}
    return {reference: next_times(schedule, after, count) for reference, schedule in schedules.items()}


def _looks_like_reference(target: str) -> bool:
    return target.count("/") == 1 and not os.path.exists(target)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"'{text}' is not a time; use ISO 8601 such as 2026-01-31T09:00 or 2026-01-31T09:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=local_timezone())


# --- run / execute ---------------------------------------------------------------------------------------


def cron_environment() -> dict[str, str]:
    """The environment cron gives a job: HOME, LOGNAME, USER, SHELL and a minimal PATH."""
    import pwd  # noqa: PLC0415

    user = pwd.getpwuid(os.getuid())
    environment = {
        "HOME": os.environ.get("HOME", user.pw_dir),
        "LOGNAME": user.pw_name,
        "USER": user.pw_name,
        "SHELL": "/bin/sh",
        "PATH": "/usr/bin:/bin",
    }
    for key in ("ORCHESTRATION_HOME", "TZ", "LANG"):
        if key in os.environ:
            environment[key] = os.environ[key]
    return environment


def run_now(reference: str, scope: str = "user") -> int:
    """Run an installed task now through orchestration-exec, as cron would; its exit code."""
    state = scope_state(scope)
    installed, task_id = find_task(state, reference)
    argv = [installed.data["exec"], str(installed.path), task_id, "--trigger", "manual"]
    # Like a shell: Ctrl-C goes to the shim, which passes it to the script and records the run.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = subprocess.run(argv, env=cron_environment(), check=False).returncode
        return 128 - code if code < 0 else code  # the shim itself killed by signal N: 128+N
    except OSError as error:
        raise ApplyError(f"could not start {argv[0]}: {error}; reinstall the tasks file") from None
    finally:
        signal.signal(signal.SIGINT, previous)


def execute(
    orchestrator: Orchestrator,
    *,
    follow: bool = True,
    backend: str = "auto",
    report: Callable[[str], None] = print,
) -> None:
    """Install one Orchestrator (the tasks file run as a script), then follow its runs."""
    if orchestrator.tasks_file is None:
        raise UsageError("execute_tasks() needs the Orchestrator to be created in a tasks file")
    environment = capture_environment()
    plan = compile_loaded(
        LoadedTasks(orchestrator.tasks_file, file_sha256(orchestrator.tasks_file), (orchestrator,)),
        environment,
    )[0]
    for changes in install_plans([plan], backend=backend):
        for warning in changes.warnings:
            report(f"Warning: {warning}")
        for line in describe_changes(changes, dry_run=False):
            report(line)
    if not follow:
        return
    from .follow import follow_runs  # noqa: PLC0415

    report(f"Following runs of {plan.namespace}; press Ctrl-C to stop (the schedule stays installed).")
    try:
        follow_runs(environment.state_dir, namespace=plan.namespace, report=report)
    except KeyboardInterrupt:
        report("Stopped following; the tasks stay installed.")
