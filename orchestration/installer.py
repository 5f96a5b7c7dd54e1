"""Installing and uninstalling namespaces: compute first (load, compile, render, diff: no side
effects), then apply under the install lock, so a wrong definition changes nothing and a failed
write leaves the old state."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import manifest as manifests
from .backends import Backend, choose_backend, make_backend
from .errors import DefinitionError, UsageError
from .loader import LoadedTasks, load_tasks_file
from .plan import Environment, Plan, compile_plan
from .schedule import croniter_disagreement
from .state import locked, remove_file, state_dir, write_private

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
    moved_from: str | None = None  # the backend it was installed in before
    descriptions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.rewritten or self.moved_from)


def scope_state(scope: str) -> Path:
    """The state directory of a scope (system: /var/lib/orchestration)."""
    return state_dir(system=scope == "system")


def capture_environment(state: Path | None = None) -> Environment:
    """The programs and PATH of this installation, for the manifest and the entries."""
    return Environment(
        exec_program=program("orchestration-exec"),
        cli_program=program("orchestration"),
        python=sys.executable,
        path=os.environ.get("PATH") or "/usr/bin:/bin",
        home=os.path.expanduser("~"),
        state_dir=state or state_dir(),
    )


def program(name: str) -> str:
    """The absolute path of one of our programs, next to this interpreter or on PATH."""
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


# --- compile ---------------------------------------------------------------------------------------


def compile_file(tasks_file: str | os.PathLike[str], environment: Environment | None = None) -> list[Plan]:
    """Load a tasks file and compile each of its Orchestrators (no side effects)."""
    return compile_loaded(load_tasks_file(tasks_file), environment or capture_environment())


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


# --- install ---------------------------------------------------------------------------------------


def install(
    tasks_file: str | os.PathLike[str], *, backend: str = "auto", scope: str = "user", dry_run: bool = False
) -> list[NamespaceChanges]:
    """Install every Orchestrator of a tasks file; what changed per namespace."""
    environment = capture_environment(scope_state(scope))
    plans = compile_loaded(load_tasks_file(tasks_file), environment)
    return install_plans(plans, backend=backend, scope=scope, dry_run=dry_run)


def install_plans(
    plans: list[Plan], *, backend: str = "auto", scope: str = "user", dry_run: bool = False
) -> list[NamespaceChanges]:
    """Stage every plan (nothing written if any is wrong), then apply them one by one."""
    if not plans:
        return []
    state = plans[0].environment.state_dir
    with locked(state / INSTALL_LOCK):
        staged = [_stage(plan, backend, scope, state) for plan in plans]
        if not dry_run:
            for stage in staged:
                stage.apply(state)
        return [stage.changes for stage in staged]


@dataclass
class _Stage:
    plan: Plan
    backend: Backend
    manifest: dict[str, Any]
    rendered: Any
    changes: NamespaceChanges
    previous: Backend | None  # where the namespace was installed before, if elsewhere

    def apply(self, state: Path) -> None:
        """Write the manifest, then the entries; put the old manifest back if the entries fail."""
        path = manifests.manifest_path(state, self.plan.namespace)
        old_text = path.read_text(encoding="utf-8") if path.exists() else None
        new_text = manifests.dumps(self.manifest)
        if new_text != old_text:
            write_private(path, new_text)
        try:
            self.backend.apply(self.plan.namespace, self.rendered)
        except BaseException:
            if old_text is None:
                remove_file(path)
            elif new_text != old_text:
                write_private(path, old_text)
            raise
        if self.previous is not None:
            self.previous.apply(self.plan.namespace, None)


def _stage(plan: Plan, requested: str, scope: str, state: Path) -> _Stage:
    old = manifests.read_namespace(state, plan.namespace)
    _check_identity(plan, old)
    warnings = []
    if requested != "auto":
        name = requested
    elif old is not None:
        name = old["backend"]  # `auto` leaves an installed namespace where it is
    else:
        choice = choose_backend(scope)
        name = choice.name
        warnings += [choice.warning] if choice.warning else []
    backend = make_backend(name, scope)
    new = plan.manifest(backend.name, scope)
    rendered = backend.render(plan)
    changes = diff(old, new)
    changes.warnings = warnings
    previous = None
    if old is not None and (old["backend"], old.get("scope", "user")) != (name, scope):
        previous = make_backend(old["backend"], old.get("scope", "user"))
        changes.moved_from = old["backend"]
    changes.rewritten = old != new or backend.installed(plan.namespace) != rendered
    return _Stage(plan, backend, new, rendered, changes, previous)


def _check_identity(plan: Plan, old: dict[str, Any] | None) -> None:
    if old is not None and old["tasks_file"] != plan.tasks_file:
        raise UsageError(
            f"namespace '{plan.namespace}' is installed from {old['tasks_file']}, not from"
            f" {plan.tasks_file}",
            hint=(
                f"Uninstall it first (`orchestration uninstall --name {plan.namespace}`), or give"
                " this file its own namespace with Orchestrator(name='...')."
            ),
        )


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


def describe_changes(changes: NamespaceChanges, *, dry_run: bool) -> Iterable[str]:
    """Lines that say what an install did (or would do) to one namespace."""
    verb = "Would install" if dry_run else "Installed"
    if not changes.any:
        yield (
            f"Namespace '{changes.namespace}' ({changes.backend}) is up to date with"
            f" {changes.tasks_file}; nothing changed."
        )
        return
    moved = f", moved from {changes.moved_from}" if changes.moved_from else ""
    yield f"{verb} namespace '{changes.namespace}' ({changes.backend}{moved}) from {changes.tasks_file}:"
    for mark, task_ids in (("+", changes.added), ("~", changes.changed), ("-", changes.removed)):
        for task_id in task_ids:
            yield f"  {mark} {task_id}  {changes.descriptions.get(task_id, '')}".rstrip()
    if not (changes.added or changes.changed or changes.removed or changes.moved_from):
        yield "  no task changed; the manifest was refreshed (the tasks file or the environment changed)"
    yield (
        f"  {len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed,"
        f" {len(changes.unchanged)} unchanged."
    )


# --- uninstall -------------------------------------------------------------------------------------


def uninstall(
    *,
    tasks_file: str | os.PathLike[str] | None = None,
    namespace: str | None = None,
    everything: bool = False,
    scope: str = "user",
    dry_run: bool = False,
) -> list[NamespaceChanges]:
    """Remove our entries and manifests (run records stay) for a file, a namespace, or all."""
    state = scope_state(scope)
    with locked(state / INSTALL_LOCK):
        targets = _uninstall_targets(state, tasks_file, namespace, everything)
        removed = []
        for manifest in targets:
            changes = NamespaceChanges(
                namespace=manifest["namespace"],
                backend=manifest["backend"],
                tasks_file=manifest["tasks_file"],
                removed=list(manifest["tasks"]),
            )
            if not dry_run:
                backend = make_backend(manifest["backend"], manifest.get("scope", "user"))
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
