"""The instants a schedule fires at: Debian's cron rule, clock changes included, in a zone.

The cron daemon counts local minutes. When the clock jumps forward (a skipped hour) or back (a
repeated hour), cron.c (Debian's cron(8)) treats an entry by whether its time is *fixed* (neither
the minute nor the hour field starts with `*`) or *wildcard*:

- forward by 5 minutes to 3 hours: a fixed entry whose time was skipped runs right after the jump;
  a wildcard entry does not run in the skipped time;
- forward by less than 5 minutes: every entry whose time was skipped runs right after the jump;
- back by up to 3 hours: a fixed entry runs once (the first time its time comes), a wildcard
  entry runs again in the repeated time;
- by more than 3 hours: the daemon resets its clock; skipped times are lost, repeated times run
  again.

`instants()` applies that rule to a schedule's fields in a zone (None: the machine's zone, the one
the daemon reads) and gives the distinct instants, as timestamps. Standard library only; zoneinfo
is loaded for a zone by name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo

from .firing import Fields, day_matches

SMALL_JUMP_MINUTES = 5  # cron runs every entry of minutes skipped by a jump shorter than this
RESET_MINUTES = 180  # beyond 3 hours cron resets its clock instead of catching up
SEARCH_DAYS = 8 * 366 + 2  # 29 February comes back within 8 years


def zone_of(name: str | None) -> tzinfo:
    """The zone called `name` (IANA), or the machine's: the one its cron daemon reads."""
    from zoneinfo import ZoneInfo

    name = name or machine_zone()
    if name != LOCALTIME:
        return ZoneInfo(name)
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key=LOCALTIME)
    except (OSError, ValueError):
        return timezone.utc


LOCALTIME = "localtime"  # /etc/localtime when it names no zone


def machine_zone() -> str:
    """The zone the machine's cron daemon reads: TZ in its environment where it has one (and we
    may read it), else /etc/localtime. Not the TZ of the shell asking. Only a daemon that sees the
    files we see counts (the same mount namespace: not the cron of another container)."""
    try:
        ours = os.readlink("/proc/self/ns/mnt")
    except OSError:
        ours = ""
    for pid in processes(("cron", "crond")):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                continue
            with open(f"/proc/{pid}/environ", "rb") as stream:
                variables = stream.read().split(b"\0")
        except OSError:
            continue
        for variable in variables:
            if variable.startswith(b"TZ=") and variable[3:]:
                return variable[3:].decode(errors="replace").lstrip(":")
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    marker = "/zoneinfo/"
    if marker in target:
        return target.split(marker, 1)[1]
    return LOCALTIME if os.path.exists("/etc/localtime") else "UTC"


def processes(names: tuple[str, ...]) -> list[str]:
    """The ids of the processes with one of these names (read from /proc, no subprocess)."""
    found: list[str] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", encoding="utf-8") as stream:
                    if stream.read().strip() in names:
                        found.append(entry)
            except OSError:
                continue
    return found


def instants(fields: Fields, zone: tzinfo, start: float, end: float) -> list[float]:
    """The distinct instants in [start, end) at which the rule fires, in order."""
    found: set[float] = set()
    first = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, zone).date() + timedelta(days=1)
    day = first
    while day <= last:
        if fields.months and day.month in fields.months and day_matches(fields, day):
            for moment in _day_instants(fields, zone, day):
                if start <= moment < end:
                    found.add(moment)
        day += timedelta(days=1)
    return sorted(found)


def next_instants(fields: Fields, zone: tzinfo, after: float, count: int) -> list[float]:
    """The first `count` instants strictly after `after`."""
    found: list[float] = []
    start = after - after % 60 + 60
    span, latest = 2 * 86400, start
    while len(found) < count and start - latest < SEARCH_DAYS * 86400:  # none in 8 years: none ever
        more = instants(fields, zone, start, start + span)
        found += more
        latest = more[-1] if more else latest
        start += span
        span = min(span * 2, 64 * 86400)
    return found[:count]


def next_instant(fields: Fields, zone: tzinfo, after: float) -> float | None:
    """The first instant strictly after `after`, as `next_instants(fields, zone, after, 1)` gives
    it, found quickly (see `Outlook`)."""
    return Outlook(zone, after).next_instant(fields)


