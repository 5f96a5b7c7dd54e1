"""Manifests: what was installed for a namespace, as JSON in STATE/manifests/, mode 0600.

A manifest file is named by its content (`NAMESPACE.<hash>.json`, with a marshal copy beside it
for the shim, `.bin`) and does not change: crontab
entries and units name the exact file they run with. An install writes the new file, switches
the entries to it, then deletes the old one, so a crash at any point leaves the entries with the
manifest they name. Two files for one namespace mean an install was interrupted; which one is
current is then decided by the entries (see installer.current_manifest).

Standard library only: the shim reads a manifest on every run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .state import manifests_dir, remove_file, write_private, write_private_bytes

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Installed:
    """A manifest and the file it was read from."""

    path: Path
    data: Manifest

    @property
    def namespace(self) -> str:
        return self.data["namespace"]


def dumps(manifest: Manifest) -> str:
    """Stable text: same input, same bytes (insertion order is the parameters' order). One line:
    json's fast encoder only writes without indentation (`python -m json.tool` reads it)."""
    return json.dumps(manifest, ensure_ascii=False) + "\n"


def loads(text: str) -> Manifest:
    return json.loads(text)


def versioned_path(state: Path, manifest: Manifest) -> Path:
    """Where this manifest lives: named by the namespace and a hash of its content. Secret values
    are left out of the hash, since the name is seen in `ps` and unit files; a change of a secret
    alone rewrites the file in place."""
    digest = hashlib.sha256(dumps(_masked(manifest)).encode()).hexdigest()[:12]
    return manifests_dir(state) / f"{manifest['namespace']}.{digest}.json"


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("secret") is True:
            return {key: "***" if key in ("value", "template") else item for key, item in value.items()}
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def fast_copy(path: Path) -> Path:
    """The manifest's marshal copy, which the shim reads without importing json (and re)."""
    return path.with_suffix(".bin")


def write(path: Path, manifest: Manifest, text: str | None = None) -> None:
    """Write the manifest (JSON, the record people and tools read) and its fast copy first."""
    import marshal  # noqa: PLC0415

    text = text if text is not None else dumps(manifest)
    # The copy names the JSON it was made with: a JSON changed since is read as JSON.
    digest = hashlib.sha256(text.encode()).hexdigest()
    write_private_bytes(fast_copy(path), marshal.dumps({"json_sha256": digest, "manifest": manifest}))
    write_private(path, text)


def remove(path: Path) -> None:
    """Delete a manifest file and its fast copy."""
    remove_file(fast_copy(path))
    remove_file(path)


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
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(
            f"manifest {path} cannot be read ({error}); reinstall with `orchestration install TASKS_FILE`"
        ) from None
    return Installed(path, data)


def split_reference(reference: str) -> tuple[str, str]:
    """'NAMESPACE/TASK' to its parts, or UsageError."""
    namespace, slash, task = reference.partition("/")
    if not slash or not namespace or not task:
        raise UsageError(f"'{reference}' is not NAMESPACE/TASK; `orchestration list` shows them")
    return namespace, task
