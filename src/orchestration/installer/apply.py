"""Installing and uninstalling namespaces: compute first (load, compile, render, diff: no side
effects), then apply under the install lock, so a wrong definition changes nothing and a failed
write leaves the old state."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..compile import manifest as manifest_json
from ..compile.environment import Environment, capture_environment
from ..compile.manifest import Manifest
from ..compile.plan import compile_loaded
from ..define.loader import load_tasks_file
from ..errors import OrchestrationError, UsageError
from ..rules.instants import next_change_note, transitions, zone_of
from ..state import lock_path, locked, prepare_state, state_dir
from ..targets import Rendered, placed, render
from . import manifests, pausing
from .crashpoints import checkpoint
from .diff import NamespaceChanges, diff, removal
from .entries import hand_edit_summary_of, rendered_for
from .foreground import engine_running
from .manifests import Installed
from .schedulers import Scheduler, check_scope, choose_backend, make_scheduler

INSTALL_LOCK = "install.lock"


def scope_state(scope: str) -> Path:
    """The state directory of a scope (system: /var/lib/orchestration)."""
    return state_dir(system=scope == "system")


def compile_file(tasks_file: str | os.PathLike[str], environment: Environment | None = None) -> list[Manifest]:
    """Load a tasks file and compile each of its Orchestrators (no side effects)."""
    return compile_loaded(load_tasks_file(tasks_file), environment or capture_environment())


def install(
    tasks_file: str | os.PathLike[str],
    *,
    backend: str = "auto",
    scope: str = "user",
    dry_run: bool = False,
    image: str | None = None,
) -> list[NamespaceChanges]:
    """Install every Orchestrator of a tasks file; what changed per namespace. `image` is the
    container image of the kubernetes backend (default: the one it was installed with)."""
    check_scope(scope)
    environment = capture_environment(scope_state(scope))
    if image is not None:
        environment = environment.replace(image=image)
    compiled = compile_file(tasks_file, environment)
    if scope == "system":
        for manifest in compiled:
            refuse_files_others_can_write(manifest)
    return install_manifests(
        compiled, environment.state_dir, backend=backend, scope=scope, dry_run=dry_run, whole_file=True
    )


def refuse_files_others_can_write(manifest: Manifest) -> None:
    """System-scope tasks run as root: a tasks file, script, interpreter or orchestration-exec
    that another user can change (or whose folders they can change) would let them run code as
    root. Each is checked by its real path, folder by folder up to /."""
    programs = [manifest.tasks_file, manifest.exec_program]
    for task in manifest.tasks.values():
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
    info = path.stat()
    if info.st_uid != 0:
        return f"is owned by uid {info.st_uid}, not root"
    sticky_folder = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky_folder:
        return f"is writable by group or others (mode {stat.filemode(info.st_mode)})"
    return None


def install_manifests(
    compiled: list[Manifest],
    state: Path,
    *,
    backend: str = "auto",
    scope: str = "user",
    dry_run: bool = False,
    whole_file: bool = False,
) -> list[NamespaceChanges]:
    """Stage every namespace (nothing written if any is wrong), then apply them one by one.
    `whole_file`: `compiled` is every namespace of its tasks file, so a namespace installed from
    that file which it no longer defines (renamed, or its Orchestrator deleted) is removed."""
    if not compiled:
        return []
    prepare_state(state)
    with locked(lock_path(state, INSTALL_LOCK)):
        staged = [_stage(manifest, backend, scope, state) for manifest in compiled]
        dropped = _no_longer_defined(compiled, state) if whole_file else []
        for leaving in dropped:
            leaving.changes.no_longer_defined = True
        if not dry_run:
            _apply_all(staged, dropped, state)
        return [stage.changes for stage in staged] + [leaving.changes for leaving in dropped]


def _apply_all(staged: list[_Stage], dropped: list[_Removal], state: Path) -> None:
    """Apply every namespace of the file, or none: a failure puts back the ones applied."""
    steps: list[_Stage | _Removal] = [*staged, *dropped]
    applied: list[_Stage | _Removal] = []
    try:
        for stage in steps:
            stage.apply()
            applied.append(stage)
    except BaseException:
        for stage in reversed(applied):
            stage.roll_back()
        raise
    for stage in staged:
        stage.forget_old_manifests(state)
        pausing.forget_removed_tasks(state, stage.manifest)
        if stage.scheduler.name == "systemd" and not stage.in_place:
            stage.changes.warnings += pausing.hold(state, stage.manifest)  # the timers it started
    for leaving in dropped:
        leaving.forget(state, keep_pauses=False)
    manifests.forget_tasks_files(state)


def _no_longer_defined(compiled: list[Manifest], state: Path) -> list[_Removal]:
    """The namespaces installed from the tasks file of `compiled` that it no longer defines."""
    defined = {manifest.namespace for manifest in compiled}
    return [_Removal.of(old) for old in installed_from(state, compiled[0].tasks_file, besides=defined)]


def installed_from(state: Path, tasks_file: str, besides: Collection[str] = ()) -> list[Installed]:
    """The namespaces installed from `tasks_file`, but those in `besides`."""
    found = []
    for namespace in manifests.namespaces(state):
        old = None if namespace in besides else _installed_from(state, namespace, tasks_file)
        if old is not None:
            found.append(old)
    return found


def _installed_from(state: Path, namespace: str, tasks_file: str) -> Installed | None:
    """The namespace's current manifest if it was installed from `tasks_file`; most are told
    apart by their first line, without reading their tasks. A manifest that cannot be read is
    left alone: it is not this install's to judge."""
    paths = manifests.candidates(state, namespace)
    head = manifest_json.read_head(paths[0]) if len(paths) == 1 else None
    if head is not None and head.get("tasks_file") != tasks_file:
        return None
    try:
        old = manifests.current(state, namespace)
    except OrchestrationError:
        return None
    return old if old is not None and old.manifest.tasks_file == tasks_file else None


