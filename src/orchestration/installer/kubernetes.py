"""Putting a namespace's objects on a cluster: `kubectl apply --server-side`, then the objects
of the namespace that left the rendered files deleted by their labels. What the objects say is
rendered by `targets.kubernetes`; only objects that carry our labels are ever changed or deleted.

What was applied is kept in the state folder (`kubernetes/NAMESPACE/`), and each object carries
the digest of its document: `installed` gives back the documents whose digest the cluster still
holds, so an install can tell "unchanged", and what was deleted or replaced on the cluster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import FenceError
from ..state import remove_file, write_private
from ..targets import Rendered
from ..targets.kubernetes import DIGEST, MANAGED_BY, NAME, NAMESPACE_LABEL, digest_of, label_value, selector
from .crashpoints import checkpoint
from .kubectl import Kubectl

KINDS = "configmaps,secrets,cronjobs.batch"
FIELD_MANAGER = "orchestration"
REFERENCES = {"configmap": "configmap", "secret": "secret", "cronjob": "cronjob.batch"}


class KubernetesScheduler:
    """Apply and delete a namespace's objects in the current kubectl context."""

    name = NAME

    def __init__(self, state: Path, kubectl: Kubectl | None = None) -> None:
        self.folder = state / "kubernetes"
        self.kubectl = kubectl or Kubectl()

    def installed(self, namespace: str) -> Rendered | None:
        """The documents on the cluster, as rendered when they are what we applied."""
        found: Rendered = {}
        applied = self._applied(namespace)
        for item in self.kubectl.objects(KINDS, "-l", selector(namespace)):
            name = _file_name(item)
            digest = item.get("metadata", {}).get("annotations", {}).get(DIGEST)
            text = applied.get(name)
            if text is not None and digest_of(text) == digest:
                found[name] = text
            else:
                found[name] = f"# {name} on the cluster is not what orchestration applied (digest {digest})\n"
        return found or None

    def apply(self, namespace: str, rendered: Rendered | None) -> bool:
        """Apply `rendered` (None deletes every object of the namespace); whether anything
        changed. Applying is idempotent, so it always runs: it also undoes edits on the cluster."""
        current = self.installed(namespace) or {}
        if rendered is None:
            if current:
                self.kubectl.run("delete", KINDS, "-l", selector(namespace), "--ignore-not-found")
            self._forget(namespace)
            return bool(current)
        self._check_free([name for name in rendered if name not in current], namespace)
        stream = "".join(text if text.endswith("\n") else text + "\n" for text in rendered.values())
        self.kubectl.run(
            "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-", stdin=stream
        )
        checkpoint("entries-written")
        gone = [_reference(name) for name in current if name not in rendered]
        if gone:
            self.kubectl.run("delete", *gone, "--ignore-not-found")
        self._remember(namespace, rendered)
        return rendered != current

    def _check_free(self, names: list[str], namespace: str) -> None:
        """Refuse to take over objects of the same names that are not this namespace's."""
        if not names:
            return
        for item in self.kubectl.objects(*[_reference(name) for name in names], "--ignore-not-found"):
            labels = item.get("metadata", {}).get("labels") or {}
            if labels.get(MANAGED_BY) != "orchestration" or labels.get(NAMESPACE_LABEL) != label_value(namespace):
                owner = labels.get(NAMESPACE_LABEL)
                whose = f"namespace '{owner}'" if owner else "someone else (it has no orchestration labels)"
                raise FenceError(
                    f"the {item.get('kind', 'object')} {item.get('metadata', {}).get('name')} on the cluster"
                    f" belongs to {whose}; orchestration will not take it over.",
                    hint="Nothing was changed. Rename the task or the namespace, or delete that object.",
                )

    def _applied(self, namespace: str) -> Rendered:
        folder = self.folder / namespace
        if not folder.is_dir():
            return {}
        return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.yaml"))}

    def _remember(self, namespace: str, rendered: Rendered) -> None:
        folder = self.folder / namespace
        for name in self._applied(namespace):
            if name not in rendered:
                remove_file(folder / name)
        for name, text in rendered.items():
            write_private(folder / name, text)

    def _forget(self, namespace: str) -> None:
        folder = self.folder / namespace
        for name in self._applied(namespace):
            remove_file(folder / name)
        try:
            os.rmdir(folder)
        except OSError:
            pass


def _file_name(item: dict[str, Any]) -> str:
    return f"{str(item.get('kind', '')).lower()}-{item.get('metadata', {}).get('name', '')}.yaml"


def _reference(file_name: str) -> str:
    """`cronjob-NAME.yaml` as kubectl names the object: `cronjob.batch/NAME`."""
    kind, _, rest = file_name.partition("-")
    return f"{REFERENCES.get(kind, kind)}/{rest.removesuffix('.yaml')}"
