"""What the commands do, as library calls: install, uninstall, compile, list, next, run, execute.

Each computes first (load, compile, render, diff: no side effects) and applies last, under the
install lock, so a wrong definition changes nothing and a failed write leaves the old state.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from . import manifest as manifests
from .backends.crontab import CrontabBackend
from .errors import ApplyError, DefinitionError, UsageError
from .loader import LoadedTasks, file_sha256, load_tasks_file
from .model import Orchestrator
from .plan import Environment, Plan, compile_plan
from .schedule import local_timezone, next_times, parse_schedule, croniter_disagreement
from .state import locked, remove_file, state_dir, write_private
from .status import TaskStatus, installed_status

BACKENDS = ("crontab",)
INSTALL_LOCK = "locks/install.lock"


@dataclass
class NamespaceChanges:
    """What an install or uninstall does to one namespace."""

    namespace: str
    backend: str
    tasks_file: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rewritten: bool = False  # the manifest or the entries differ from what is installed
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.rewritten)


def capture_environment(state: Path | None = None) -> Environment:
    """The programs and PATH of this installation, for the manifest and the entries."""
    return Environment(
        exec_program=_program("orchestration-exec"),
        cli_program=_program("orchestration"),
        python=sys.executable,
        path=os.environ.get("PATH") or "/usr/bin:/bin",
        home=os.path.expanduser("~"),
        state_dir=state or state_dir(),
    )


def _program(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return os.path.abspath(found)
    raise UsageError(
        f"the program {name} is not installed next to {sys.executable} nor on PATH;"
        " install the package with `pip install orchestration` in this environment"
    )


def backend_for(name: str) -> CrontabBackend:
    if name in ("auto", "crontab"):
        return CrontabBackend()
    raise UsageError(f"unknown backend '{name}'; choose one of auto, {', '.join(BACKENDS)}")


# --- compile -----------------------------------------------------------------------------------------


def compile_file(tasks_file: str | os.PathLike[str], environment: Environment | None = None) -> list[Plan]:
    """Load a tasks file and compile each of its Orchestrators (no side effects)."""
    loaded = load_tasks_file(tasks_file)
    return compile_loaded(loaded, environment or capture_environment())


def compile_loaded(loaded: LoadedTasks, environment: Environment) -> list[Plan]:
    plans = [compile_plan(o, loaded.sha256, environment) for o in loaded.orchestrators]
    _refuse_shared_namespaces(plans, loaded.path)
    for plan in plans:
        for task in plan.tasks:
            disagreement = croniter_disagreement(task.schedule)
            if disagreement:
                raise DefinitionError(
                    f"cron expression '{task.schedule.expression}' cannot be previewed exactly"
                    f" ({disagreement}); write it with plain numbers, lists and ranges",
                    task=f"task '{task.id}'",
                    field="cron_expression",
                )
    return plans


def _refuse_shared_namespaces(plans: list[Plan], tasks_file: Path) -> None:
    seen: set[str] = set()
    for plan in plans:
        if plan.namespace in seen:
            raise DefinitionError(
                f"{tasks_file}: two Orchestrators share the namespace '{plan.namespace}'; give each"
                " its own name with Orchestrator(name='...')"
            )
        seen.add(plan.namespace)


# --- install / uninstall ----------------------------------------------------------------------------


def install(
    tasks_file: str | os.PathLike[str], *, backend: str = "auto", dry_run: bool = False
) -> list[NamespaceChanges]:
    """Install every Orchestrator of a tasks file; what changed per namespace."""
    environment = capture_environment()
    plans = compile_loaded(load_tasks_file(tasks_file), environment)
    return install_plans(plans, backend_for(backend), dry_run=dry_run)


def install_plans(plans: list[Plan], backend: CrontabBackend, *, dry_run: bool = False) -> list[NamespaceChanges]:
    if not plans:
        return []
    state = plans[0].environment.state_dir
    with locked(state / INSTALL_LOCK):
        staged = [_stage(plan, backend, state) for plan in plans]
        if not dry_run:
            for plan, new_manifest, block, changes in staged:
                _apply(plan, new_manifest, block, backend, state)
        return [changes for _, _, _, changes in staged]


def _stage(plan: Plan, backend: CrontabBackend, state: Path):
    old = manifests.read_namespace(state, plan.namespace)
    if old is not None and old["tasks_file"] != plan.tasks_file:
        raise UsageError(
            f"namespace '{plan.namespace}' is installed from {old['tasks_file']}, not from"
            f" {plan.tasks_file}",
            hint=(
                f"Uninstall it first (`orchestration uninstall --name {plan.namespace}`), or give"
                " this file its own namespace with Orchestrator(name='...')."
            ),
        )
    new = plan.manifest(backend.name)
    block = backend.render(plan)
    changes = diff(old, new)
    changes.rewritten = old != new or backend.installed(plan.namespace) != block
    return plan, new, block, changes


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> NamespaceChanges:
    """Which tasks an install adds, changes, removes or leaves alone (pure)."""
    old_tasks = old["tasks"] if old else {}
    new_tasks = new["tasks"]
    changes = NamespaceChanges(namespace=new["namespace"], backend=new["backend"], tasks_file=new["tasks_file"])
    for task_id, entry in new_tasks.items():
        changes.descriptions[task_id] = f"{entry['schedule']}  ({entry['description']})"
        if task_id not in old_tasks:
            changes.added.append(task_id)
        elif old_tasks[task_id] != entry:
            changes.changed.append(task_id)
        else:
            changes.unchanged.append(task_id)
    changes.removed = [task_id for task_id in old_tasks if task_id not in new_tasks]
    return changes


def _apply(plan: Plan, new_manifest: dict[str, Any], block: str, backend: CrontabBackend, state: Path) -> None:
    """Write the manifest, then the entries; put the old manifest back if the entries fail."""
    path = manifests.manifest_path(state, plan.namespace)
    old_text = path.read_text(encoding="utf-8") if path.exists() else None
    new_text = manifests.dumps(new_manifest)
    if new_text != old_text:
        write_private(path, new_text)
    try:
        backend.apply(plan.namespace, block)
    except BaseException:
        if old_text is None:
            remove_file(path)
        elif new_text != old_text:
            write_private(path, old_text)
        raise


def uninstall(
    *,
    tasks_file: str | os.PathLike[str] | None = None,
    namespace: str | None = None,
    everything: bool = False,
    dry_run: bool = False,
) -> list[NamespaceChanges]:
    """Remove our entries and manifests (run records stay) for a file, a namespace, or all."""
    state = state_dir()
    with locked(state / INSTALL_LOCK):
        targets = _uninstall_targets(state, tasks_file, namespace, everything)
        backend = CrontabBackend()
        removed = []
        for manifest in targets:
            changes = NamespaceChanges(
                namespace=manifest["namespace"],
                backend=manifest.get("backend", "crontab"),
                tasks_file=manifest["tasks_file"],
                removed=list(manifest["tasks"]),
            )
            if not dry_run:
                backend.apply(manifest["namespace"], None)
                remove_file(manifests.manifest_path(state, manifest["namespace"]))
            removed.append(changes)
        return removed


def _uninstall_targets(state: Path, tasks_file, namespace, everything) -> list[dict[str, Any]]:
    chosen = sum(1 for given in (tasks_file, namespace, everything) if given)
    if chosen != 1:
        raise UsageError("give exactly one of TASKS_FILE, --name NAMESPACE or --all")
    installed = list(manifests.installed(state))
    if everything:
        return installed
    if namespace:
        found = [m for m in installed if m["namespace"] == namespace]
        if not found:
            raise UsageError(
                f"namespace '{namespace}' is not installed; `orchestration list` shows what is"
            )
        return found
    path = os.path.abspath(os.path.expanduser(os.fspath(tasks_file)))
    found = [m for m in installed if m["tasks_file"] == path]
    if not found:
        raise UsageError(f"nothing is installed from {path}; `orchestration list` shows what is")
    return found


# --- list / next ---------------------------------------------------------------------------------------


def list_installed(now: datetime | None = None) -> list[TaskStatus]:
    """Every installed task: schedule, next firing time, last run, problems."""
    return installed_status(state_dir(), now or datetime.now(local_timezone()))


def upcoming(target: str, *, count: int, after: datetime) -> dict[str, list[datetime]]:
    """Next firing times per 'NAMESPACE/TASK', for a tasks file or an installed task."""
    if target.endswith(".py") or os.path.sep in target and not _looks_like_reference(target):
        plans = compile_file(target)
        schedules = {f"{p.namespace}/{t.id}": t.schedule for p in plans for t in p.tasks}
    else:
        manifest, task_id = manifests.find_task(state_dir(), target)
        schedules = {target: parse_schedule(manifest["tasks"][task_id]["schedule"])}
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


def run_now(reference: str) -> int:
    """Run an installed task now through orchestration-exec, as cron would; its exit code."""
    state = state_dir()
    manifest, task_id = manifests.find_task(state, reference)
    path = manifests.manifest_path(state, manifest["namespace"])
    argv = [manifest.get("exec") or _program("orchestration-exec"), str(path), task_id, "--trigger", "manual"]
    try:
        return subprocess.run(argv, env=cron_environment(), check=False).returncode
    except OSError as error:
        raise ApplyError(f"could not start {argv[0]}: {error}; reinstall the tasks file") from None


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
    for changes in install_plans([plan], backend_for(backend)):
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


def describe_changes(changes: NamespaceChanges, *, dry_run: bool) -> Iterable[str]:
    """Lines that say what an install did (or would do) to one namespace."""
    verb = "Would install" if dry_run else "Installed"
    if not changes.any:
        yield (
            f"Namespace '{changes.namespace}' ({changes.backend}) is up to date with"
            f" {changes.tasks_file}; nothing changed."
        )
        return
    yield f"{verb} namespace '{changes.namespace}' ({changes.backend}) from {changes.tasks_file}:"
    for mark, task_ids in (("+", changes.added), ("~", changes.changed), ("-", changes.removed)):
        for task_id in task_ids:
            yield f"  {mark} {task_id}  {changes.descriptions.get(task_id, '')}".rstrip()
    if not (changes.added or changes.changed or changes.removed):
        yield "  no task changed; the manifest was refreshed (the tasks file or the environment changed)"
    yield (
        f"  {len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed,"
        f" {len(changes.unchanged)} unchanged."
    )