class Outlook:
    """One zone's wall clock just after `after`, and its clock changes from two days before that
    until `days` days after: worked out once for the next instants of many schedules (a listing
    of a thousand tasks asks the same question of each)."""

    def __init__(self, zone: tzinfo, after: float, days: int = 0) -> None:
        self.zone, self.after = zone, after
        self.start = after - after % 60 + 60
        local = datetime.fromtimestamp(self.start, zone)
        self.day, self.hour, self.minute = local.date(), local.hour, local.minute
        # Two days cover every clock change the rule turns into extra or displaced runs.
        self.since = self.start - 2 * 86400
        self.horizon = self.start + days * 86400
        self.changes = transitions(zone, self.since, self.horizon) if days else []
        self.offset = _offset(zone, self.since) if days else 0

    def next_instant(self, fields: Fields) -> float | None:
        """The schedule's first instant strictly after `after`, as `next_instants` gives it: read
        on the wall clock, a day and then an hour and a minute at a time, which is exact when the
        zone's offset does not change from two days before until it; else by `next_instants`."""
        day, hour, minute = self.day, self.hour, self.minute
        hours, minutes = sorted(fields.hours), sorted(fields.minutes)
        found = None
        for _ in range(SEARCH_DAYS):
            if day.month in fields.months and day_matches(fields, day):
                found = _first_on(day, hours, minutes, hour, minute, self.zone)
                if found is not None:
                    break
            day, hour, minute = day + timedelta(days=1), 0, 0
        if found is not None and found >= self.start and self._steady_until(found + 60):
            return found
        more = next_instants(fields, self.zone, self.after, 1)
        return more[0] if more else None

    def _steady_until(self, end: float) -> bool:
        """Whether `transitions` finds no clock change from two days before the start until `end`.
        Within the horizon the changes found once tell it: none before `end`, and the offset at
        `end` the one the walk started with (a change the horizon's last day step saw revert)."""
        if end > self.horizon:
            return not transitions(self.zone, self.since, end)
        return all(instant >= end for instant, _, _ in self.changes) and _offset(self.zone, end) == self.offset


def _first_on(day: date, hours: list[int], minutes: list[int], hour: int, minute: int, zone: tzinfo) -> float | None:
    """The instant of the first of the day's times at or after hour:minute, read on the wall clock."""
    for at_hour in hours:
        if at_hour < hour:
            continue
        for at_minute in minutes:
            if at_hour > hour or at_minute >= minute:
                return datetime(day.year, day.month, day.day, at_hour, at_minute, tzinfo=zone).timestamp()
    return None


def previous_instant(fields: Fields, zone: tzinfo, before: float) -> float | None:
    """The newest instant strictly before `before`."""
    end = before
    span = 2 * 86400
    while before - end < SEARCH_DAYS * 86400:
        found = instants(fields, zone, end - span, end)
        if found:
            return found[-1]
        end -= span
        span = min(span * 2, 64 * 86400)
    return None


def is_instant(fields: Fields, zone: tzinfo, moment: float) -> bool:
    """Whether the rule fires in the minute that starts at (or holds) `moment`."""
    minute = moment - moment % 60
    return bool(instants(fields, zone, minute, minute + 60))


# A task of several schedules runs at the union of their instants, once at an instant they share.


def union_instants(schedules: Sequence[Fields], zone: tzinfo, start: float, end: float) -> list[float]:
    """The distinct instants in [start, end) at which any of the schedules fires, in order."""
    return sorted({moment for fields in schedules for moment in instants(fields, zone, start, end)})


def union_next_instants(schedules: Sequence[Fields], zone: tzinfo, after: float, count: int) -> list[float]:
    """The first `count` instants of any of the schedules strictly after `after`."""
    return sorted({moment for fields in schedules for moment in next_instants(fields, zone, after, count)})[:count]


def union_next_instant(schedules: Sequence[Fields], outlook: Outlook) -> float | None:
    """The first instant of any of the schedules strictly after the outlook's `after`, in its zone."""
    found = [moment for fields in schedules if (moment := outlook.next_instant(fields)) is not None]
    return min(found, default=None)


def union_previous_instant(schedules: Sequence[Fields], zone: tzinfo, before: float) -> float | None:
    """The newest instant of any of the schedules strictly before `before`."""
    found = [moment for fields in schedules if (moment := previous_instant(fields, zone, before)) is not None]
    return max(found, default=None)


def union_is_instant(schedules: Sequence[Fields], zone: tzinfo, moment: float) -> bool:
    """Whether any of the schedules fires in the minute that starts at (or holds) `moment`."""
    return any(is_instant(fields, zone, moment) for fields in schedules)


