"""What a run knows about itself, handed to skip conditions and dynamic parameters.

Standard library only: the shim builds one for every run that has a condition or a dynamic
parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

# (previous run's status, its start, the newest successful run's start)
History = tuple["str | None", "datetime | None", "datetime | None"]


class RunContext:
    """The run being decided: when it was scheduled, who it is, and how the earlier runs went.

    `previous_status` and `previous_time` are the status ('ok', 'failed', 'error', 'skipped',
    'running', ...) and start of the task's newest earlier run; `last_success_time` is the start
    of its newest successful run. The shim reads them from the journal when one of them is first
    used, so a run pays for the query only if a condition needs it.
    """

    __slots__ = (
        "_history",
        "_read_history",
        "environ",
        "namespace",
        "now",
        "run_id",
        "scheduled_time",
        "task",
        "trigger",
    )

    namespace: str
    task: str
    run_id: str
    scheduled_time: datetime
    now: datetime
    trigger: str
    environ: Mapping[str, str]
    _history: History
    _read_history: Callable[[], History] | None

    def __init__(
        self,
        namespace: str,
        task: str,
        run_id: str,
        scheduled_time: datetime,
        now: datetime,
        trigger: str = "cron",
        previous_status: str | None = None,
        previous_time: datetime | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        last_success_time: datetime | None = None,
        history: Callable[[], History] | None = None,
    ) -> None:
        fields = {
            "namespace": namespace,
            "task": task,
            "run_id": run_id,
            "scheduled_time": scheduled_time,
            "now": now,
            "trigger": trigger,
            "environ": dict(environ or {}),
            "_history": (previous_status, previous_time, last_success_time),
            "_read_history": history,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"RunContext is read-only; cannot set {name!r}")

    @property
    def previous_status(self) -> str | None:
        """Status of the newest earlier run ('ok', 'failed', 'skipped', ...), or None."""
        return self._earlier_runs()[0]

    @property
    def previous_time(self) -> datetime | None:
        """When that run started, or None."""
        return self._earlier_runs()[1]

    @property
    def last_success_time(self) -> datetime | None:
        """When the newest earlier successful run started, or None."""
        return self._earlier_runs()[2]

    def _earlier_runs(self) -> History:
        if self._read_history is not None:
            object.__setattr__(self, "_history", self._read_history())
            object.__setattr__(self, "_read_history", None)
        return self._history

    def __repr__(self) -> str:
        return (
            f"RunContext(namespace={self.namespace!r}, task={self.task!r}, run_id={self.run_id!r},"
            f" scheduled_time={self.scheduled_time!r}, trigger={self.trigger!r})"
        )
