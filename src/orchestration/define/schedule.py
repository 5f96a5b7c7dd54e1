"""Cron expressions with the cron daemon's meaning.

`parse_schedule()` reads the standard five-field dialect (numbers, names in any case, lists, ranges,
steps, `7` for Sunday, `@yearly` ... `@hourly`, `@reboot`) and returns a `Schedule`: the sets of
values each field matches, as Vixie/Debian cron and cronie read them, and `cron`, the text we emit.

The emitted text is a rewrite that the daemon and croniter read alike: names become numbers,
`N/step` becomes `N-max/step`, a reversed range (`fri-mon`, `22-2`) becomes an explicit list, and
`a-a` becomes `a` (croniter reads `a-a` as the whole field). Day rule: when day-of-month and
day-of-week are both restricted a day matches either (OR), unless one of them starts with `*`, in
which case both must match (AND); croniter follows this with `implement_cron_bug=True`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import ScheduleError
from ..rules.firing import Fields, fires_in

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTH_WORDS = tuple(calendar.month_name[1:])
WEEKDAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

SPECIALS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
REBOOT = "@reboot"


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] means low + i

    @property
    def span(self) -> str:
        return f"{self.low}-{self.high}"


MINUTE = Field("minute", 0, 59)
HOUR = Field("hour", 0, 23)
DAY = Field("day-of-month", 1, 31)
MONTH = Field("month", 1, 12, MONTH_NAMES)
WEEKDAY = Field("day-of-week", 0, 7, WEEKDAY_NAMES)  # 7 is Sunday again
FIELDS = (MINUTE, HOUR, DAY, MONTH, WEEKDAY)

_ELEMENT = re.compile(r"(?P<start>\*|[0-9a-z]+)(?:-(?P<end>[0-9a-z]+))?(?:/(?P<step>[0-9]+))?")
_TOKEN_START, _TOKEN_END = r"(?:^|[,/-])", r"(?:$|[,/-])"
_UNSUPPORTED = (
    (re.compile(r"\?"), "'?' (no specific value)"),
    (re.compile(r"#"), "'#' (nth weekday of the month)"),
    (re.compile(_TOKEN_START + r"(?:\d*l|lw)" + _TOKEN_END), "'L' (last day)"),
    (re.compile(_TOKEN_START + r"\d+w" + _TOKEN_END), "'W' (nearest weekday)"),
    (re.compile(_TOKEN_START + r"h(?:$|[,/(-])"), "'H' (hashed value)"),
    (re.compile(_TOKEN_START + r"r" + _TOKEN_END), "'R' (random value)"),
)


@dataclass(frozen=True)
class Schedule:
    """One cron expression: what the user wrote, what we emit, and the times it matches."""

    expression: str
    cron: str
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0-6, Sunday is 0
    days_star: bool = True  # the day-of-month text starts with '*'
    weekdays_star: bool = True
    reboot: bool = False

    @property
    def days_or(self) -> bool:
        """True when a day matches day-of-month OR day-of-week (both restricted, neither '*...')."""
        return not (self.days_star or self.weekdays_star)

    @property
    def fields(self) -> Fields:
        """The expanded fields, as the manifest stores them and `rules.firing` reads them."""
        return Fields(self.minutes, self.hours, self.days, self.months, self.weekdays, self.days_or)

    def matches(self, moment: datetime) -> bool:
        """Whether the cron daemon fires in this minute (the daemon's rule, written out)."""
        return not self.reboot and fires_in(self.fields, moment.timetuple())


def parse_schedule(expression: object, task: str | None = None) -> Schedule:
    """Parse a cron expression; raise ScheduleError naming the field and the fix."""
    if not isinstance(expression, str):
        raise ScheduleError(
            f"cron_expression must be a string such as '0 * * * *', not {type(expression).__name__}",
            task=task,
            field="cron_expression",
        )
    text = " ".join(expression.split())
    if not text:
        raise ScheduleError(
            "cron_expression is empty; give five fields such as '0 * * * *'",
            task=task,
            field="cron_expression",
        )
    if text.startswith("@"):
        return _parse_special(expression, text.lower(), task)
    _refuse_outside_dialect(expression, text, task)
    fields = text.lower().split(" ")
    if len(fields) != 5:
        raise _error(
            expression,
            f"has {len(fields)} fields; a cron expression has 5: minute hour day-of-month month day-of-week",
            task,
        )
    values: list[frozenset[int]] = []
    emitted: list[str] = []
    for field, field_text in zip(FIELDS, fields):
        field_values, field_emitted = _parse_field(expression, field, field_text, task)
        values.append(field_values)
        emitted.append(field_emitted)
    minutes, hours, days, months, weekdays = values
    weekdays = frozenset(day % 7 for day in weekdays)
    days_star, weekdays_star = fields[2].startswith("*"), fields[4].startswith("*")
    if not (days_star or weekdays_star) and (len(days) == 31 or len(weekdays) == 7):
        # Either day field matching every day makes the OR match every day. croniter would
        # read a full field as '*' and switch to AND, so say "every day" in a form both share.
        emitted[2] = emitted[4] = "*"
        days, weekdays = frozenset(range(1, 32)), frozenset(range(7))
        days_star = weekdays_star = True
    schedule = Schedule(
        expression=expression,
        cron=" ".join(emitted),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        days_star=days_star,
        weekdays_star=weekdays_star,
    )
    _refuse_never_firing(schedule, task)
    return schedule


def _parse_special(expression: str, text: str, task: str | None) -> Schedule:
    if text == REBOOT:
        return Schedule(expression=expression, cron=REBOOT, reboot=True)
    if text in SPECIALS:
        parsed = parse_schedule(SPECIALS[text], task)
        return Schedule(**{**parsed.__dict__, "expression": expression})
    known = ", ".join([*list(SPECIALS), REBOOT])
    raise _error(
        expression,
        f"is not a known shortcut; use one of {known}",
        task,
        hint=_did_you_mean(text, [*list(SPECIALS), REBOOT]),
    )


def _refuse_outside_dialect(expression: str, text: str, task: str | None) -> None:
    first = text.split(" ")[0]
    if "=" in first:
        raise _error(
            expression,
            "sets a time zone, which is not supported on the crontab target: the cron daemon"
            " uses the machine's time zone; write the time in that zone",
            task,
        )
    count = len(text.split(" "))
    if count in (6, 7):
        extra = "a seconds field" if count == 6 else "seconds and year fields"
        raise _error(
            expression,
            f"has {count} fields ({extra}), which is not supported on the crontab target:"
            " cron fires at most once a minute; use the 5 fields minute hour day-of-month"
            " month day-of-week",
            task,
        )
    for field, field_text in zip(FIELDS, text.split(" ")):
        for pattern, what in _UNSUPPORTED:
            if pattern.search(field_text.lower()):
                raise _error(
                    expression,
                    f"uses {what} in the {field.name} field '{field_text}', which is not"
                    " supported on the crontab target: the cron daemon reads only numbers,"
                    " names, '*', ',', '-' and '/'",
                    task,
                )


def _parse_field(expression: str, field: Field, text: str, task: str | None) -> tuple[frozenset[int], str]:
    """The values one field matches, and its text rewritten to a form croniter reads alike."""
    values: set[int] = set()
    emitted: list[str] = []
    for element in text.split(","):
        element_values, element_text = _parse_element(expression, field, element, task)
        values.update(element_values)
        emitted.append(element_text)
    return frozenset(values), ",".join(emitted)


def _parse_element(expression: str, field: Field, element: str, task: str | None) -> tuple[list[int], str]:
    match = _ELEMENT.fullmatch(element)
    if not element or not match:
        raise _error(
            expression,
            f"has an unreadable {field.name} '{element}'; use a number {field.span}"
            + (f" or a name ({field.names[0]}..{field.names[-1]})" if field.names else "")
            + ", '*', a list 'a,b', a range 'a-b' or a step '*/n'",
            task,
        )
    step = _step(expression, field, element, match.group("step"), task)
    if match.group("start") == "*":
        if match.group("end"):
            raise _error(
                expression,
                f"has '{element}' in the {field.name} field; a range cannot start at '*'; write 'a-b' or '*/n'",
                task,
            )
        return list(range(field.low, field.high + 1, step)), element
    start = _value(expression, field, match.group("start"), task)
    if match.group("end") is None:
        if match.group("step") is None:
            return [start], str(_canonical(field, start))
        # 'N/step' means from N to the end of the field; the daemon does not read it.
        values = list(range(start, field.high + 1, step))
        if start == field.high or len(values) == 1:
            return values, str(_canonical(field, start))
        return values, f"{start}-{field.high}/{step}"
    end = _value(expression, field, match.group("end"), task)
    if start <= end:
        values = list(range(start, end + 1, step))
        if len(values) == 1:
            return values, str(_canonical(field, start))
        if field is WEEKDAY and end == 7:
            return values, ",".join(str(v % 7) for v in values)
        return values, f"{start}-{end}" + (f"/{step}" if match.group("step") else "")
    # A reversed range wraps around the end of the field (fri-mon is Fri, Sat, Sun, Mon).
    cycle_high = 6 if field is WEEKDAY else field.high
    cycle_low = field.low
    wrapped = list(range(start, cycle_high + 1)) + list(range(cycle_low, end % 7 + 1 if field is WEEKDAY else end + 1))
    values = wrapped[::step]
    return values, ",".join(str(_canonical(field, v)) for v in values)


def _canonical(field: Field, value: int) -> int:
    return value % 7 if field is WEEKDAY else value


def _step(expression: str, field: Field, element: str, text: str | None, task: str | None) -> int:
    if text is None:
        return 1
    step = int(text)
    largest = field.high - field.low if field is not WEEKDAY else 6
    if not 1 <= step <= max(largest, 1):
        raise _error(
            expression,
            f"has the step {step} in the {field.name} field '{element}'; a step must be between 1 and {largest}",
            task,
        )
    return step


def _value(expression: str, field: Field, text: str, task: str | None) -> int:
    if text.isdigit():
        value = int(text)
        if not field.low <= value <= field.high:
            raise _error(
                expression,
                f"has the {field.name} {value}, which is out of range {field.span}",
                task,
            )
        return value
    if text in field.names:
        return field.low + field.names.index(text)
    if field.names:
        raise _error(
            expression,
            f"has the {field.name} '{text}', which is neither a number {field.span} nor a"
            f" name ({', '.join(field.names)})",
            task,
            hint=_did_you_mean(text[:3], field.names),
        )
    raise _error(expression, f"has the {field.name} '{text}', which is not a number {field.span}", task)


def _refuse_never_firing(schedule: Schedule, task: str | None) -> None:
    if schedule.days_or:
        return  # every month has every weekday
    for month in schedule.months:
        longest = 29 if month == 2 else calendar.monthrange(2001, month)[1]
        if any(day <= longest for day in schedule.days):
            return  # that date falls on every weekday in some year
    days = ", ".join(str(day) for day in sorted(schedule.days))
    months = " or ".join(MONTH_WORDS[m - 1] for m in sorted(schedule.months))
    raise _error(
        schedule.expression,
        f"never fires: {months} has no day {days}",
        task,
    )


def _error(expression: str, message: str, task: str | None, hint: str | None = None) -> ScheduleError:
    return ScheduleError(f"cron expression '{expression}' {message}", task=task, field="cron_expression", hint=hint)


def _did_you_mean(text: str, choices: Sequence[str]) -> str | None:
    import difflib  # only to word an error: a run that loads the file does without

    close = difflib.get_close_matches(text, choices, n=1, cutoff=0.5)
    return f"Did you mean '{close[0]}'?" if close else None


def croniter_disagreement(schedule: Schedule) -> str | None:
    """Where croniter would expand the emitted text differently from the daemon, if anywhere."""
    if schedule.reboot:
        return None
    from croniter import croniter  # heavy: only when a tasks file is compiled

    expanded, _ = croniter.expand(schedule.cron)
    ours = (schedule.minutes, schedule.hours, schedule.days, schedule.months, schedule.weekdays)
    for field, theirs, mine in zip(FIELDS, expanded, ours):
        full = range(field.low, (6 if field is WEEKDAY else field.high) + 1)
        theirs_set = set(full) if theirs == ["*"] else {int(v) % 7 if field is WEEKDAY else int(v) for v in theirs}
        if theirs_set != set(mine):
            return f"{field.name}: croniter reads {sorted(theirs_set)}, the daemon {sorted(mine)}"
    return None
