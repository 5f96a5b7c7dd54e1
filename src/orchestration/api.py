"""The library: every command of the CLI as a call that returns typed values, and the public
`Orchestrator`, whose `execute_tasks()` installs. This sits on top of the pipeline and may use
every stage; the CLI (`orchestration.cli`) only parses, calls these and prints.

    import orchestration

    orchestration.install("tasks.py")                 # [NamespaceChanges]
    orchestration.installed()                         # [TaskStatus]
    orchestration.next_times("backups/nightly", count=3)
    orchestration.history("backups/nightly", limit=10)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from .compile.environment import Environment, capture_environment
from .compile.manifest import Manifest
from .compile.plan import compile_loaded
from .define import orchestrator as definitions
from .define.loader import LoadedTasks, file_sha256, file_stat, resolve_tasks_file
from .errors import ApplyError, UsageError
from .installer import manifests
from .installer.apply import compile_file, install, install_manifests, scope_state, uninstall
from .installer.diff import describe_changes
from .observe import history as run_history
from .observe.metrics import task_metrics
from .observe.preview import local_timezone
from .observe.preview import next_times as timing_next_times
from .observe.status import NextFiring, TaskStatus, installed_status
from .observe.why import Explanation, explain
from .runtime.delivery import Delivery
from .runtime.metrics import TaskMetrics
from .runtime.metrics import render as render_metrics
from .runtime.metrics import write as write_metrics
from .runtime.records import RunRecord
from .targets import Rendered
from .targets import placed as place
from .targets import render as render_target

__all__ = [
    "Orchestrator",
    "history",
    "install",
    "installed",
    "logs",
    "metrics",
    "next_times",
    "notify_test",
    "render",
    "run",
    "uninstall",
    "why",
]


class Orchestrator(definitions.Orchestrator):
    """A namespace of tasks, compiled into crontab entries or systemd timers by `install`."""

    def execute_tasks(self, follow: bool = True, *, backend: str = "auto") -> None:
        """Install this Orchestrator's tasks, then print each run as it happens until Ctrl-C.

        While `orchestration install` loads the tasks file this returns at once.
        """
        if definitions.is_collecting():
            return
        execute(self, follow=follow, backend=backend)


# --- installing ------------------------------------------------------------------------------------


def render(
    tasks_file: str | os.PathLike[str],
    target: str = "crontab",
    *,
    scope: str = "user",
    environment: Environment | None = None,
    image: str | None = None,
) -> Rendered:
    """What installing `tasks_file` into `target` would write, by file name; nothing is touched.
    `environment` fixes the programs and state folder (default: this installation's); `image`
    is the container image of the kubernetes target."""
    environment = environment or capture_environment(scope_state(scope))
    if image is not None:
        environment = replace(environment, image=image)
    files: Rendered = {}
    for compiled in compile_file(tasks_file, environment):
        placed = place(target, compiled, scope)
        path = manifests.versioned_path(environment.state_dir, placed)
        files.update(render_target(target, placed, str(path)))
    return files


def execute(
    orchestrator: definitions.Orchestrator,
    *,
    follow: bool = True,
    backend: str = "auto",
    report: Callable[[str], None] = print,
) -> None:
    """Install one Orchestrator (the tasks file run as a script), then follow its runs."""
    if orchestrator.tasks_file is None:
        raise UsageError("execute_tasks() needs the Orchestrator to be created in a tasks file")
    environment = capture_environment()
    path = resolve_tasks_file(orchestrator.tasks_file)  # a path that is not UTF-8 is refused
    loaded = LoadedTasks(path, file_sha256(path), (orchestrator,), file_stat(path))
    [compiled] = compile_loaded(loaded, environment)
    for changes in install_manifests([compiled], environment.state_dir, backend=backend):
        for warning in changes.warnings:
            report(f"Warning: {warning}")
        for line in describe_changes(changes, dry_run=False):
            report(line)
    if not follow:
        return
    from .observe.follow import follow_runs

    report(f"Following runs of {compiled.namespace}; press Ctrl-C to stop (the schedule stays installed).")
    try:
        follow_runs(environment.state_dir, namespace=compiled.namespace, report=report)
    except KeyboardInterrupt:
        report("Stopped following; the tasks stay installed.")


# --- reading ---------------------------------------------------------------------------------------


def installed(scope: str = "user", now: datetime | None = None) -> list[TaskStatus]:
    """Every installed task: schedule, next firing time, last run, problems."""
    return installed_status(scope_state(scope), now or datetime.now(local_timezone()), NextFiring())


def next_times(
    target: str, *, count: int = 5, after: datetime | None = None, scope: str = "user"
) -> dict[str, list[datetime]]:
    """The next firing times per 'NAMESPACE/TASK', of a tasks file or of an installed task."""
    after = after or datetime.now(local_timezone())
    if target.endswith(".py") or (os.path.sep in target and not _looks_like_reference(target)):
        compiled: list[Manifest] = compile_file(target)
        timings = {f"{m.namespace}/{task_id}": task.timing for m in compiled for task_id, task in m.tasks.items()}
    else:
        found, task_id = manifests.find_task(scope_state(scope), target)
        timings = {target: found.manifest.task(task_id).timing}
    return {reference: timing_next_times(timing, after, count) for reference, timing in timings.items()}


def _looks_like_reference(target: str) -> bool:
    return target.count("/") == 1 and not os.path.exists(target)


def history(
    reference: str | None = None,
    *,
    status: str | None = None,
    since: float | None = None,
    limit: int | None = None,
    scope: str = "user",
) -> run_history.RunHistory:
    """Recorded runs, newest first, filtered by task ('NAMESPACE' or 'NAMESPACE/TASK'), status and start."""
    return run_history.history(scope_state(scope), reference, status=status, since=since, limit=limit)


def logs(reference: str, run_id: str | None = None, *, follow: bool = False, scope: str = "user") -> Iterator[bytes]:
    """The output of a task's newest run (or of `run_id`); with `follow`, of later runs too."""
    return run_history.log_chunks(scope_state(scope), reference, run_id, follow=follow)


def why(reference: str, at: datetime | None = None, *, scope: str = "user") -> Explanation:
    """Whether an installed task would run at `at` (default: its next firing), and why not."""
    return explain(scope_state(scope), reference, at)


def find_run(reference: str, run_id: str | None = None, *, scope: str = "user") -> RunRecord:
    """The run `run_id` of a task, or its newest run."""
    return run_history.find_run(scope_state(scope), reference, run_id)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"'{text}' is not a time; use ISO 8601 such as 2026-01-31T09:00 or 2026-01-31T09:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=local_timezone())


# --- running ---------------------------------------------------------------------------------------


def cron_environment() -> dict[str, str]:
    """The environment cron gives a job: HOME, LOGNAME, USER, SHELL and a minimal PATH."""
    import pwd

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


def run(reference: str, *, scope: str = "user") -> int:
    """Run an installed task now through orchestration-exec, as cron would; its exit code."""
    found, task_id = manifests.find_task(scope_state(scope), reference)
    argv = [found.manifest.exec_program, str(found.path), task_id, "--trigger", "manual"]
    # Like a shell: Ctrl-C goes to the shim, which passes it to the script and records the run.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stdout.flush()
        code = subprocess.run(argv, env=cron_environment(), check=False).returncode
        return 128 - code if code < 0 else code  # the shim itself killed by signal N: 128+N
    except OSError as error:
        raise ApplyError(f"could not start {argv[0]}: {error}; reinstall the tasks file") from None
    finally:
        signal.signal(signal.SIGINT, previous)


# --- notifications and metrics -------------------------------------------------------------------


class Metrics(list[TaskMetrics]):
    """Every installed task's figures, and `text`: them in Prometheus's text format."""

    @property
    def text(self) -> str:
        return render_metrics(self)


def metrics(
    *, scope: str = "user", now: datetime | None = None, output: str | os.PathLike[str] | None = None
) -> Metrics:
    """The metrics of every installed task; with `output`, also written to that file (through a
    temporary file renamed over it, as node_exporter's textfile collector needs)."""
    state = scope_state(scope)
    found = Metrics(task_metrics(state, now or datetime.now(local_timezone())))
    if output is not None:
        folder, name = os.path.split(os.path.abspath(output))
        if name != "orchestration.prom":
            raise UsageError(f"{output}: the metrics file is named orchestration.prom; give DIR/orchestration.prom")
        try:
            write_metrics(folder, found.text, state)
        except OSError as error:
            raise ApplyError(f"{output} cannot be written: {error.strerror or error}") from None
    return found


def notify_test(reference: str, *, scope: str = "user") -> list[Delivery]:
    """Send a test notification through every channel of an installed task (and a ping to the
    log of its healthchecks.io heartbeat); what each delivery did. Nothing is recorded."""
    import time

    from .runtime.notify import Reporter, test_record

    found, task_id = manifests.find_task(scope_state(scope), reference)
    task = found.manifest.task(task_id)
    if task.reporting is None or not task.reporting.notifies:
        raise UsageError(
            f"{reference} has no notifications or ping; give add_task (or the Orchestrator) notify= or ping="
            " and install it again"
        )
    reporter = Reporter(found.manifest, task, str(scope_state(scope)), None)
    return reporter.test(test_record(found.manifest.namespace, task_id, time.time()))


def state_directory(scope: str = "user") -> Path:
    """Where manifests, the journal and logs of `scope` live."""
    return scope_state(scope)