@dataclass
class _Stage:
    manifest: Manifest
    scheduler: Scheduler
    path: Path  # the new manifest file, named by its content
    rendered: Rendered
    changes: NamespaceChanges
    old: Installed | None
    previous: Scheduler | None  # where the namespace was installed before, if elsewhere
    before: str | None = None  # the new manifest file's text before apply (None: it was new)
    in_place: bool = False  # manifest and entries are exactly what is installed: nothing to do

    @property
    def namespace(self) -> str:
        return self.manifest.namespace

    def apply(self) -> None:
        """New manifest file, then the entries, then the old scheduler and old files go. An error
        puts the entries back and the manifest files as they were; a kill at any point leaves the
        entries with the manifest file they name."""
        if self.in_place:
            manifests.keep_tasks_file(self.path.parent.parent, self.manifest)  # unless it is there
            return
        text = self.manifest.to_json()
        before = self.before = self.path.read_text(encoding="utf-8") if self.path.exists() else None
        try:
            manifests.keep_tasks_file(self.path.parent.parent, self.manifest)
            if text != before:
                manifests.write(self.path, self.manifest)
            checkpoint("manifest-written")
            self.scheduler.apply(self.namespace, self.rendered)
            manifests.write_entries(self.path, self.rendered)
            checkpoint("entries-applied")
            if self.previous is not None:
                self.previous.apply(self.namespace, None)
                checkpoint("previous-removed")
        except BaseException:
            self.roll_back()
            raise

    def forget_old_manifests(self, state: Path) -> None:
        """Once every namespace is in place: the manifest files no entry names any more."""
        for path in manifests.candidates(state, self.namespace):
            if path != self.path:
                manifests.remove(path)

    def roll_back(self) -> None:
        """Put the entries back as they were (best effort), and the manifest file too. A stage
        in place changed nothing: it has nothing to put back."""
        if self.in_place:
            return
        try:
            old = rendered_for(self.old) if self.old else None
            if self.previous is None:
                self.scheduler.apply(self.namespace, old)
            elif old is not None:
                self.scheduler.apply(self.namespace, None)
                self.previous.apply(self.namespace, old)
        except Exception:  # the first error is the one to report
            pass
        finally:
            if self.before is None:
                manifests.remove(self.path)
            elif self.path.read_text(encoding="utf-8") != self.before:
                manifests.write(self.path, Manifest.from_json(self.before))


