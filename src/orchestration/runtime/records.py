"""A run as the journal keeps it: one `RunRecord` per attempt of a task, with a `StepRecord` per
script run. Times are timestamps (seconds since the epoch)."""

from __future__ import annotations

import os
import time
from datetime import datetime

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

STATUSES = ("running", "ok", "failed", "skipped", "error", "timeout", "overlap", "killed")
FAILURE_STATUSES = ("failed", "error", "timeout", "killed")
RUN_FIELDS = (
    "run_id",
    "namespace",
    "task",
    "trigger",
    "scheduled_time",
    "started_at",
    "finished_at",
    "status",
    "exit_code",
    "reason",
    "log_path",
    "parameters",
    "warnings",
    "pid",
    "attempt",
    "seq",
    "log_offset",
    "log_length",
    "deliveries",
)
STEP_FIELDS = ("position", "script", "started_at", "finished_at", "status", "exit_code")


class StepRecord:
    """One script run inside a run."""

    __slots__ = STEP_FIELDS

    def __init__(
        self,
        position: int,
        script: str,
        started_at: float,
        finished_at: float | None = None,
        status: str = "running",
        exit_code: int | None = None,
    ) -> None:
        self.position, self.script, self.started_at = position, script, started_at
        self.finished_at, self.status, self.exit_code = finished_at, status, exit_code

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in STEP_FIELDS}


class RunRecord:
    """One run (one attempt) of one task."""

    __slots__ = (*RUN_FIELDS, "steps")

    def __init__(
        self,
        run_id: str,
        namespace: str,
        task: str,
        trigger: str,
        started_at: float,
        status: str = "running",
        scheduled_time: float | None = None,
        finished_at: float | None = None,
        exit_code: int | None = None,
        reason: str | None = None,
        log_path: str | None = None,
        parameters: list[dict[str, Any]] | None = None,
        warnings: list[str] | None = None,
        pid: int | None = None,
        attempt: int = 1,
        seq: int | None = None,
        log_offset: int | None = None,
        log_length: int | None = None,
        steps: list[StepRecord] | None = None,
        deliveries: list[dict[str, Any]] | None = None,
    ) -> None:
        self.run_id, self.namespace, self.task, self.trigger = run_id, namespace, task, trigger
        self.started_at, self.status, self.scheduled_time = started_at, status, scheduled_time
        self.finished_at, self.exit_code, self.reason = finished_at, exit_code, reason
        self.log_path, self.pid, self.attempt = log_path, pid, attempt
        self.seq = seq  # the task's run number, in the order runs were recorded (for retention)
        # Where its log is within `log_path` (a task's log holds the logs of its finished runs,
        # one after another); None: `log_path` is the run's own file (while it runs).
        self.log_offset, self.log_length = log_offset, log_length
        self.parameters: list[dict[str, Any]] = parameters if parameters is not None else []
        self.warnings: list[str] = warnings if warnings is not None else []
        self.steps: list[StepRecord] = steps if steps is not None else []
        # What each notification, ping and metrics file of the run did (runtime.notify).
        self.deliveries: list[dict[str, Any]] = deliveries if deliveries is not None else []

    @property
    def reference(self) -> str:
        return f"{self.namespace}/{self.task}"

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """Everything, as stored (times are timestamps)."""
        data = {name: getattr(self, name) for name in RUN_FIELDS}
        data["steps"] = [step.to_dict() for step in self.steps]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        steps = [StepRecord(**step) for step in data.get("steps", [])]
        return cls(**{key: value for key, value in data.items() if key in RUN_FIELDS}, steps=steps)

    def to_json(self) -> dict[str, Any]:
        """For people and scripts: times as ISO 8601 with offset, plus the duration."""
        data = self.to_dict()
        for record in [data, *data["steps"]]:
            for key in ("scheduled_time", "started_at", "finished_at"):
                if record.get(key) is not None:
                    record[key] = iso_time(record[key])
        data["duration"] = self.duration
        return data


def new_record(
    namespace: str, task: str, trigger: str, started: float, scheduled: float, attempt: int = 1
) -> RunRecord:
    """A running record with a fresh run id: its start time, then random hex."""
    return RunRecord(
        run_id=time.strftime("%Y%m%dT%H%M%S", time.gmtime(started)) + "-" + os.urandom(3).hex(),
        namespace=namespace,
        task=task,
        trigger=trigger,
        started_at=started,
        scheduled_time=scheduled,
        pid=os.getpid(),
        attempt=attempt,
    )


def local_datetime(timestamp: float | None) -> datetime | None:
    """A timestamp as an aware local time (None stays None)."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp).astimezone()


def iso_time(timestamp: float) -> str:
    """ISO 8601 with the local offset, to the millisecond."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")


def scheduled_datetime(timestamp: float, zone: str | None) -> datetime:
    """A scheduled time in the task's zone (zoneinfo is loaded only for one), else local."""
    if zone is None:
        return datetime.fromtimestamp(timestamp).astimezone()
    from ..rules.instants import zone_of

    return datetime.fromtimestamp(timestamp, zone_of(zone))


def iso_minute(timestamp: float) -> str:
    """ISO 8601 with the local offset, to the second (what scripts see as their scheduled time)."""
    local = time.localtime(timestamp)
    offset = local.tm_gmtoff
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{sign}{hours:02d}:{minutes:02d}"
