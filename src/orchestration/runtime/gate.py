"""The gate: whether a wake-up is one of the instants the schedule's rule fires at.

Where a scheduler cannot fire exactly the instants of the rule (a crontab has no time zone of its
own and the cron daemon does not read L, W or #), its entry fires at a superset and calls the
shim with `--gate`: a wake-up that is not an instant exits at once and records nothing.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # `typing` is not on the shim's path
if TYPE_CHECKING:
    from ..compile.manifest import Schedules


def admits(when: Schedules, moment: float, machine_zone: str) -> bool:
    """Whether the minute of `moment` is an instant of the task's rule (@reboot: always), in
    its zone or else `machine_zone` (the one its entries were written for)."""
    if when.reboot:
        return True
    from ..rules.instants import union_is_instant, zone_of  # zoneinfo: gated and catching-up runs only

    return union_is_instant(when.all_fields, zone_of(when.zone or machine_zone), moment)


def firings_after(when: Schedules, covered: float, now: float, machine_zone: str) -> list[float]:
    """The instants after the minute `covered`, up to `now` (a run that outlived them on
    systemd, which drops an elapse while the service still runs)."""
    first = covered - covered % 60 + 60
    if when.reboot or now < first:
        return []  # nothing can have been missed within the run's own minute
    from ..rules.instants import union_instants, zone_of

    return union_instants(when.all_fields, zone_of(when.zone or machine_zone), first, now + 1)


def late_firing(when: Schedules, moment: float, machine_zone: str, late_by: int) -> float | None:
    """The instant of the rule that a start at `moment` belongs to when the scheduler starts runs
    up to `late_by` seconds after their time (systemd's randomized delay of a jittered timer): the
    newest one before the end of `moment`'s minute, if it is no older than that (and a minute)."""
    if when.reboot:
        return None
    from ..rules.instants import union_previous_instant, zone_of  # zoneinfo: jittered systemd runs only

    due = union_previous_instant(when.all_fields, zone_of(when.zone or machine_zone), moment - moment % 60 + 60)
    return due if due is not None and moment - due < late_by + 60 else None


GATED_TRIGGERS = ("cron", "systemd", "kubernetes")  # a scheduler's wake-up, not a run by hand


def wakes_for_nothing(
    manifest_path: str, task_id: str, scheduled: float | None = None, trigger: str = "cron", now: float | None = None
) -> bool:
    """Whether a gated wake-up (now, or at the `scheduled` time its scheduler gave) is not an
    instant of the task, decided before anything else of the run is loaded. systemd starts a
    jittered task's firing up to its jitter late: then any instant within that window admits it.
    Where the manifest cannot tell (missing, damaged, no such task), the run goes on and records
    why."""
    from ..compile.manifest import read
    from ..errors import ManifestError

    try:
        manifest = read(manifest_path, task_id)  # its task alone
        task = manifest.task(task_id)
    except (OSError, KeyError, ManifestError):
        return False
    moment = (time.time() if now is None else now) if scheduled is None else scheduled
    if trigger == "systemd" and scheduled is None and task.policy.jitter:
        return late_firing(task, moment, manifest.machine_zone, task.policy.jitter) is None
    return not admits(task, moment - moment % 60, manifest.machine_zone)
