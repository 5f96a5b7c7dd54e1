"""An oracle for when Debian's cron runs an entry: its main loop (cron.c) on a simulated clock.

Written apart from the product on purpose: fields are expanded by croniter, the day rule and the
`*` flags come from the entry's text as entry.c sets them, and time moves the way cron.c sees it,
minute by minute in local minutes, with its four cases for a clock that jumped:

    timeDiff == 1          the next minute: every job of the minute
    0 < timeDiff <= 5      woke late: every job of each minute missed
    5 < timeDiff <= 180    jumped ahead (a skipped hour): wildcard jobs of the current minute,
                           fixed-time jobs of each minute missed
    -180 < timeDiff <= 0   jumped back (a repeated hour): wildcard jobs of the current minute
                           only, until the clock catches up with the virtual time
    otherwise              a big change: the virtual time jumps, every job of the minute

A job found runs at the real instant of the wake-up that found it, once for each virtual minute
it matched (a fixed-time job whose two times a jump skips starts twice, back to back).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

EPOCH = datetime(1970, 1, 1)


class Entry:
    """A crontab entry's time fields as the daemon keeps them."""

    # entry.c: @hourly sets HR_STAR; the others are fixed times.
    SPECIALS = {
        "@hourly": "0 * * * *",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *",
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
    }

    def __init__(self, expression: str) -> None:
        expression = self.SPECIALS.get(expression, expression)
        text = expression.split()
        expanded, _ = croniter.expand(expression)
        full = (range(60), range(24), range(1, 32), range(1, 13), range(7))
        self.sets = [
            set(every) if "*" in values else {int(v) % 7 if index == 4 else int(v) for v in values}
            for index, (values, every) in enumerate(zip(expanded, full))
        ]
        self.wildcard = text[0].startswith("*") or text[1].startswith("*")  # MIN_STAR | HR_STAR
        self.day_star = text[2].startswith("*") or text[4].startswith("*")  # DOM_STAR | DOW_STAR

    def matches(self, local_minute: int) -> bool:
        """Whether the entry matches the local minute numbered since 1970 (cron's virtual time)."""
        moment = EPOCH + timedelta(minutes=local_minute)
        minute, hour, day, month, weekday = self.sets
        of_month, of_week = moment.day in day, (moment.weekday() + 1) % 7 in weekday
        days = (of_month and of_week) if self.day_star else (of_month or of_week)
        return moment.minute in minute and moment.hour in hour and moment.month in month and days


def local_minute(zone: ZoneInfo, instant: float) -> int:
    """cron's clock: the local time in whole minutes since 1970."""
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    assert offset is not None
    return int((instant + offset.total_seconds()) // 60)


def runs(expression: str, zone_name: str, start: datetime, end: datetime) -> list[float]:
    """The instants at which the daemon, running from `start` on, starts the entry until `end`."""
    entry, zone = Entry(expression), ZoneInfo(zone_name)
    wake = start.astimezone(timezone.utc).timestamp() // 60 * 60
    virtual = local_minute(zone, wake)
    found: list[float] = []

    def find(minute: int, wild: bool, fixed: bool) -> None:
        if ((entry.wildcard and wild) or (not entry.wildcard and fixed)) and entry.matches(minute):
            found.append(wake)

    last = end.astimezone(timezone.utc).timestamp()
    while wake + 60 <= last:
        wake += 60
        running = local_minute(zone, wake)
        diff = running - virtual
        if diff == 1:
            virtual = running
            find(virtual, True, True)
        elif 0 < diff <= 5:
            while virtual < running:
                virtual += 1
                find(virtual, True, True)
        elif 5 < diff <= 180:
            find(running, True, False)
            while virtual < running:
                virtual += 1
                find(virtual, False, True)
        elif -180 < diff <= 0:
            find(running, True, False)
        else:
            virtual = running
            find(running, True, True)
    return found
