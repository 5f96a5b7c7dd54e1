"""The moments people type: ISO 8601 times and durations (30m, 2h, 7d, 1w), for `--at`,
`--from`, `--until` and `--since`.

A time without an offset is local time. A moment past the years the schedules' rule is computed
for (a firing time is looked for up to eight years ahead of one) is refused as a usage error, so
no command ends in a traceback over a date the calendar cannot hold.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ..errors import UsageError

LATEST_YEAR = 9990  # datetime ends with 9999, and firing times are looked for eight years ahead
_DURATION = re.compile(r"(\d{1,15})\s*([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LONGEST_SECONDS = 1000 * 366 * 86400
_NOT_A_TIME = "'{text}' is not a time; use {what} such as 30m, 2h, 7d, or ISO 8601 such as 2026-01-31T09:00"


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is local time."""
    moment = _iso(text)
    if moment is None:
        raise UsageError(f"'{text}' is not a time; use ISO 8601 such as 2026-01-31T09:00 or 2026-01-31T09:00+01:00")
    return moment


def parse_until(text: str, now: datetime) -> datetime:
    """A moment to come: a duration from `now`, or an ISO 8601 time."""
    span = duration(text)
    if span is not None:
        return now + span
    moment = _iso(text)
    if moment is None:
        raise UsageError(_NOT_A_TIME.format(text=text, what="a duration"))
    return moment


def parse_since(text: str, now: float) -> float:
    """A moment gone, as a timestamp: a duration before `now`, or an ISO 8601 time."""
    span = duration(text)
    if span is not None:
        return now - span.total_seconds()
    moment = _iso(text)
    if moment is None:
        raise UsageError(_NOT_A_TIME.format(text=text, what="an age"))
    return moment.timestamp()


def duration(text: str) -> timedelta | None:
    """The duration '30m', '2h', '7d' or '1w' stands for; None for text that is not one."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    if seconds > _LONGEST_SECONDS:
        raise UsageError(f"'{text}' is longer than a thousand years; give a shorter duration or a time")
    return timedelta(seconds=seconds)


def _iso(text: str) -> datetime | None:
    """An ISO 8601 time (local time without an offset), None for text that is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    from .preview import local_timezone

    return _within_years(moment if moment.tzinfo else moment.replace(tzinfo=local_timezone()), text)


def _within_years(moment: datetime, text: str) -> datetime:
    if moment.year > LATEST_YEAR:
        raise UsageError(f"'{text}' is too far ahead; give a time before the year {LATEST_YEAR + 1}")
    return moment
