"""The gate: whether a wake-up is one of the instants the schedule's rule fires at.

Where a scheduler cannot fire exactly the instants of the rule (a crontab has no time zone of its
own and the cron daemon does not read L, W or #), its entry fires at a superset and calls the
shim with `--gate`: a wake-up that is not an instant exits at once and records nothing.
"""

from __future__ import annotations

import time

from ..compile.manifest import Timing


def admits(timing: Timing, moment: float, machine_zone: str) -> bool:
    """Whether the minute of `moment` is an instant of the task's rule (@reboot: always), in
    its zone or else `machine_zone` (the one its entries were written for)."""
    if timing.fields is None:
        return True
    from ..rules.instants import is_instant, zone_of  # zoneinfo: gated and catching-up runs only

    return is_instant(timing.fields, zone_of(timing.zone or machine_zone), moment)


def firings_after(timing: Timing, covered: float, now: float, machine_zone: str) -> list[float]:
    """The instants after the minute `covered`, up to `now` (a run that outlived them on
    systemd, which drops an elapse while the service still runs)."""
    first = covered - covered % 60 + 60
    if timing.fields is None or now < first:
        return []  # nothing can have been missed within the run's own minute
    from ..rules.instants import instants, zone_of

    return instants(timing.fields, zone_of(timing.zone or machine_zone), first, now + 1)


GATED_TRIGGERS = ("cron", "systemd", "kubernetes")  # a scheduler's wake-up, not a run by hand


def wakes_for_nothing(manifest_path: str, task_id: str, scheduled: float | None = None) -> bool:
    """Whether a gated wake-up (now, or at the `scheduled` time its scheduler gave) is not an
    instant of the task, decided before anything else of the run is loaded. Where the manifest
    cannot tell (missing, damaged, no such task), the run goes on and records why."""
    from ..compile.manifest import read
    from ..errors import ManifestError

    try:
        manifest = read(manifest_path)
        task = manifest.task(task_id)
    except (OSError, KeyError, ManifestError):
        return False
    moment = time.time() if scheduled is None else scheduled
    return not admits(task.timing, moment - moment % 60, manifest.machine_zone)
