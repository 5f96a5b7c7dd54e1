"""Manifest files in STATE/manifests/, mode 0600, and which one of a namespace is installed.

A manifest file is named by its content (`NAMESPACE.<hash>.json`) and does not change: crontab
entries and units name the exact file they run with. An install writes the new file, switches
the entries to it, then deletes the old one, so a crash at any point leaves the entries with the
manifest they name. Two files for one namespace mean an install was interrupted; the one the
entries name is then current.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..compile import manifest as manifest_json
from ..compile.manifest import Manifest
from ..errors import ApplyError, NotInstalledError, OrchestrationError, UsageError
from ..frozen import Frozen
from ..state import manifests_dir, remove_file, tasks_copy_path, write_private

if TYPE_CHECKING:
    from ..targets import Rendered


class Installed(Frozen):
    """A manifest and the file it was read from."""

    path: Path
    manifest: Manifest

    @property
    def namespace(self) -> str:
        return self.manifest.namespace


def versioned_path(state: Path, manifest: Manifest, masked: str | None = None) -> Path:
    """Where this manifest lives: named by the namespace and a hash of its content. Secret values
    are left out of the hash, since the name is seen in `ps` and unit files; a change of a secret
    alone rewrites the file in place. `masked`: its `to_json(masked=True)`, when already made."""
    text = manifest.to_json(masked=True) if masked is None else masked
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return manifests_dir(state) / f"{manifest.namespace}.{digest}.json"


def write(path: Path, manifest: Manifest) -> None:
    write_private(path, manifest.to_json())


def remove(path: Path) -> None:
    remove_file(path)
    remove_file(entries_path(path))


# --- what was put in place: a digest of each rendered file, beside the manifest ---------------------


def entries_path(path: Path) -> Path:
    """Beside the manifest file: the digests of the files its install put in place."""
    return path.with_suffix(".entries")


def digests(rendered: Rendered) -> dict[str, str]:
    """file name -> sha256 of its text."""
    return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in rendered.items()}


def write_entries(path: Path, rendered: Rendered) -> None:
    write_private(entries_path(path), json.dumps(digests(rendered), sort_keys=True) + "\n")


def read_entries(path: Path) -> dict[str, str] | None:
    """The digests of what the install of the manifest `path` put in place (None if unknown)."""
    try:
        found = json.loads(entries_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def keep_tasks_file(state: Path, manifest: Manifest) -> None:
    """Keep a private copy of the tasks file as installed, which runs of tasks with functions
    import: an edit in progress, saved half-way, changes no run until it is installed."""
    if not any(task.needs_tasks_file for task in manifest.tasks.values()):
        return
    copy = Path(tasks_copy_path(state, manifest.tasks_file_sha256))
    if copy.exists():
        return
    try:
        source = Path(manifest.tasks_file).read_bytes()
    except OSError as error:
        raise ApplyError(f"the tasks file {manifest.tasks_file} cannot be read again ({error.strerror})") from None
    if hashlib.sha256(source).hexdigest() != manifest.tasks_file_sha256:
        raise ApplyError(
            f"the tasks file {manifest.tasks_file} changed while it was being installed; nothing"
            " was changed: run the install again"
        )
    write_private(copy, source)


def forget_tasks_files(state: Path) -> None:
    """Remove the copies of tasks files that no installed manifest names any more."""
    directory = manifests_dir(state)
    if not directory.is_dir():
        return
    named = set()
    for path in directory.glob("*.*.json"):
        head = manifest_json.read_head(path)  # the first line says it, without the tasks
        if head is not None and isinstance(head.get("tasks_file_sha256"), str):
            named.add(head["tasks_file_sha256"])
            continue
        try:
            named.add(manifest_json.read(path).tasks_file_sha256)
        except (OrchestrationError, OSError):  # a damaged manifest: keep every copy, a later install decides
            return
    for copy in directory.glob("tasks-*.py"):
        if copy.name[len("tasks-") : -len(".py")] not in named:
            remove_file(copy)


def candidates(state: Path, namespace: str) -> list[Path]:
    """The manifest files of a namespace (one, or two after an interrupted install)."""
    directory = manifests_dir(state)
    return sorted(directory.glob(f"{namespace}.*.json")) if directory.is_dir() else []


def namespaces(state: Path) -> list[str]:
    """Every namespace that has a manifest."""
    directory = manifests_dir(state)
    if not directory.is_dir():
        return []
    return sorted({path.name.split(".", 1)[0] for path in directory.glob("*.*.json")})


def read(path: Path) -> Installed:
    return Installed(path, manifest_json.read(path))


def current(state: Path, namespace: str) -> Installed | None:
    """The manifest the namespace's entries run with. After an interrupted install there are two
    files; the one the entries name is current (else the newer one)."""
    paths = candidates(state, namespace)
    if len(paths) <= 1:
        return read(paths[0]) if paths else None
    from .schedulers import make_scheduler  # only after an interrupted install

    found = [read(path) for path in paths]
    for candidate in found:
        installed = make_scheduler(candidate.manifest.backend, candidate.manifest.scope).installed(namespace)
        if str(candidate.path) in _text(installed):
            return candidate
    return max(found, key=lambda candidate: candidate.path.stat().st_mtime)


def _text(rendered: Rendered | None) -> str:
    return "".join(rendered.values()) if rendered else ""


def installed_manifests(state: Path) -> list[Installed]:
    """Every installed namespace's current manifest, by name."""
    return [found for found in (current(state, ns) for ns in namespaces(state)) if found]


def split_reference(reference: str) -> tuple[str, str]:
    """'NAMESPACE/TASK' to its parts, or UsageError."""
    namespace, slash, task = reference.partition("/")
    if not slash or not namespace or not task:
        raise UsageError(f"'{reference}' is not NAMESPACE/TASK; `orchestration list` shows them")
    return namespace, task


def find_task(state: Path, reference: str) -> tuple[Installed, str]:
    """The manifest and task id of 'NAMESPACE/TASK' (the manifest holding that task alone, when
    it can be read without the others)."""
    namespace, task = split_reference(reference)
    paths = candidates(state, namespace)
    if len(paths) == 1:
        alone = Installed(paths[0], manifest_json.read(paths[0], task))
        if task in alone.manifest.tasks:
            return alone, task
    installed = current(state, namespace)
    if installed is None:
        raise NotInstalledError(f"namespace '{namespace}' is not installed; `orchestration list` shows what is")
    if task not in installed.manifest.tasks:
        known = ", ".join(sorted(installed.manifest.tasks))
        raise NotInstalledError(f"namespace '{namespace}' has no task '{task}'; its tasks: {known}")
    return installed, task
