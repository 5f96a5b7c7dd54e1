"""The one place that runs kubectl: argv lists, output captured, failures as ApplyError, and a
clear refusal when there is no kubectl or no cluster to talk to."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from ..errors import ApplyError, SchedulerUnavailableError

KUBECTL = "kubectl"


class Kubectl:
    """kubectl for the cluster and Kubernetes namespace of its current context."""

    def __init__(self) -> None:
        self.checked = False

    def run(self, *arguments: str, stdin: str | None = None) -> str:
        """Run kubectl; its stdout, or ApplyError with what it said."""
        self.check()
        argv = [KUBECTL, *arguments]
        try:
            result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ApplyError(f"`{' '.join(argv)}` could not run: {error}") from None
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip()
            raise ApplyError(f"`{' '.join(argv)}` failed: {said}")
        return result.stdout

    def objects(self, *arguments: str) -> list[dict[str, Any]]:
        """The objects `kubectl get ARGUMENTS -o json` lists."""
        text = self.run("get", *arguments, "-o", "json")
        try:
            listing = json.loads(text) if text.strip() else {}
        except ValueError as error:
            raise ApplyError(f"kubectl get {' '.join(arguments)} did not answer JSON ({error})") from None
        items = listing.get("items", [listing] if listing.get("kind") else []) if isinstance(listing, dict) else []
        return [item for item in items if isinstance(item, dict)]

    def check(self) -> None:
        """SchedulerUnavailableError when there is no kubectl, or no current context to use."""
        if self.checked:
            return
        if shutil.which(KUBECTL) is None:
            raise SchedulerUnavailableError(
                "there is no kubectl command on this machine, so nothing can be put on a cluster",
                hint=(
                    "Install kubectl and set up a context for your cluster, or write the objects with"
                    " `orchestration compile TASKS_FILE --target kubernetes --image IMAGE --output DIR`"
                    " and apply them your own way."
                ),
            )
        try:
            result = subprocess.run([KUBECTL, "config", "current-context"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SchedulerUnavailableError(f"kubectl could not run: {error}") from None
        if result.returncode != 0 or not result.stdout.strip():
            raise SchedulerUnavailableError(
                "kubectl has no current context, so it knows no cluster to install into"
                f" ({(result.stderr or result.stdout).strip() or 'no context'})",
                hint=(
                    "Choose one with `kubectl config use-context NAME` (`kubectl config get-contexts`"
                    " lists them); the objects go into that context's Kubernetes namespace."
                ),
            )
        self.checked = True
