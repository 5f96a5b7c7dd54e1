"""Catching up on the firing a task missed while the machine or its scheduler was down.

A task with `catch_up=True` has, on the crontab target, an @reboot entry that calls the shim with
`--catch-up` at boot; on systemd, `Persistent=true` makes systemd start the service as soon as the
timer is back (at boot, or when the manager starts again) when it missed an elapse. Either way the
task runs once, as its newest firing before now, unless a run for that firing (or a later one) is
recorded already or the firing came before the namespace was installed as it is (as anacron runs a
missed job once, not once per missed day).
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not on the shim's path
if TYPE_CHECKING:
    from ..compile.manifest import Schedules

MISSED = "missed"  # the newest firing has no run: catch it up
RAN = "ran"  # it has a run (or a later firing has): nothing to catch up
NOT_DUE = "not due"  # it came before the install, or there is none


def missed_firing(
    when: Schedules, machine_zone: str, now: float, installed_at: float, latest_recorded: float | None
) -> tuple[str, float | None]:
    """(verdict, firing) for the newest firing before `now`: MISSED, RAN or NOT_DUE."""
    from ..rules.instants import union_previous_instant, zone_of  # zoneinfo: catch-ups only

    due = union_previous_instant(when.all_fields, zone_of(when.zone or machine_zone), now)
    if due is None or due < installed_at:
        return NOT_DUE, due
    if latest_recorded is not None and latest_recorded >= due:
        return RAN, due
    return MISSED, due
