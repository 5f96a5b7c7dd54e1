"""The firing times of a schedule, for `next`, `list`, `status` and `why`: the instants of the
cron daemon's rule (`rules.instants`), in the task's zone or the machine's, with their offsets."""

from __future__ import annotations

from datetime import datetime, tzinfo

from ..compile.manifest import TaskManifest
from ..rules.instants import union_next_instants, union_previous_instant, zone_of

TYPE_CHECKING = False  # Schedules exists for type checkers only: the manifest keeps `typing` off the shim's path
if TYPE_CHECKING:
    from ..compile.manifest import Schedules


def zone(when: Schedules) -> tzinfo:
    """The zone the schedule is read in: its own, else the machine's (the daemon's)."""
    return zone_of(when.zone)


def next_times(when: Schedules, after: datetime, count: int) -> list[datetime]:
    """The next `count` firing times strictly after the instant `after` (of any of its schedules)."""
    if when.reboot or count <= 0:
        return []
    where = zone(when)
    return [
        datetime.fromtimestamp(moment, where)
        for moment in union_next_instants(when.all_fields, where, after.timestamp(), count)
    ]


def previous_time(when: Schedules, before: datetime) -> datetime | None:
    """The last firing time strictly before the instant `before`."""
    if when.reboot:
        return None
    where = zone(when)
    moment = union_previous_instant(when.all_fields, where, before.timestamp())
    return None if moment is None else datetime.fromtimestamp(moment, where)


def next_firing(task: TaskManifest, now: datetime) -> datetime | None:
    """The task's next firing time after `now`; None for @reboot."""
    times = next_times(task, now, 1)
    return times[0] if times else None


def local_timezone() -> tzinfo:
    """The machine's time zone, as the cron daemon uses it (TZ, else /etc/localtime)."""
    return zone_of(None)
