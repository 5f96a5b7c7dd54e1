"""Catching up on the firing a task missed while the machine or its scheduler was down.

A task with `catch_up=True` has, on the crontab target, an @reboot entry that calls the shim with
`--catch-up`; on systemd, `Persistent=true` makes systemd start the service as soon as the timer
is back when it missed an elapse. Either way the task runs once, as its newest firing before now,
unless a run for that firing is recorded already or the firing came before the task was installed
(as anacron runs a missed job once, not once per missed day).
"""

from __future__ import annotations

from datetime import datetime

from .schedule import parse_schedule, previous_time


def missed_firing(cron: str, now: float, installed_at: float, latest_recorded: float | None) -> float | None:
    """The newest firing before `now` when no run of it (or a later one) is recorded and the task
    was installed by then; else None."""
    due = previous_time(parse_schedule(cron), datetime.fromtimestamp(now).astimezone())
    if due is None:
        return None
    moment = due.timestamp()
    if moment < installed_at or (latest_recorded is not None and latest_recorded >= moment):
        return None
    return moment


def fires_at(cron: str, moment: float) -> bool:
    """Whether the schedule has a firing in the minute of `moment` (local time)."""
    return parse_schedule(cron).matches(datetime.fromtimestamp(moment))
