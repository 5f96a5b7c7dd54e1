"""What clock changes and time zones ask of a target's entries (`rules.instants` is the rule).

- `systemd_extras`: the instants the rule fires that systemd's own reading of the calendar lines
  misses (systemd skips a time the clock jumps over and fires a repeated time once), written out
  date by date for the years after the install.
- `superset`: for a scheduler that reads only the machine's zone (the cron daemon), fields in that
  zone that match at least every instant of the rule in the task's zone; the shim's gate then runs
  only the instants.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from ..rules.firing import Fields, day_matches
from ..rules.instants import RESET_MINUTES, instants, transitions, zone_of

YEARS_AHEAD = 10  # systemd's extra lines cover the clock changes of this many years
WIDE = (datetime(2000, 1, 1, tzinfo=timezone.utc).timestamp(), datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())
EVERY_DAY = frozenset(range(1, 32))
EVERY_WEEKDAY = frozenset(range(7))
EVERY_MONTH = frozenset(range(1, 13))


# --- systemd ---------------------------------------------------------------------------------


def systemd_extras(fields: Fields, zone: str | None, machine_zone: str, first_year: int) -> list[float]:
    """The rule's instants around the clock changes of `first_year` and the years after that
    systemd's calendar lines for `fields` would not fire at."""
    where = zone_of(zone or machine_zone)
    start = datetime(first_year, 1, 1, tzinfo=timezone.utc).timestamp()
    end = datetime(first_year + YEARS_AHEAD, 1, 1, tzinfo=timezone.utc).timestamp()
    missed: set[float] = set()
    for instant, _, _ in _transitions(zone or machine_zone, start, end):
        low, high = instant - 4 * 3600, instant + 5 * 3600
        missed |= set(instants(fields, where, low, high)) - set(_systemd_reading(fields, where, low, high))
    return sorted(missed)


def _systemd_reading(fields: Fields, zone: tzinfo, start: float, end: float) -> list[float]:
    """What systemd fires for the calendar of `fields`: every matching local time, a repeated
    time once (its first), a skipped time never."""
    found = []
    day = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, zone).date() + timedelta(days=1)
    while day <= last:
        if day.month in fields.months and day_matches(fields, day):
            for hour in sorted(fields.hours):
                for minute in sorted(fields.minutes):
                    local = datetime(day.year, day.month, day.day, hour, minute)
                    moment = local.replace(tzinfo=zone).timestamp()
                    if datetime.fromtimestamp(moment, zone).replace(tzinfo=None) == local and start <= moment < end:
                        found.append(moment)
        day += timedelta(days=1)
    return found


# --- the cron daemon -------------------------------------------------------------------------


def superset(fields: Fields, zone: str, machine_zone: str) -> Fields:
    """Fields in the machine's zone that match every instant the rule fires in `zone`."""
    differences = _differences(zone, machine_zone)
    local_times = {hour * 60 + minute for hour in fields.hours for minute in fields.minutes}
    if not fields.wildcard:  # a fixed time the clock skips runs right after the jump
        local_times |= _jump_ends(zone, local_times)
    shifted = {time + difference for time in local_times for difference in differences}
    minutes = frozenset(time % 60 for time in shifted)
    hours = frozenset((time % 1440) // 60 for time in shifted)
    other_day = any(not 0 <= time < 1440 for time in shifted)
    if _has_clock_changes(machine_zone):
        # The daemon repeats only wildcard entries in a repeated hour: the hour field is `*`.
        hours = frozenset(range(24))
    if other_day or fields.extended:
        days, weekdays = EVERY_DAY, EVERY_WEEKDAY
        months = EVERY_MONTH if other_day else fields.months
        return Fields(minutes, hours, days, months, weekdays, False, wildcard=len(hours) == 24)
    return Fields(
        minutes, hours, fields.days, fields.months, fields.weekdays, fields.days_or, wildcard=len(hours) == 24
    )


@lru_cache(maxsize=64)
def _transitions(name: str, start: float, end: float) -> tuple[tuple[float, int, int], ...]:
    return tuple(transitions(zone_of(name), start, end))


@lru_cache(maxsize=64)
def _differences(zone: str, machine_zone: str) -> frozenset[int]:
    """The differences, in minutes, between the machine's offset and the zone's, at any instant
    of this century."""
    changes = sorted(
        {instant for instant, _, _ in _transitions(zone, *WIDE)}
        | {instant for instant, _, _ in _transitions(machine_zone, *WIDE)}
    )
    task, machine = zone_of(zone), zone_of(machine_zone)
    return frozenset(_offset(machine, moment) - _offset(task, moment) for moment in [WIDE[0], *changes])


def _offset(zone: tzinfo, moment: float) -> int:
    delta = datetime.fromtimestamp(moment, zone).utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


@lru_cache(maxsize=64)
def _has_clock_changes(name: str) -> bool:
    return bool(_transitions(name, *WIDE))


def _jump_ends(zone: str, local_times: set[int]) -> set[int]:
    """The local times (minutes of the day) right after the jumps that skip one of `local_times`."""
    gaps = set()
    for instant, before, after in _transitions(zone, *WIDE):
        ahead = (after - before) // 60
        if 0 < ahead < RESET_MINUTES:
            start = int((instant + before) // 60) % 1440
            gaps.add((start, ahead))
    return {(start + ahead) % 1440 for start, ahead in gaps for time in local_times if (time - start) % 1440 < ahead}


# --- schedulers that read the zone themselves but not the rule (Kubernetes) -----------------------


def local_changes(zone: str) -> frozenset[tuple[int, int]]:
    """The zone's clock changes of this century as (local minute of the day the change starts,
    minutes the clock moves: forward > 0, back < 0)."""
    found = set()
    for instant, before, after in _transitions(zone, *WIDE):
        moved = (after - before) // 60
        start = int((instant + (before if moved > 0 else after)) // 60) % 1440
        found.add((start, moved))
    return frozenset(found)


def skipped_time_ends(zone: str, local_times: set[int]) -> set[int]:
    """The local times (minutes of the day) right after the jumps that skip one of `local_times`,
    where the rule runs a fixed time the clock skipped."""
    return _jump_ends(zone, local_times)
