"""Cron expressions: parsing, rewriting to what the daemon and croniter read alike, refusals, words,
and firing times checked against the daemon's rule written out minute by minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from orchestration.compile.manifest import Timing
from orchestration.define.schedule import (
    Schedule,
    parse_schedule,
)
from orchestration.define.wording import describe
from orchestration.errors import ScheduleError
from orchestration.observe.preview import next_times

# expression, emitted crontab fields, words
ACCEPTED = [
    ("0 * * * *", "0 * * * *", "at minute 0 of every hour"),
    ("* * * * *", "* * * * *", "every minute"),
    ("*/15 * * * *", "*/15 * * * *", "every 15 minutes"),
    ("30 2 * * 1-5", "30 2 * * 1-5", "at 02:30 on Monday through Friday"),
    ("30 2 * * MON-FRI", "30 2 * * 1-5", "at 02:30 on Monday through Friday"),
    ("0 0 1 * 1", "0 0 1 * 1", "at 00:00 on day 1 of the month or Monday"),
    ("0 0 */2 * 1", "0 0 */2 * 1", "at 00:00 on every 2nd day of the month, only if it is Monday"),
    ("0 0 1,15 * *", "0 0 1,15 * *", "at 00:00 on day 1 and 15 of the month"),
    ("5 4 * * sun", "5 4 * * 0", "at 04:05 on Sunday"),
    ("0 0 * * 7", "0 0 * * 0", "at 00:00 on Sunday"),
    ("0 22 * * fri-mon", "0 22 * * 5,6,0,1", "at 22:00 on Friday, Saturday, Sunday and Monday"),
    ("0 22-2 * * *", "0 22,23,0,1,2 * * *", "at minute 0 past hour 22, 23, 0, 1 and 2"),
    ("5-5 * * * *", "5 * * * *", "at minute 5 of every hour"),
    ("5/15 * * * *", "5-59/15 * * * *", "every 15th minute from 5 through 59"),
    ("59/15 * * * *", "59 * * * *", "at minute 59 of every hour"),
    ("0 9-17/2 * * *", "0 9-17/2 * * *", "at minute 0 past every 2nd hour from 9 through 17"),
    ("0 0 29 2 *", "0 0 29 2 *", "at 00:00 on day 29 of the month in February"),
    ("0 12 * jan,JUL *", "0 12 * 1,7 *", "at 12:00 in January and July"),
    ("0 0 1 */3 *", "0 0 1 */3 *", "at 00:00 on day 1 of the month in every 3rd month"),
    ("0 0 1-31 * 1-5", "0 0 * * *", "at 00:00"),
    ("0 0 1,15 * 0-6", "0 0 * * *", "at 00:00"),
    ("0 0 * * 5-7", "0 0 * * 5,6,0", "at 00:00 on Friday, Saturday and Sunday"),
    ("@hourly", "0 * * * *", "at minute 0 of every hour"),
    ("@daily", "0 0 * * *", "at 00:00"),
    ("@midnight", "0 0 * * *", "at 00:00"),
    ("@weekly", "0 0 * * 0", "at 00:00 on Sunday"),
    ("@monthly", "0 0 1 * *", "at 00:00 on day 1 of the month"),
    ("@yearly", "0 0 1 1 *", "at 00:00 on day 1 of the month in January"),
    ("@annually", "0 0 1 1 *", "at 00:00 on day 1 of the month in January"),
    ("@reboot", "@reboot", "at boot"),
    ("  0   *  * * *  ", "0 * * * *", "at minute 0 of every hour"),
    ("*,5 * * * *", "*,5 * * * *", "every minute"),
    ("0 0 * * 0-6", "0 0 * * 0-6", "at 00:00 on Sunday through Saturday"),
    ("0 0 1-31/2 * 1", "0 0 1-31/2 * 1", "at 00:00 on every 2nd day from 1 through 31 of the month or Monday"),
    ("0 0 L * *", "0 0 L * *", "at 00:00 on the last day of the month"),
    ("0 9 15W,LW * *", "0 9 15W,LW * *", "at 09:00 on the weekday nearest day 15 and the last weekday of the month"),
    ("0 9 * * mon#1,5L", "0 9 * * 1#1,5L", "at 09:00 on the 1st Monday and the last Friday"),
]


@pytest.mark.parametrize(("expression", "cron", "words"), ACCEPTED)
def test_accepted_expressions_are_rewritten_and_described(expression: str, cron: str, words: str) -> None:
    schedule = parse_schedule(expression)
    assert schedule.cron == cron
    assert describe(schedule) == words


E = "cron expression"
REFUSED = [
    ("61 * * * *", f"{E} '61 * * * *' has the minute 61, which is out of range 0-59"),
    ("0 24 * * *", f"{E} '0 24 * * *' has the hour 24, which is out of range 0-23"),
    ("0 0 0 * *", f"{E} '0 0 0 * *' has the day-of-month 0, which is out of range 1-31"),
    ("0 0 * 13 *", f"{E} '0 0 * 13 *' has the month 13, which is out of range 1-12"),
    ("0 0 * * 8", f"{E} '0 0 * * 8' has the day-of-week 8, which is out of range 0-7"),
    ("* * * *", f"{E} '* * * *' has 4 fields; a cron expression has 5: minute hour day-of-month month day-of-week"),
    ("0 0 30 2 *", f"{E} '0 0 30 2 *' never fires: February has no day 30"),
    ("0 0 31 2,4 *", f"{E} '0 0 31 2,4 *' never fires: February or April has no day 31"),
    ("*/0 * * * *", f"{E} '*/0 * * * *' has the step 0 in the minute field '*/0'; a step must be between 1 and 59"),
    (
        "0 0 * * monday",
        f"{E} '0 0 * * monday' has the day-of-week 'monday', which is neither a"
        " number 0-7 nor a name (sun, mon, tue, wed, thu, fri, sat)\nDid you mean 'mon'?",
    ),
    (
        "0 0 * * 5#6",
        f"{E} '0 0 * * 5#6' has '5#6' in the day-of-week field; the n of 'day#n' is 1 to 5",
    ),
    ("0 L * * *", f"{E} '0 L * * *' has the hour 'l', which is not a number 0-23"),
    ("0 0 32W * *", f"{E} '0 0 32W * *' has the day-of-month 32, which is out of range 1-31"),
    ("0 0 30W 2 *", f"{E} '0 0 30W 2 *' never fires: no day of its months matches its day fields"),
    (
        "0 0 ? * *",
        f"{E} '0 0 ? * *' uses '?' (no specific value) in the day-of-month field '?',"
        " which orchestration does not read: a field holds numbers, names,"
        " '*', ',', '-' and '/', and a day field also L, W and #",
    ),
    (
        "H * * * *",
        f"{E} 'H * * * *' uses 'H' (hashed value) in the minute field 'H', which orchestration"
        " does not read: a field holds numbers, names, '*', ',', '-' and '/', and a day field also"
        " L, W and #",
    ),
    (
        "R * * * *",
        f"{E} 'R * * * *' uses 'R' (random value) in the minute field 'R', which orchestration"
        " does not read: a field holds numbers, names, '*', ',', '-' and '/', and a day field also"
        " L, W and #",
    ),
    (
        "0 0 0 1 1 *",
        f"{E} '0 0 0 1 1 *' has 6 fields (a seconds field); cron fires at most once a minute:"
        " use the 5 fields minute hour day-of-month month day-of-week",
    ),
    (
        "0 0 0 1 1 * 2030",
        f"{E} '0 0 0 1 1 * 2030' has 7 fields (seconds and year fields); cron fires at most once"
        " a minute: use the 5 fields minute hour day-of-month month day-of-week",
    ),
    (
        "CRON_TZ=UTC 0 0 * * *",
        f"{E} 'CRON_TZ=UTC 0 0 * * *' sets a time zone in the expression; give the zone as"
        " add_task(..., timezone='Area/City') (or Orchestrator(timezone=...)) and write the"
        " expression without it",
    ),
    (
        "@every",
        f"{E} '@every' is not a known shortcut; use one of @yearly, @annually, @monthly,"
        " @weekly, @daily, @midnight, @hourly, @reboot\nDid you mean '@weekly'?",
    ),
    (
        "1-*/2 * * * *",
        f"{E} '1-*/2 * * * *' has an unreadable minute '1-*/2'; use a number 0-59,"
        " '*', a list 'a,b', a range 'a-b' or a step '*/n'",
    ),
    (
        ",0 * * * *",
        f"{E} ',0 * * * *' has an unreadable minute ''; use a number 0-59, '*', a list"
        " 'a,b', a range 'a-b' or a step '*/n'",
    ),
    ("a * * * *", f"{E} 'a * * * *' has the minute 'a', which is not a number 0-59"),
    (
        "0 0 * foo *",
        f"{E} '0 0 * foo *' has the month 'foo', which is neither a number 1-12 nor a"
        " name (jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec)",
    ),
    ("", "cron_expression is empty; give five fields such as '0 * * * *'"),
]


@pytest.mark.parametrize(("expression", "message"), REFUSED)
def test_refused_expressions_name_the_field_and_the_fix(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(expression, task="task 'backup'")
    assert str(raised.value) == f"task 'backup': {message}"
    assert raised.value.field == "cron_expression"
    assert raised.value.exit_code == 2


def test_a_non_string_expression_is_refused() -> None:
    with pytest.raises(ScheduleError, match="cron_expression must be a string such as '0 \\* \\* \\* \\*', not int"):
        parse_schedule(5)


# Expressions whose firing times croniter must compute exactly as the daemon's rule does.
PREVIEWED = [
    "*/7 * * * *",
    "0 22 * * fri-mon",
    "0 22-2 * * *",
    "5/15 3 * * *",
    "0 0 1 * 1",
    "0 0 */2 * 1",
    "0 9 1-7 * */2",
    "0 0 1-31 * 1-5",
    "0 0 13 * 5",
    "30 4 1,15 * 5",
    "0 12 * nov-feb *",
    "0 0 29 2 *",
    "0 0 29 2 1",
    "0 0 * * 5-7",
    "15 10 */3 */2 *",
    "0 0 31 * *",
    "1-5 * * * *",
    "0 0 1 jan-jan *",
    "0 6 * * sat-sun",
    "0 0 */10 * sun",
]


@pytest.mark.parametrize("expression", PREVIEWED)
def test_preview_matches_the_daemon_rule_minute_by_minute(expression: str) -> None:
    schedule = parse_schedule(expression)
    start = datetime(2026, 11, 26, 15, 7, tzinfo=timezone.utc)
    count = 25
    timing = Timing(expression, schedule.cron, "", schedule.fields)
    assert next_times(timing, start, count) == list(brute_force_times(schedule, start, count))


def test_daemon_rule_or_and_and() -> None:
    either = parse_schedule("0 0 1 * 1")
    both = parse_schedule("0 0 */2 * 1")
    monday_the_30th = datetime(2026, 11, 30)  # a Monday, an even day
    monday_the_23rd = datetime(2026, 11, 23)  # a Monday, an odd day
    assert either.days_or and not both.days_or
    assert either.matches(monday_the_30th) and either.matches(datetime(2026, 12, 1))
    assert not both.matches(monday_the_30th)
    assert both.matches(monday_the_23rd)


def brute_force_times(schedule: Schedule, after: datetime, count: int) -> Iterator[datetime]:
    """Firing times found day by day with the daemon's rule (`matches`): the oracle of next_times."""
    day = after.replace(hour=0, minute=0, second=0, microsecond=0)
    found = 0
    while found < count:
        if schedule.matches(day.replace(hour=min(schedule.hours), minute=min(schedule.minutes))):
            for hour in sorted(schedule.hours):
                for minute in sorted(schedule.minutes):
                    moment = day.replace(hour=hour, minute=minute)
                    if moment > after and found < count and schedule.matches(moment):
                        found += 1
                        yield moment
        day += timedelta(days=1)
