"""Cron expressions with the cron daemon's meaning.

`parse_schedule()` reads the standard five-field dialect (numbers, names in any case, lists, ranges,
steps, `7` for Sunday, `@yearly` ... `@hourly`, `@reboot`), and the extended day elements `L`,
`LW`, `nW`, `d#n` and `dL`, and returns a `Schedule`: the sets of values each field matches, as
Vixie/Debian cron and cronie read them, and `cron`, the text we emit.

The emitted text keeps what decides the daemon's rules: a field starts with `*` exactly when the
user's did. Otherwise it is rewritten so that the daemon reads it plainly: names become numbers,
`N/step` becomes `N-max/step`, a reversed range (`fri-mon`, `22-2`) becomes an explicit list, and
`a-a` becomes `a`. Day rule: when day-of-month and day-of-week are both restricted a day matches
either (OR), unless one of them starts with `*`, in which case both must match (AND). Whether the
minute or the hour starts with `*` decides what a clock change does (`rules.instants`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from ..errors import ScheduleError
from ..frozen import Frozen
from ..rules.firing import Fields, day_matches, matches

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


class Field(Frozen):
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
    (re.compile(_TOKEN_START + r"h(?:$|[,/(-])"), "'H' (hashed value)"),
    (re.compile(_TOKEN_START + r"r" + _TOKEN_END), "'R' (random value)"),
)
# Extended day elements (croniter's and Quartz's): L, LW and nW in the day of the month, d#n and
# dL in the day of the week. The cron daemon does not read them: an entry fires at every day of
# the month and the shim's gate runs only the days they mean.
_NEAREST = re.compile(r"([0-9]+)w")
_NTH = re.compile(r"([0-7]|[a-z]{3})#([0-9]+)")
_LAST_OF = re.compile(r"([0-7]|[a-z]{3})l")


class Extended:
    """The extended day elements of one expression, noted while it is read."""

    def __init__(self) -> None:
        self.last_day = False
        self.nearest: set[int] = set()
        self.last_weekday = False
        self.nth: set[tuple[int, int]] = set()
        self.last_weekdays: set[int] = set()

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other) if isinstance(other, Extended) else NotImplemented

    def __repr__(self) -> str:
        return f"Extended({', '.join(f'{name}={value!r}' for name, value in vars(self).items())})"


class Schedule(Frozen):
    """One cron expression: what the user wrote, what we emit, and the times it matches."""

    expression: str
    cron: str
    extended: Extended
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0-6, Sunday is 0
    days_star: bool = True  # the day-of-month text starts with '*'
    weekdays_star: bool = True
    reboot: bool = False
    wildcard: bool = False  # the minute or the hour text starts with '*' (see rules.instants)

    @property
    def days_or(self) -> bool:
        """True when a day matches day-of-month OR day-of-week (both restricted, neither '*...')."""
        return not (self.days_star or self.weekdays_star)

    @property
    def fields(self) -> Fields:
        """The expanded fields, as the manifest stores them and `rules.firing` reads them."""
        special = self.extended
        return Fields(
            self.minutes,
            self.hours,
            self.days,
            self.months,
            self.weekdays,
            self.days_or,
            wildcard=self.wildcard,
            last_day=special.last_day,
            nearest=frozenset(special.nearest),
            last_weekday=special.last_weekday,
            nth=frozenset(special.nth),
            last_weekdays=frozenset(special.last_weekdays),
        )

    def matches(self, moment: datetime) -> bool:
        """Whether the fields match the local minute of `moment` (clock changes aside)."""
        return not self.reboot and matches(self.fields, moment.date(), moment.hour, moment.minute)


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
    extended = Extended()
    for field_spec, field_text in zip(FIELDS, fields):
        field_values, field_emitted = _parse_field(expression, field_spec, field_text, task, extended)
        values.append(field_values)
        emitted.append(field_emitted)
    minutes, hours, days, months, weekdays = values
    weekdays = frozenset(day % 7 for day in weekdays)
    days_star, weekdays_star = fields[2].startswith("*"), fields[4].startswith("*")
    if not (days_star or weekdays_star) and (len(days) == 31 or len(weekdays) == 7) and not _any(extended):
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
        wildcard=fields[0].startswith("*") or fields[1].startswith("*"),
        extended=extended,
    )
    _refuse_never_firing(schedule, task)
    return schedule


def parse_schedules(expressions: object, task: str | None = None) -> tuple[Schedule, ...]:
    """One cron expression, or a list of them whose union is the task's schedule; raise
    ScheduleError naming the expression and the fix."""
    if isinstance(expressions, str):
        return (parse_schedule(expressions, task),)
    if not isinstance(expressions, (list, tuple)):
        return (parse_schedule(expressions, task),)  # refused there, with the type named
    if not expressions:
        raise ScheduleError(
            "cron_expression is an empty list; give one expression such as '0 * * * *', or several",
            task=task,
            field="cron_expression",
        )
    schedules = tuple(parse_schedule(expression, task) for expression in expressions)
    if len(schedules) > 1 and any(schedule.reboot for schedule in schedules):
        raise ScheduleError(
            "cron_expression: @reboot cannot be one of several schedules of a task; make the"
            " @reboot part a task of its own",
            task=task,
            field="cron_expression",
        )
    seen: dict[object, str] = {}
    for schedule in schedules:
        times = schedule.cron if schedule.reboot else schedule.fields  # the times, however written
        if times in seen:
            raise ScheduleError(
                f"cron_expression lists '{seen[times]}' and '{schedule.expression}', which are the"
                " same schedule; list it once",
                task=task,
                field="cron_expression",
            )
        seen[times] = schedule.expression
    return schedules


def _parse_special(expression: str, text: str, task: str | None) -> Schedule:
    if text == REBOOT:
        return Schedule(expression=expression, cron=REBOOT, extended=Extended(), reboot=True)
    if text in SPECIALS:
        parsed = parse_schedule(SPECIALS[text], task)
        return parsed.replace(expression=expression)
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
            "sets a time zone in the expression; give the zone as add_task(..., timezone='Area/City')"
            " (or Orchestrator(timezone=...)) and write the expression without it",
            task,
        )
    count = len(text.split(" "))
    if count in (6, 7):
        extra = "a seconds field" if count == 6 else "seconds and year fields"
        raise _error(
            expression,
            f"has {count} fields ({extra}); cron fires at most once a minute: use the 5 fields"
            " minute hour day-of-month month day-of-week",
            task,
        )
    for field_spec, field_text in zip(FIELDS, text.split(" ")):
        for pattern, what in _UNSUPPORTED:
            if pattern.search(field_text.lower()):
                raise _error(
                    expression,
                    f"uses {what} in the {field_spec.name} field '{field_text}', which orchestration"
                    " does not read: a field holds numbers, names, '*', ',', '-' and '/', and a day"
                    " field also L, W and #",
                    task,
                )


def _parse_field(
    expression: str, field: Field, text: str, task: str | None, extended: Extended
) -> tuple[frozenset[int], str]:
    """The values one field matches, and its text rewritten: numbers for names, explicit lists for
    reversed ranges. Extended day elements go into `extended`."""
    values: set[int] = set()
    emitted: list[str] = []
    for element in text.split(","):
        special = _extended_element(expression, field, element, task, extended)
        if special is not None:
            emitted.append(special)
            continue
        element_values, element_text = _parse_element(expression, field, element, task)
        values.update(element_values)
        emitted.append(element_text)
    return frozenset(values), ",".join(emitted)


def _extended_element(expression: str, field: Field, element: str, task: str | None, extended: Extended) -> str | None:
    """An L, W or # element of a day field, noted in `extended` and written as emitted; else None."""
    if field is DAY:
        if element in ("l", "lw"):
            extended.last_day |= element == "l"
            extended.last_weekday |= element == "lw"
            return element.upper()
        nearest = _NEAREST.fullmatch(element)
        if nearest:
            day = _value(expression, field, nearest.group(1), task)
            extended.nearest.add(day)
            return f"{day}W"
    if field is WEEKDAY:
        nth, last = _NTH.fullmatch(element), _LAST_OF.fullmatch(element)
        if nth:
            weekday, count = _value(expression, field, nth.group(1), task) % 7, int(nth.group(2))
            if not 1 <= count <= 5:
                raise _error(expression, f"has '{element}' in the {field.name} field; the n of 'day#n' is 1 to 5", task)
            extended.nth.add((weekday, count))
            return f"{weekday}#{count}"
        if last:
            weekday = _value(expression, field, last.group(1), task) % 7
            extended.last_weekdays.add(weekday)
            return f"{weekday}L"
    return None


def _any(extended: Extended) -> bool:
    return bool(
        extended.last_day or extended.nearest or extended.last_weekday or extended.nth or extended.last_weekdays
    )


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
    if _any(schedule.extended):
        _refuse_never_firing_extended(schedule, task)
        return
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


def _refuse_never_firing_extended(schedule: Schedule, task: str | None) -> None:
    """With L, W or #, look at every day of a whole cycle of the calendar (28 years)."""
    fields, day = schedule.fields, date(2001, 1, 1)
    while day.year < 2029:
        if day.month in fields.months and day_matches(fields, day):
            return
        day += timedelta(days=1)
    raise _error(schedule.expression, "never fires: no day of its months matches its day fields", task)
