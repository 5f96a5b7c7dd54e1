"""Metrics of every installed task in Prometheus's text format, for `orchestration metrics` and
for the file node_exporter's textfile collector reads (`metrics_dir=`, or the environment
variable ORCHESTRATION_METRICS_DIR: each run rewrites DIR/orchestration.prom, through a
temporary file renamed in the same folder, so the collector never reads half a file).

    orchestration_task_last_run_timestamp_seconds      start of the newest run that ended
    orchestration_task_last_success_timestamp_seconds  end of the newest run that ended ok
    orchestration_task_last_duration_seconds           duration of the newest run that ran
    orchestration_task_runs_total{status=...}          runs that ended with each status
    orchestration_task_next_run_timestamp_seconds      the next firing (none for @reboot)
    orchestration_task_up                              0 when the tasks file changed since the
                                                       install (drift) or a program is gone

Each with the labels namespace, task and backend. The counts come from the journal's totals,
which pruning old runs does not lower, so they are counters. Standard library only: a run with
a metrics folder writes the file.
"""

from __future__ import annotations

import os

from ..compile import manifest as manifests
from ..compile.manifest import Manifest, TaskManifest
from ..frozen import Frozen
from ..state import MANIFESTS, journal_path, lock_path, locked
from .journal import Journal

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from collections.abc import Callable

METRICS_FILE = "orchestration.prom"
STATUSES = ("ok", "failed", "skipped", "error", "timeout", "overlap", "killed")
PREFIX = "orchestration_task_"
HELP = {
    "last_run_timestamp_seconds": ("gauge", "Start of the newest run of the task that ended, whatever its status."),
    "last_success_timestamp_seconds": ("gauge", "End of the newest run of the task that ended ok."),
    "last_duration_seconds": ("gauge", "Duration of the newest run of the task that ran (skips aside)."),
    "runs_total": ("counter", "Runs of the task that ended, by status."),
    "next_run_timestamp_seconds": ("gauge", "The next time the task's schedule fires."),
    "up": ("gauge", "1 if the task runs as installed; 0 if its tasks file changed (drift) or a program is gone."),
}


class TaskMetrics(Frozen):
    """One installed task's figures (None: not known yet, and not written)."""

    namespace: str
    task: str
    backend: str
    up: bool
    runs: tuple[tuple[str, int], ...]  # (status, runs), for every status
    last_run: float | None = None
    last_success: float | None = None
    last_duration: float | None = None
    next_run: float | None = None


def collect(
    state: str | os.PathLike[str],
    installed: list[Manifest],
    next_run: Callable[[Manifest, str], float | None],
    up: Callable[[Manifest, TaskManifest], bool],
) -> list[TaskMetrics]:
    """The figures of every task of `installed`, from the journal of `state`."""
    journal = Journal(journal_path(state))
    try:
        totals = journal.totals() if journal.exists else {}
        found = []
        for manifest in installed:
            for task_id, task in manifest.tasks.items():
                counts = totals.get((manifest.namespace, task_id), {})
                ended = [started for _, started, _ in counts.values() if started is not None]
                success = counts.get("ok", (0, None, None))[2]
                found.append(
                    TaskMetrics(
                        namespace=manifest.namespace,
                        task=task_id,
                        backend=manifest.backend,
                        up=up(manifest, task),
                        runs=tuple((status, counts.get(status, (0, None, None))[0]) for status in STATUSES),
                        last_run=max(ended) if ended else None,
                        last_success=success,
                        last_duration=journal.last_duration(manifest.namespace, task_id) if counts else None,
                        next_run=next_run(manifest, task_id),
                    )
                )
        return found
    finally:
        journal.close()


def render(tasks: list[TaskMetrics]) -> str:
    """The Prometheus text format: each metric's HELP and TYPE, then its samples."""
    lines = []
    for name, (kind, text) in HELP.items():
        samples = []
        for task in tasks:
            labels = f'namespace="{_label(task.namespace)}",task="{_label(task.task)}",backend="{_label(task.backend)}"'
            if name == "runs_total":
                samples += [f'{PREFIX}{name}{{{labels},status="{status}"}} {count}' for status, count in task.runs]
                continue
            value = {
                "last_run_timestamp_seconds": task.last_run,
                "last_success_timestamp_seconds": task.last_success,
                "last_duration_seconds": task.last_duration,
                "next_run_timestamp_seconds": task.next_run,
                "up": 1 if task.up else 0,
            }[name]
            if value is not None:
                samples.append(f"{PREFIX}{name}{{{labels}}} {_number(value)}")
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} {kind}", *samples]
    return "\n".join(lines) + "\n"


def write(directory: str | os.PathLike[str], text: str, state: str | os.PathLike[str]) -> str:
    """Rewrite DIRECTORY/orchestration.prom with `text`: a temporary file in the same folder,
    renamed over it, under a lock so that runs ending together leave the newest figures."""
    path = os.path.join(directory, METRICS_FILE)
    temporary = os.path.join(directory, f".{METRICS_FILE}.{os.getpid()}")
    with locked(lock_path(state, "metrics.lock")):
        try:
            # Readable by node_exporter, which runs as its own user: the figures hold no secret.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with open(descriptor, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    return path


def write_state_metrics(state: str, directory: str) -> str:
    """What a run writes: every task installed in `state`, next firings from their schedules."""
    tasks = collect(state, installed_here(state), _next_from_fields, is_up)
    return write(directory, render(tasks), state)


def installed_here(state: str | os.PathLike[str]) -> list[Manifest]:
    """Every namespace's manifest in `state`: the newest file of each (the shim does not ask the
    scheduler which one its entries name, as `orchestration status` does)."""
    folder = os.path.join(state, MANIFESTS)
    newest: dict[str, tuple[float, str]] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        if name.endswith(".json") and name.count(".") >= 2 and not name.startswith("."):
            path = os.path.join(folder, name)
            try:
                written = os.stat(path).st_mtime
            except OSError:
                continue
            namespace = name.split(".", 1)[0]
            if namespace not in newest or written > newest[namespace][0]:
                newest[namespace] = (written, path)
    found = []
    for namespace in sorted(newest):
        try:
            found.append(manifests.read(newest[namespace][1]))
        except (OSError, ValueError):
            continue
    return found


def is_up(manifest: Manifest, task: TaskManifest) -> bool:
    """Whether the task runs as installed: its tasks file unchanged, orchestration-exec and every
    script and interpreter still there (what `orchestration status` marks with !)."""
    try:
        if manifest.tasks_file_changed():
            return False
    except OSError:
        return False
    if not os.access(manifest.exec_program, os.X_OK):
        return False
    return all(os.path.exists(program) for step in task.steps for program in step.command)


def _next_from_fields(manifest: Manifest, task_id: str) -> float | None:
    """The task's next instant by the schedule's rule, in its zone (else the machine's)."""
    import time

    from ..rules.instants import union_next_instants, zone_of

    task = manifest.task(task_id)
    found = union_next_instants(task.all_fields, zone_of(task.zone or manifest.machine_zone), time.time(), 1)
    return found[0] if found else None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
