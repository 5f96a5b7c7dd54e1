"""What a run knows about itself, handed to skip conditions and dynamic parameters.

Standard library only, and no dataclasses: the shim builds one for every run that has a condition
or a dynamic parameter, and start-up cost is paid on every firing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs start-up time on every firing
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Callable, Mapping

    # (previous run's status, its start, the newest successful run's start)
    History = tuple["str | None", "datetime | None", "datetime | None"]


class RunContext:
    """The run being decided: when it was scheduled, who it is, and how the earlier runs went.

    `previous_status` and `previous_time` are the status ('ok', 'failed', 'error', 'skipped',
    'running', ...) and start of the task's newest earlier run; `last_success_time` is the start
    of its newest successful run. The shim reads them from the journal when one of them is first
    used, so a run pays for the query only if a condition needs it.
    """

    __slots__ = ("namespace", "task", "run_id", "scheduled_time", "now", "trigger", "environ",
                 "_history", "_read_history")

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
            "namespace": namespace, "task": task, "run_id": run_id, "scheduled_time": scheduled_time,
            "now": now, "trigger": trigger, "environ": dict(environ or {}),
            "_history": (previous_status, previous_time, last_success_time), "_read_history": history,
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


def run_environment(manifest: Mapping, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a run's scripts and conditions start from: `environ` with the PATH of the
    install (cron's own PATH is /usr/bin:/bin) and a HOME, without stale parameter variables."""
    environment = {key: value for key, value in environ.items() if not key.startswith("ORCHESTRATION_PARAM_")}
    environment["PATH"] = manifest["environment"]["PATH"]
    environment.setdefault("HOME", manifest["environment"]["HOME"])
    return environment


def history_of(status: str | None, started: float | None, succeeded: float | None) -> History:
    """What the journal says about earlier runs (timestamps) as a RunContext's history."""
    from datetime import datetime  # noqa: PLC0415

    def local(stamp: float | None) -> datetime | None:
        return None if stamp is None else datetime.fromtimestamp(stamp).astimezone()

    return status, local(started), local(succeeded)
