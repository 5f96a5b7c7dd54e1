"""The environment a run's scripts and conditions see."""

from __future__ import annotations

from collections.abc import Mapping

from ..compile.manifest import Manifest, TaskManifest
from ..rules.values import parameter_variable
from .records import RunRecord, iso_minute, scheduled_datetime


def task_variables(task: TaskManifest | None) -> dict[str, str]:
    """The task's own variables (add_task's env), secrets as they are."""
    return {key: value.text or "" for key, value in task.environment.items()} if task else {}


def run_environment(
    manifest: Manifest, environ: Mapping[str, str], variables: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`environ` with the PATH of the install (cron's own PATH is /usr/bin:/bin) and a HOME,
    without stale parameter variables, then the task's own `variables` (which may set PATH)."""
    environment = {key: value for key, value in environ.items() if not key.startswith("ORCHESTRATION_PARAM_")}
    environment["PATH"] = manifest.path
    environment.setdefault("HOME", manifest.home)
    environment.update(variables or {})
    return environment


def scheduled_text(timestamp: float, zone: str | None) -> str:
    """The scheduled time as scripts see it: ISO 8601 with the offset of the task's zone."""
    return iso_minute(timestamp) if zone is None else scheduled_datetime(timestamp, zone).isoformat()


def script_environment(
    manifest: Manifest,
    environ: Mapping[str, str],
    record: RunRecord,
    values: Mapping[str, str],
    zone: str | None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What a script starts with: the run's environment and the task's variables, who and when
    the run is, and each parameter as ORCHESTRATION_PARAM_<KEY>."""
    environment = run_environment(manifest, environ, variables)
    environment.update(
        ORCHESTRATION_NAMESPACE=record.namespace,
        ORCHESTRATION_TASK=record.task,
        ORCHESTRATION_RUN_ID=record.run_id,
        ORCHESTRATION_SCHEDULED_TIME=scheduled_text(record.scheduled_time or record.started_at, zone),
    )
    environment.update({parameter_variable(key): value for key, value in values.items()})
    return environment
