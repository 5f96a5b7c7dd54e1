"""Reading and writing manifests: one JSON file per namespace, mode 0600, in STATE/manifests.

Standard library only: the shim reads a manifest on every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .errors import NotInstalledError, UsageError
from .state import manifests_dir, write_private

Manifest = dict[str, Any]


def manifest_path(state: Path, namespace: str) -> Path:
    return manifests_dir(state) / f"{namespace}.json"


def dumps(manifest: Manifest) -> str:
    """Stable text: same input, same bytes (insertion order is the parameters' order)."""
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def read(path: Path) -> Manifest:
    """The manifest at `path`; NotInstalledError if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotInstalledError(
            f"no manifest at {path}; the namespace is not installed (see `orchestration list`)"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"manifest {path} is damaged ({error}); reinstall with `orchestration install TASKS_FILE`"
        ) from None


def read_namespace(state: Path, namespace: str) -> Manifest | None:
    path = manifest_path(state, namespace)
    return read(path) if path.exists() else None


def write(state: Path, manifest: Manifest) -> Path:
    path = manifest_path(state, manifest["namespace"])
    write_private(path, dumps(manifest))
    return path


def installed(state: Path) -> Iterator[Manifest]:
    """Every installed namespace's manifest, by name."""
    directory = manifests_dir(state)
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.json")):
        yield read(path)


def find_task(state: Path, reference: str) -> tuple[Manifest, str]:
    """The manifest and task id of 'NAMESPACE/TASK'."""
    namespace, slash, task = reference.partition("/")
    if not slash or not namespace or not task:
        raise UsageError(f"'{reference}' is not NAMESPACE/TASK; `orchestration list` shows them")
    manifest = read_namespace(state, namespace)
    if manifest is None:
        raise NotInstalledError(
            f"namespace '{namespace}' is not installed; `orchestration list` shows what is"
        )
    if task not in manifest["tasks"]:
        known = ", ".join(sorted(manifest["tasks"]))
        raise NotInstalledError(f"namespace '{namespace}' has no task '{task}'; its tasks: {known}")
    return manifest, task
