"""Which local times a schedule's fields match: the cron daemon's reading of the five fields.

A local minute matches when its minute, hour and month are in the fields and its day matches:
when both day fields are restricted (neither starts with `*`) a day matches either of them
(`days_or`); otherwise it must match both. The extended day fields read as croniter and Quartz
read them: `L` (the last day of the month), `nW` (the weekday nearest to day n, within the
month), `LW` (the last weekday), `d#n` (the nth weekday d of the month) and `dL` (the last
weekday d of the month).

Which of the matching times fire, and when, around a clock change is `rules.instants`. The fields
are stored in every manifest, so the shim answers without parsing cron text. Standard library
only.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..frozen import Frozen

NONE: frozenset[int] = frozenset()


class Fields(Frozen):
    """A schedule's expanded fields: the values each matches (weekdays 0-6, Sunday is 0)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_or: bool  # both day fields restricted: a day matches either
    wildcard: bool = False  # the minute or the hour field starts with `*` (see rules.instants)
    last_day: bool = False  # L
    nearest: frozenset[int] = NONE  # nW: the weekday nearest to day n
    last_weekday: bool = False  # LW
    nth: frozenset[tuple[int, int]] = frozenset()  # d#n: (weekday, n)
    last_weekdays: frozenset[int] = NONE  # dL

    @property
    def sets(self) -> tuple[frozenset[int], ...]:
        """The five value sets: minutes, hours, days, months, weekdays."""
        return (self.minutes, self.hours, self.days, self.months, self.weekdays)

    @property
    def extended(self) -> bool:
        """Whether a day field uses L, W or #, which the cron daemon does not read."""
        return bool(self.last_day or self.nearest or self.last_weekday or self.nth or self.last_weekdays)


def matches(fields: Fields, day: date, hour: int, minute: int) -> bool:
    """Whether the fields match the local time `hour`:`minute` of `day`."""
    return minute in fields.minutes and hour in fields.hours and day.month in fields.months and day_matches(fields, day)


def day_matches(fields: Fields, day: date) -> bool:
    """Whether the day fields match `day` (month not included)."""
    of_month = _month_day_matches(fields, day)
    of_week = _weekday_matches(fields, day)
    return (of_month or of_week) if fields.days_or else (of_month and of_week)


def _month_day_matches(fields: Fields, day: date) -> bool:
    if day.day in fields.days:
        return True
    if not (fields.last_day or fields.nearest or fields.last_weekday):
        return False
    last = _last_day(day)
    return (
        (fields.last_day and day.day == last)
        or (fields.last_weekday and day.day == _nearest_weekday(day.year, day.month, last, last))
        or any(day.day == _nearest_weekday(day.year, day.month, n, last) for n in fields.nearest)
    )


def _weekday_matches(fields: Fields, day: date) -> bool:
    weekday = (day.weekday() + 1) % 7  # cron counts from Sunday
    if weekday in fields.weekdays:
        return True
    if (weekday, (day.day - 1) // 7 + 1) in fields.nth:
        return True
    return weekday in fields.last_weekdays and day.day + 7 > _last_day(day)


def _last_day(day: date) -> int:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _nearest_weekday(year: int, month: int, target: int, last: int) -> int:
    """The Monday-to-Friday day nearest to day `target`, never leaving the month (Quartz's W);
    0 for a day the month does not have."""
    if target > last:
        return 0
    weekday = date(year, month, target).weekday()  # Monday is 0
    if weekday < 5:
        return target
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return target - 1 if target > 1 else target + 2
    return target + 1 if target < last else target - 2  # Sunday
