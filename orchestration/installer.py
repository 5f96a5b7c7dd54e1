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
from .backends import Backend, check_scope, choose_backend, make_backend
from .errors import DefinitionError, NotInstalledError, UsageError
from .faults import checkpoint
from .manifest import Installed
from .loader import LoadedTasks, load_tasks_file
from .plan import Environment, Plan, compile_plan
from .schedule import croniter_disagreement
from .state import locked, state_dir

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
    check_scope(scope)
    environment = capture_environment(scope_state(scope))
    plans = compile_loaded(load_tasks_file(tasks_file), environment)
    if scope == "system":
        for plan in plans:
            refuse_files_others_can_write(plan)
    return install_plans(plans, backend=backend, scope=scope, dry_run=dry_run)


def refuse_files_others_can_write(plan: Plan) -> None:
    """System-scope tasks run as root: a tasks file, script, interpreter or orchestration-exec
    that another user can change (or whose folders they can change) would let them run code as
    root. Each is checked by its real path, folder by folder up to /."""
    programs = [plan.tasks_file, plan.environment.exec_program]
    for task in plan.tasks:
        for step in task.steps:
            programs += list(step.command)
    for program in dict.fromkeys(programs):
        real = Path(os.path.realpath(program))
        for candidate in (real, *real.parents):
            problem = _writable_by_others(candidate)
            if problem:
                raise UsageError(
                    f"--scope system runs tasks as root, but {candidate} {problem}, which would let"
                    " another user run code as root",
                    hint=f"Make it owned by root and not writable by group or others: chown root"
                    f" {candidate} && chmod go-w {candidate}",
                )


def _writable_by_others(path: Path) -> str | None:
    import stat  # noqa: PLC0415

    info = path.stat()
    if info.st_uid != 0:
        return f"is owned by uid {info.st_uid}, not root"
    sticky_folder = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky_folder:
        return f"is writable by group or others (mode {stat.filemode(info.st_mode)})"
    return None


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
            _apply_all(staged, state)
        return [stage.changes for stage in staged]


def _apply_all(staged: list[_Stage], state: Path) -> None:
    """Apply every namespace of the file, or none: a failure puts back the ones applied."""
    applied: list[_Stage] = []
    try:
        for stage in staged:
            stage.apply()
            applied.append(stage)
    except BaseException:
        for stage in reversed(applied):
            stage.roll_back()
        raise
    for stage in staged:
        stage.forget_old_manifests(state)


@dataclass
class _Stage:
    plan: Plan
    backend: Backend
    manifest: dict[str, Any]
    path: Path  # the new manifest file, named by its content
    rendered: Any
    changes: NamespaceChanges
    old: Installed | None
    previous: Backend | None  # where the namespace was installed before, if elsewhere
    before: str | None = None  # the new manifest file's text before apply (None: it was new)

    def apply(self) -> None:
        """New manifest file, then the entries, then the old backend and old files go. An error
        puts the entries back and the manifest files as they were; a kill at any point leaves the
        entries with the manifest file they name."""
        text = manifests.dumps(self.manifest)
        before = self.before = self.path.read_text(encoding="utf-8") if self.path.exists() else None
        try:
            if text != before:
                manifests.write(self.path, self.manifest, text)
            checkpoint("manifest-written")
            self.backend.apply(self.plan.namespace, self.rendered)
            checkpoint("entries-applied")
            if self.previous is not None:
                self.previous.apply(self.plan.namespace, None)
                checkpoint("previous-removed")
        except BaseException:
            self.roll_back()
            raise

    def forget_old_manifests(self, state: Path) -> None:
        """Once every namespace is in place: the manifest files no entry names any more."""
        for path in manifests.candidates(state, self.plan.namespace):
            if path != self.path:
                manifests.remove(path)

    def roll_back(self) -> None:
        """Put the entries back as they were (best effort), and the manifest file too."""
        before = self.before
        try:
            if self.previous is None:
                old = self.backend.render(self.old.data, str(self.old.path)) if self.old else None
                self.backend.apply(self.plan.namespace, old)
            elif self.old is not None:
                self.backend.apply(self.plan.namespace, None)
                self.previous.apply(self.plan.namespace, self.previous.render(self.old.data, str(self.old.path)))
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        finally:
            if before is None:
                manifests.remove(self.path)
            elif self.path.read_text(encoding="utf-8") != before:
                manifests.write(self.path, manifests.loads(before), before)