class _Removal:
    """A namespace leaving its scheduler (an uninstall, or a namespace its tasks file no longer
    defines): its entries go, then its manifest files and pauses."""

    def __init__(self, old: Installed, scheduler: Scheduler, changes: NamespaceChanges) -> None:
        self.old, self.scheduler, self.changes = old, scheduler, changes

    @classmethod
    def of(cls, old: Installed) -> _Removal:
        scheduler = make_scheduler(old.manifest.backend, old.manifest.scope)
        changes = removal(old.manifest)
        changes.warnings = hand_edits(scheduler, old, removing=True)
        return cls(old, scheduler, changes)

    def apply(self) -> None:
        try:
            self.scheduler.apply(self.old.namespace, None)
        except OrchestrationError as error:
            if self.changes.no_longer_defined:  # the install's own namespaces are not the cause
                error.message = (
                    f"namespace '{self.old.namespace}', which {self.old.manifest.tasks_file} no longer"
                    f" defines, could not be removed from {self.scheduler.name}, so nothing was changed:"
                    f" {error.message}"
                )
            raise

    def roll_back(self) -> None:
        """Put the entries back as they were installed (best effort)."""
        try:
            self.scheduler.apply(self.old.namespace, rendered_for(self.old))
        except Exception:  # the first error is the one to report
            pass

    def forget(self, state: Path, keep_pauses: bool) -> None:
        """Once its entries are gone: its manifest files, and its pauses unless `keep_pauses`."""
        for path in manifests.candidates(state, self.old.namespace):
            manifests.remove(path)
        if not keep_pauses:
            pausing.forget(state, self.old.manifest)


def _stage(manifest: Manifest, requested: str, scope: str, state: Path) -> _Stage:
    unchanged = _in_place(manifest, requested, scope, state)
    if unchanged is not None:
        return unchanged
    old = manifests.current(state, manifest.namespace)
    _check_identity(manifest, old.manifest if old else None)
    warnings = []
    if requested != "auto":
        name = requested
    elif old is not None and (old.manifest.backend != "foreground" or engine_running(state)):
        name = old.manifest.backend  # `auto` leaves an installed namespace where it is
    else:
        choice = choose_backend(scope)
        name = choice.name
        warnings += [choice.warning] if choice.warning else []
    scheduler = make_scheduler(name, scope)
    new = placed(name, manifest, scope, old.manifest if old else None)
    path = manifests.versioned_path(state, new)
    rendered = render(name, new, str(path))
    changes = diff(old.manifest if old else None, new)
    previous = None
    if old is not None and (old.manifest.backend, old.manifest.scope) != (name, scope):
        previous = make_scheduler(old.manifest.backend, old.manifest.scope)
        changes.moved_from = old.manifest.backend
    if old is not None:
        warnings += hand_edits(previous or scheduler, old)
    warnings += clock_change_notes(new)
    changes.warnings = warnings
    installed = scheduler.installed(manifest.namespace)  # also proves the scheduler can be reached
    changes.rewritten = old is None or old.path != path or installed != rendered
    return _Stage(new, scheduler, path, rendered, changes, old, previous)


def _in_place(manifest: Manifest, requested: str, scope: str, state: Path) -> _Stage | None:
    """A stage with nothing to do when the manifest is exactly the installed one and the entries
    are what its install put in place, decided from the manifest's first line, its name (a hash
    of its content), its bytes and the digests of the entries: nothing is parsed or rendered.
    None when anything may differ (the full install then works out what)."""
    paths = manifests.candidates(state, manifest.namespace)
    head = manifest_json.read_head(paths[0]) if len(paths) == 1 else None
    if head is None or head.get("tasks_file") != manifest.tasks_file or head.get("scope") != scope:
        return None
    backend = head.get("backend")
    if not isinstance(backend, str) or requested not in ("auto", backend) or backend == "kubernetes":
        return None  # a cluster is applied every time: that also undoes edits made there
    if backend == "foreground" and requested == "auto" and not engine_running(state):
        return None
    new = placed(backend, manifest, scope)
    text, masked = new.texts()
    path = manifests.versioned_path(state, new, masked)
    expected = manifests.read_entries(path)
    if path != paths[0] or expected is None or path.read_text(encoding="utf-8") != text:
        return None
    scheduler = make_scheduler(backend, scope)
    if manifests.digests(scheduler.installed(manifest.namespace) or {}) != expected:
        return None
    changes = NamespaceChanges(manifest.namespace, backend, manifest.tasks_file, unchanged=list(new.tasks))
    changes.warnings = clock_change_notes(new)
    changes.describe(new)
    return _Stage(new, scheduler, path, {}, changes, None, None, in_place=True)


