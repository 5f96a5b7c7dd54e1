"""`orchestration metrics`: every installed task's figures in Prometheus's text format (the
metrics are described in `runtime.metrics`), with the next firing as `next` and `status` show it
(a systemd timer's next elapse as systemd reports it) and `up` as `status` judges it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..compile.manifest import Manifest, TaskManifest
from ..installer.manifests import installed_manifests
from ..runtime.metrics import TaskMetrics, collect
from .status import NextFiring, namespace_problems_of, task_problems_of


def task_metrics(state: Path, now: datetime) -> list[TaskMetrics]:
    """The figures of every installed task of `state`."""
    next_firing = NextFiring()

    def next_run(manifest: Manifest, task_id: str) -> float | None:
        moment = next_firing(manifest, task_id, now)
        return None if moment is None else moment.timestamp()

    def up(manifest: Manifest, task: TaskManifest) -> bool:
        return not (namespace_problems_of(manifest) or task_problems_of(manifest, task))

    return collect(state, [found.manifest for found in installed_manifests(state)], next_run, up)