def _stage(plan: Plan, requested: str, scope: str, state: Path) -> _Stage:
    old = current_manifest(state, plan.namespace)
    _check_identity(plan, old.data if old else None)
    warnings = []
    if requested != "auto":
        name = requested
    elif old is not None:
        name = old.data["backend"]  # `auto` leaves an installed namespace where it is
    else:
        choice = choose_backend(scope)
        name = choice.name
        warnings += [choice.warning] if choice.warning else []
    backend = make_backend(name, scope)
    new = plan.manifest(backend.name, scope)
    path = manifests.versioned_path(state, new)
    rendered = backend.render(new, str(path))
    changes = diff(old.data if old else None, new)
    previous = None
    if old is not None and (old.data["backend"], old.data.get("scope", "user")) != (name, scope):
        previous = make_backend(old.data["backend"], old.data.get("scope", "user"))
        changes.moved_from = old.data["backend"]
    if old is not None:
        warnings += hand_edits(previous or backend, old)
    changes.warnings = warnings
    installed = backend.installed(plan.namespace)  # also proves the scheduler can be reached
    changes.rewritten = old is None or old.path != path or installed != rendered
    return _Stage(plan, backend, new, path, rendered, changes, old, previous)


def hand_edits(backend: Backend, old: Installed) -> list[str]:
    """What a person changed in our entries since they were installed (they get replaced)."""
    expected = backend.render(old.data, str(old.path))
    actual = backend.installed(old.namespace)
    if actual == expected:
        return []
    return [
        f"the {backend.name} entries of namespace '{old.namespace}' were changed by hand"
        f" ({_what_changed(expected, actual)}); they are replaced by what {old.data['tasks_file']} defines"
    ]


def _what_changed(expected: Any, actual: Any) -> str:
    """'deleted: ...; edited: ...' by unit file, or by crontab line."""
    if isinstance(expected, dict):
        actual = actual or {}
        deleted = [name for name in expected if name not in actual]
        edited = [name for name in expected if name in actual and actual[name] != expected[name]]
    else:
        actual_lines = set((actual or "").splitlines())
        deleted = [line for line in expected.splitlines() if line not in actual_lines]
        edited = []
    parts = [f"deleted: {', '.join(deleted)}"] if deleted else []
    parts += [f"edited: {', '.join(edited)}"] if edited else []
    return "; ".join(parts) or "lines added"


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
        for installed in targets:
            manifest = installed.data
            changes = NamespaceChanges(
                namespace=manifest["namespace"],
                backend=manifest["backend"],
                tasks_file=manifest["tasks_file"],
                removed=list(manifest["tasks"]),
            )
            backend = make_backend(manifest["backend"], manifest.get("scope", "user"))
            changes.warnings = hand_edits(backend, installed)
            if not dry_run:
                backend.apply(manifest["namespace"], None)
                for path in manifests.candidates(state, manifest["namespace"]):
                    manifests.remove(path)
            removed.append(changes)
        return removed


def _uninstall_targets(state: Path, tasks_file, namespace, everything) -> list[Installed]:
    chosen = sum(1 for given in (tasks_file, namespace, everything) if given)
    if chosen != 1:
        raise UsageError("give exactly one of TASKS_FILE, --name NAMESPACE or --all")
    installed = installed_manifests(state)
    if everything:
        return installed
    if namespace:
        found = [m for m in installed if m.namespace == namespace]
        if not found:
            raise UsageError(
                f"namespace '{namespace}' is not installed; `orchestration list` shows what is"
            )
        return found
    path = os.path.abspath(os.path.expanduser(os.fspath(tasks_file)))
    found = [m for m in installed if m.data["tasks_file"] == path]
    if not found:
        raise UsageError(f"nothing is installed from {path}; `orchestration list` shows what is")
    return found


# --- what is installed -----------------------------------------------------------------------------


def current_manifest(state: Path, namespace: str) -> Installed | None:
    """The manifest the namespace's entries run with. After an interrupted install there are two
    files; the one the entries name is current (else the newer one)."""
    paths = manifests.candidates(state, namespace)
    if len(paths) <= 1:
        return manifests.read(paths[0]) if paths else None
    found = [manifests.read(path) for path in paths]
    for candidate in found:
        backend = make_backend(candidate.data["backend"], candidate.data.get("scope", "user"))
        if str(candidate.path) in _text(backend.installed(namespace)):
            return candidate
    return max(found, key=lambda candidate: candidate.path.stat().st_mtime)


def _text(rendered: Any) -> str:
    if rendered is None:
        return ""
    return "".join(rendered.values()) if isinstance(rendered, dict) else str(rendered)


def installed_manifests(state: Path) -> list[Installed]:
    """Every installed namespace's current manifest, by name."""
    return [m for m in (current_manifest(state, ns) for ns in manifests.namespaces(state)) if m]


def find_task(state: Path, reference: str) -> tuple[Installed, str]:
    """The manifest and task id of 'NAMESPACE/TASK'."""
    namespace, task = manifests.split_reference(reference)
    installed = current_manifest(state, namespace)
    if installed is None:
        raise NotInstalledError(
            f"namespace '{namespace}' is not installed; `orchestration list` shows what is"
        )
    if task not in installed.data["tasks"]:
        known = ", ".join(sorted(installed.data["tasks"]))
        raise NotInstalledError(f"namespace '{namespace}' has no task '{task}'; its tasks: {known}")
    return installed, task