def clock_change_notes(manifest: Manifest, now: float | None = None) -> list[str]:
    """One line per task whose runs the next clock change of its zone moves, drops or repeats.
    Each zone's clock changes are found once, for all its tasks."""
    notes = []
    moment = time.time() if now is None else now
    upcoming: dict[str, list[tuple[float, int, int]]] = {}
    for task_id, task in manifest.tasks.items():
        if task.reboot:
            continue
        name = task.zone or manifest.machine_zone
        zone = zone_of(name)
        if name not in upcoming:
            upcoming[name] = transitions(zone, moment, moment + 366 * 86400)
        for fields in task.all_fields:
            note = next_change_note(fields, zone, moment, upcoming[name])
            if note:
                notes.append(f"task '{task_id}': {note} ({name})")
    return notes


def hand_edits(scheduler: Scheduler, old: Installed, removing: bool = False) -> list[str]:
    """What a person changed in our entries since they were installed: they get replaced by an
    install, removed by an uninstall."""
    summary = hand_edit_summary_of(scheduler, old)
    if summary is None:
        return []
    fate = "they are removed" if removing else f"they are replaced by what {old.manifest.tasks_file} defines"
    return [f"the {scheduler.name} entries of namespace '{old.namespace}' were changed by hand ({summary}); {fate}"]


def _check_identity(manifest: Manifest, old: Manifest | None) -> None:
    if old is not None and old.tasks_file != manifest.tasks_file:
        raise UsageError(
            f"namespace '{manifest.namespace}' is installed from {old.tasks_file}, not from {manifest.tasks_file}",
            hint=(
                f"Uninstall it first (`orchestration uninstall --name {manifest.namespace}`), or give"
                " this file its own namespace with Orchestrator(name='...')."
            ),
        )


# --- uninstall -------------------------------------------------------------------------------------


def uninstall(
    *,
    tasks_file: str | os.PathLike[str] | None = None,
    namespace: str | None = None,
    everything: bool = False,
    scope: str = "user",
    dry_run: bool = False,
    keep_pauses: bool = False,
) -> list[NamespaceChanges]:
    """Remove our entries and manifests (run records stay) for a file, a namespace, or all;
    their pauses too, unless `keep_pauses` (a foreground scheduler that stops keeps them)."""
    state = scope_state(scope)
    prepare_state(state)
    with locked(lock_path(state, INSTALL_LOCK)):
        targets = _uninstall_targets(state, tasks_file, namespace, everything)
        removed = []
        for installed in targets:
            leaving = _Removal.of(installed)
            if not dry_run:
                leaving.apply()
                leaving.forget(state, keep_pauses)
            removed.append(leaving.changes)
        if not dry_run:
            manifests.forget_tasks_files(state)
        return removed


def _uninstall_targets(
    state: Path, tasks_file: str | os.PathLike[str] | None, namespace: str | None, everything: bool
) -> list[Installed]:
    chosen = sum(1 for given in (tasks_file, namespace, everything) if given)
    if chosen != 1:
        raise UsageError("give exactly one of TASKS_FILE, --name NAMESPACE or --all")
    installed = manifests.installed_manifests(state)
    if everything:
        return installed
    if namespace:
        found = [m for m in installed if m.namespace == namespace]
        if not found:
            raise UsageError(f"namespace '{namespace}' is not installed; `orchestration list` shows what is")
        return found
    assert tasks_file is not None
    given = os.path.abspath(os.path.expanduser(os.fspath(tasks_file)))
    paths = {given, os.path.realpath(given)}
    found = [m for m in installed if m.manifest.tasks_file in paths]
    if not found:
        raise UsageError(f"nothing is installed from {given}; `orchestration list` shows what is")
    return found
