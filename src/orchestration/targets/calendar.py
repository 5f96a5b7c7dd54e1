"""Cron schedules as systemd `OnCalendar=` values that fire at the same instants as the cron daemon.

One `OnCalendar=` line is an AND of its fields, and several lines are a union. So a schedule whose
day fields combine with OR (both restricted, neither starting with `*`) becomes two lines, one for
the days of the month and one for the days of the week; every other schedule is one line.

systemd 252 rejects reversed ranges (`Fri..Mon`, `22..02`), so sets are written with ascending
ranges and lists only. Times carry no time zone: timers, like cron, use the machine's local time.
"""

from __future__ import annotations

from collections.abc import Callable

from ..define.schedule import DAY, HOUR, MINUTE, MONTH, Field
from ..rules.firing import Fields

# systemd counts the week from Monday; its ranges must ascend in that order.
SYSTEMD_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EVERY_DAY = frozenset(range(DAY.low, DAY.high + 1))
EVERY_WEEKDAY = frozenset(range(7))


def calendar_specs(schedule: Fields) -> tuple[str, ...]:
    """The OnCalendar= values (without the 'OnCalendar=' prefix) of a schedule's fields."""
    time = f"{_numbers(schedule.hours, HOUR)}:{_numbers(schedule.minutes, MINUTE)}:00"
    months = _numbers(schedule.months, MONTH)
    if schedule.days_or:
        return (
            _line(EVERY_WEEKDAY, months, schedule.days, time),
            _line(schedule.weekdays, months, EVERY_DAY, time),
        )
    return (_line(schedule.weekdays, months, schedule.days, time),)


def _line(weekdays: frozenset[int], months: str, days: frozenset[int], time: str) -> str:
    """One value in the form '[Weekdays ]*-MM-DD HH:MM:00'."""
    date = f"*-{months}-{_numbers(days, DAY)} {time}"
    return date if weekdays == EVERY_WEEKDAY else f"{_weekdays(weekdays)} {date}"


def _weekdays(weekdays: frozenset[int]) -> str:
    """Cron weekdays (0 is Sunday) as systemd names, Monday first: {5,6,0,1} is 'Mon,Fri..Sun'."""
    monday_first = sorted((day - 1) % 7 for day in weekdays)
    return _runs(monday_first, SYSTEMD_WEEKDAYS.__getitem__)


def _numbers(values: frozenset[int], field: Field) -> str:
    """A field's values as '*', runs and lists, or a bounded repetition where that is shorter."""
    if values == frozenset(range(field.low, field.high + 1)):
        return "*"
    ordered = sorted(values)
    written = _runs(ordered, "{:02d}".format)
    repeated = _repetition(ordered)
    return repeated if repeated and len(repeated) < len(written) else written


def _runs(ordered: list[int], name: Callable[[int], str]) -> str:
    """Consecutive runs of three or more as 'a..b', everything else as a comma list."""
    parts: list[str] = []
    start = 0
    for end in range(len(ordered)):
        if end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            continue
        if end - start >= 2:
            parts.append(f"{name(ordered[start])}..{name(ordered[end])}")
        else:
            parts.extend(name(value) for value in ordered[start : end + 1])
        start = end + 1
    return ",".join(parts)


def _repetition(ordered: list[int]) -> str | None:
    """'a..b/step' when the values are exactly that progression, else None."""
    if len(ordered) < 3:
        return None
    step = ordered[1] - ordered[0]
    if step < 2 or ordered != list(range(ordered[0], ordered[-1] + 1, step)):
        return None
    # Always bounded: systemd 252 reads an open 'a/step' past the field's end and then skips the
    # wrapped value ('*:00/7' misses 00:00 after 23:56, '00/5:00' misses midnight every 5th day).
    return f"{ordered[0]:02d}..{ordered[-1]:02d}/{step}"


def minute_list(minutes: set[int] | frozenset[int]) -> str:
    """Minutes as systemd writes them: runs and lists, zero-padded."""
    return _numbers(frozenset(minutes), MINUTE)
