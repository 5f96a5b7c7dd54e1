"""A schedule in words, as the cron daemon reads it: 'at 02:30 on Monday through Friday'."""

from __future__ import annotations

import re
from collections.abc import Callable

from .schedule import MONTH_WORDS, WEEKDAY_WORDS, Schedule


def describe(schedule: Schedule) -> str:
    """Words for the daemon's reading of a schedule: 'at 02:30 on Monday through Friday'."""
    if schedule.reboot:
        return "at boot"
    minute_text, hour_text, day_text, month_text, weekday_text = schedule.cron.split(" ")
    parts = [_describe_time(minute_text, hour_text)]
    days = _describe_field(day_text, "day", str, "on day {} of the month", "on {} of the month")
    weekdays = _describe_field(weekday_text, "day of the week", _weekday_word, "on {}", "on {}")
    if day_text != "*" and weekday_text != "*":
        joiner = " or " if schedule.days_or else ", only if it is "
        parts.append(days + joiner + weekdays.removeprefix("on "))
    elif day_text != "*":
        parts.append(days)
    elif weekday_text != "*":
        parts.append(weekdays)
    if month_text != "*":
        parts.append(_describe_field(month_text, "month", _month_word, "in {}", "in {}"))
    return " ".join(parts)


def _weekday_word(value: int) -> str:
    return WEEKDAY_WORDS[value % 7]


def _month_word(value: int) -> str:
    return MONTH_WORDS[value - 1]


def _describe_time(minute_text: str, hour_text: str) -> str:
    if "*" in minute_text.split(","):
        minute_text = "*"
    if "*" in hour_text.split(","):
        hour_text = "*"
    if minute_text.isdigit() and hour_text.isdigit():
        return f"at {int(hour_text):02d}:{int(minute_text):02d}"
    if minute_text.isdigit() and re.match(r"^[\d,]+$", hour_text) and hour_text.count(",") < 4:
        return "at " + _join([f"{int(h):02d}:{int(minute_text):02d}" for h in hour_text.split(",")])
    minutes = _describe_field(minute_text, "minute", str, "at minute {}", "{}")
    if hour_text == "*":
        return minutes + (" of every hour" if minutes.startswith("at") else "")
    hours = _describe_field(hour_text, "hour", str, "hour {}", "{}")
    return f"{minutes} {'past' if minutes.startswith('at') else 'during'} {hours}"


def _describe_field(text: str, unit: str, word: Callable[[int], str], plain: str, stepped: str) -> str:
    """Words for one field: `plain` frames a list of values, `stepped` a list with steps."""
    if "*" in text.split(","):
        return f"every {unit}"
    if any(_extended_words(element) for element in text.split(",")):
        plain = plain.replace("on day {}", "on {}")
    parts, has_step = [], False
    for element in text.split(","):
        special = _extended_words(element)
        if special:
            parts.append(special)
            continue
        start, _, step = element.partition("/")
        low, _, high = start.partition("-")
        values = "" if low == "*" else word(int(low)) + (f" through {word(int(high))}" if high else "")
        if step:
            has_step = True
            every = "every" if step == "1" else f"every {_ordinal(int(step))}"
            parts.append(f"{every} {unit}" + (f" from {values}" if values else ""))
        else:
            parts.append(values or f"every {unit}")
    if text.startswith("*/") and unit == "minute":
        return f"every {text[2:]} minutes" if "," not in text else _join(parts)
    return (stepped if has_step else plain).format(_join(parts))


def _extended_words(element: str) -> str | None:
    """Words for L, LW, nW, d#n and dL (None for any other element)."""
    if element == "L":
        return "the last day"
    if element == "LW":
        return "the last weekday"
    if element.endswith("W"):
        return f"the weekday nearest day {element[:-1]}"
    if "#" in element:
        weekday, count = element.split("#")
        return f"the {_ordinal(int(count))} {_weekday_word(int(weekday))}"
    if element.endswith("L"):
        return f"the last {_weekday_word(int(element[:-1]))}"
    return None


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
