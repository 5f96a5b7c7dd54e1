"""When a schedule fires: the cron daemon's rule, on a schedule's expanded fields.

The daemon wakes every minute and runs an entry when the minute, hour, day and month match. When
both day fields are restricted (neither starts with `*`), a day matches either of them
(`days_or`); otherwise it must match both. The fields are stored in every manifest, so the shim
answers "does this task fire now" without parsing cron text.

Standard library only: the shim imports this for catch-up, gates and queued systemd firings.
"""

from __future__ import annotations

import time

from ..frozen import Frozen


class Fields(Frozen):
    """A schedule's expanded fields: the values each matches (weekdays 0-6, Sunday is 0)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_or: bool  # both day fields restricted: a day matches either

    @property
    def sets(self) -> tuple[frozenset[int], ...]:
        """The five value sets: minutes, hours, days, months, weekdays."""
        return (self.minutes, self.hours, self.days, self.months, self.weekdays)


def fires_in(fields: Fields, moment: time.struct_time) -> bool:
    """Whether the daemon fires in the minute of `moment` (local time)."""
    return moment.tm_min in fields.minutes and fires_in_hour(fields, moment)


def fires_in_hour(fields: Fields, moment: time.struct_time) -> bool:
    """Whether the daemon may fire in the hour of `moment`: its hour, day and month match."""
    day_of_month = moment.tm_mday in fields.days
    day_of_week = (moment.tm_wday + 1) % 7 in fields.weekdays
    day = (day_of_month or day_of_week) if fields.days_or else (day_of_month and day_of_week)
    return moment.tm_hour in fields.hours and moment.tm_mon in fields.months and day


def fires_at(fields: Fields, timestamp: float) -> bool:
    """Whether the daemon fires in the local minute of `timestamp`."""
    return fires_in(fields, time.localtime(timestamp))


def firings_between(fields: Fields, after: float, until: float) -> list[float]:
    """The firing minutes after `after` (from the next minute on) up to `until`."""
    first = after - after % 60 + 60
    return [float(t) for t in range(int(first), int(until) + 1, 60) if fires_at(fields, t)]


# 29 February comes back within 8 years: any schedule that fires at all has fired in that span.
SEARCH_SECONDS = 8 * 366 * 24 * 3600


def previous_firing(fields: Fields, before: float) -> float | None:
    """The newest firing minute that starts before `before`, found by walking back through local
    time (so daylight saving changes are as the clock shows them), an hour at a time through hours
    that cannot fire."""
    moment = int(before - before % 60)
    if moment >= before:
        moment -= 60
    oldest = moment - SEARCH_SECONDS
    while moment > oldest:
        local = time.localtime(moment)
        if fires_in_hour(fields, local):
            if local.tm_min in fields.minutes:
                return float(moment)
            moment -= 60
            continue
        # To the last minute of the hour before, unless the clock changed within this hour
        # (zones that shift by 30 minutes): then minute by minute, so no minute is skipped.
        earlier = moment - (local.tm_min * 60 + 60)
        moment = earlier if time.localtime(earlier).tm_gmtoff == local.tm_gmtoff else moment - 60
    return None


def next_firing(fields: Fields, after: float) -> float | None:
    """The first firing minute after `after`, found by walking forward through local time, an
    hour at a time through hours that cannot fire (the mirror of `previous_firing`)."""
    moment = int(after - after % 60) + 60
    newest = moment + SEARCH_SECONDS
    while moment < newest:
        local = time.localtime(moment)
        if fires_in_hour(fields, local):
            if local.tm_min in fields.minutes:
                return float(moment)
            moment += 60
            continue
        later = moment + (60 - local.tm_min) * 60  # the start of the next hour
        moment = later if time.localtime(later).tm_gmtoff == local.tm_gmtoff else moment + 60
    return None
