"""The firing times of a schedule, for `next`, `list`, `status` and `why`."""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..compile.manifest import TaskManifest


class Timing(Protocol):
    """A schedule as previews read it: the emitted crontab time fields, or @reboot."""

    @property
    def cron(self) -> str: ...

    @property
    def reboot(self) -> bool: ...


def next_times(timing: Timing, after: datetime, count: int) -> list[datetime]:
    """The next `count` firing times strictly after `after` (aware), as croniter computes them."""
    if timing.reboot or count <= 0:
        return []
    from croniter import croniter  # heavy: only previews need it

    iterator = croniter(timing.cron, after, implement_cron_bug=True)
    return [iterator.get_next(datetime) for _ in range(count)]


def previous_time(timing: Timing, before: datetime) -> datetime | None:
    """The last firing time strictly before `before` (aware), as croniter computes it."""
    if timing.reboot:
        return None
    from croniter import croniter

    found: datetime = croniter(timing.cron, before, implement_cron_bug=True).get_prev(datetime)
    return found


def next_firing(task: TaskManifest, now: datetime) -> datetime | None:
    """The task's next firing time after `now`; None for @reboot."""
    times = next_times(task.timing, now, 1)
    return times[0] if times else None


def local_timezone() -> tzinfo:
    """The machine's time zone, as the cron daemon uses it (TZ, else /etc/localtime)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except OSError:
        return datetime.now().astimezone().tzinfo  # type: ignore[return-value]