def _day_instants(fields: Fields, zone: tzinfo, day: date) -> list[float]:
    """The instants of one local date's matching times, each resolved by the rule."""
    found = []
    for hour in sorted(fields.hours):
        for minute in sorted(fields.minutes):
            found += resolve(datetime(day.year, day.month, day.day, hour, minute), zone, fields.wildcard)
    return found


def resolve(local: datetime, zone: tzinfo, wildcard: bool) -> list[float]:
    """The instants at which an entry whose time is the naive `local` runs: once as a rule; never,
    or right after the jump, when the clock skips it; once or twice when the clock repeats it."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    early, late = first.timestamp(), second.timestamp()
    if early == late:
        return [early]
    if datetime.fromtimestamp(early, zone).replace(tzinfo=None) == local:  # a repeated time
        back = round(abs(late - early) / 60)
        return [early] if not wildcard and back <= RESET_MINUTES else [early, late]
    # A skipped time: fold=0 read it with the offset before the jump, fold=1 with the one after.
    ahead = round(abs(late - early) / 60)
    if ahead >= RESET_MINUTES or (wildcard and ahead >= SMALL_JUMP_MINUTES):
        return []
    return [jump_instant(zone, min(early, late), max(early, late))]


def jump_instant(zone: tzinfo, low: float, high: float) -> float:
    """The minute in (low, high] at which the zone's offset changes (it is constant before)."""
    before = _offset(zone, low)
    low_minute, high_minute = int(low // 60), int(high // 60)
    while high_minute - low_minute > 1:
        middle = (low_minute + high_minute) // 2
        if _offset(zone, middle * 60) == before:
            low_minute = middle
        else:
            high_minute = middle
    return float(high_minute * 60)


def transitions(zone: tzinfo, start: float, end: float) -> list[tuple[float, int, int]]:
    """The zone's clock changes in [start, end): (instant, offset before, offset after), in
    seconds. Found day by day, then to the minute."""
    found = []
    step = 86400
    moment = start - start % 60
    offset = _offset(zone, moment)
    while moment < end:
        later = min(moment + step, end)
        after = _offset(zone, later)
        if after != offset:
            instant = jump_instant(zone, moment, later)
            found.append((instant, offset, _offset(zone, instant)))
            moment, offset = instant, _offset(zone, instant)
            continue
        moment = later
    return found


def _offset(zone: tzinfo, moment: float) -> int:
    """The zone's offset from UTC at the instant `moment`, in seconds."""
    delta = datetime.fromtimestamp(moment, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def next_change_note(
    fields: Fields, zone: tzinfo, now: float, upcoming: list[tuple[float, int, int]] | None = None
) -> str | None:
    """What the zone's next clock change (within a year) does to the schedule, in words: 'on
    2026-03-29 the clock skips 02:00-02:59: the 02:30 run happens at 03:00'; None when it
    changes nothing. `upcoming`: the zone's `transitions` within that year, when known."""
    if upcoming is None:
        upcoming = transitions(zone, now, now + 366 * 86400)
    if not upcoming:
        return None
    instant, before, after = upcoming[0]
    start = datetime.fromtimestamp(instant - abs(after - before) - 60, zone)
    day = start.date()
    if not (day.month in fields.months and day_matches(fields, day)):
        return None
    moved = (after - before) // 60
    first = datetime.fromtimestamp(instant - 60, zone) + timedelta(minutes=1)  # local time the change starts
    first_local = first.replace(tzinfo=None) if moved > 0 else (first + timedelta(minutes=moved)).replace(tzinfo=None)
    span = [first_local + timedelta(minutes=step) for step in range(abs(moved))]
    affected = [local for local in span if local.hour in fields.hours and local.minute in fields.minutes]
    if not affected:
        return None
    shown = [f"{local:%H:%M}" for local in affected[:3]] + (["..."] if len(affected) > 3 else [])
    times = ", ".join(shown)
    window = f"{span[0]:%H:%M}-{span[-1]:%H:%M}"
    jump = datetime.fromtimestamp(instant, zone)
    if moved > 0:
        several = len(affected) > 1
        what = f"the clock skips {window}: the {times} run{'s' if several else ''} " + (
            ("do not happen" if several else "does not happen")
            if fields.wildcard
            else f"{'happen' if several else 'happens'} at {jump:%H:%M}, right after the jump"
        )
    else:
        what = f"the clock repeats {window}: the {times} run " + (
            "happens twice (a wildcard time runs again)" if fields.wildcard else "happens once"
        )
    return f"on {day.isoformat()} {what}"
