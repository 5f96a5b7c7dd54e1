"""Built-in skip conditions, evaluated with an injected scheduled time: what each decides, its
description, the exact errors of its builder, and what it does when it cannot decide."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from orchestration import skips
from orchestration.compile.manifest import Skip
from orchestration.define.skips import Condition
from orchestration.errors import DefinitionError, RunError
from orchestration.rules.context import RunContext
from orchestration.runtime.conditions import evaluate

# 2026-11-23 is a Monday.
MONDAY = datetime(2026, 11, 23, 10, 30)


def at(moment: datetime, **fields) -> RunContext:
    """A context for a run scheduled at `moment`; the wall clock is a day later on purpose."""
    return RunContext(
        namespace="ns", task="t", run_id="r", scheduled_time=moment, now=moment + timedelta(days=1, minutes=7), **fields
    )


def decide(condition: Condition, moment: datetime = MONDAY, **fields) -> bool:
    return condition.evaluate(at(moment, **fields))


def test_weekend_and_weekdays_follow_the_scheduled_day_not_the_clock() -> None:
    week = [MONDAY + timedelta(days=n) for n in range(7)]
    assert [decide(skips.weekend(), day) for day in week] == [False] * 5 + [True] * 2
    assert [decide(skips.weekdays(), day) for day in week] == [True] * 5 + [False] * 2
    friday_late = datetime(2026, 11, 27, 23, 59)  # the context's wall clock says Saturday
    assert decide(skips.weekend(), friday_late) is False


def test_time_of_day_is_read_in_the_zone_of_the_scheduled_time() -> None:
    """The shim gives the scheduled time in the task's zone (the machine's by default)."""
    utc_noon = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    plus_two = timezone(timedelta(hours=2))
    window = skips.inside_hours("12:00", "13:00")
    assert decide(window, utc_noon) is True
    assert decide(window, utc_noon.astimezone(plus_two)) is False  # 14:00 there


@pytest.mark.parametrize(
    "clock, outside",
    [("08:59", True), ("09:00", False), ("12:00", False), ("16:59", False), ("17:00", True), ("23:30", True)],
)
def test_outside_hours_is_a_half_open_window(clock: str, outside: bool) -> None:
    hour, minute = map(int, clock.split(":"))
    moment = MONDAY.replace(hour=hour, minute=minute)
    assert decide(skips.outside_hours("09:00", "17:00"), moment) is outside
    assert decide(skips.inside_hours("09:00", "17:00"), moment) is not outside


@pytest.mark.parametrize(
    "clock, inside", [("21:59", False), ("22:00", True), ("00:00", True), ("05:59", True), ("06:00", False)]
)
def test_a_window_may_cross_midnight(clock: str, inside: bool) -> None:
    hour, minute = map(int, clock.split(":"))
    assert decide(skips.inside_hours("22:00", time(6, 0)), MONDAY.replace(hour=hour, minute=minute)) is inside


def test_on_dates_takes_dates_and_iso_text() -> None:
    holidays = skips.on_dates([date(2026, 12, 25), "2026-11-23", " 2026-12-26 "])
    assert decide(holidays, MONDAY) is True
    assert decide(holidays, MONDAY + timedelta(days=1)) is False
    assert holidays.to_spec() == {"type": "on_dates", "dates": ["2026-11-23", "2026-12-25", "2026-12-26"]}


def test_dates_file_is_read_at_each_run(tmp_path: Path) -> None:
    dates = tmp_path / "holidays.txt"
    dates.write_text("# public holidays\n\n2026-12-25   # Christmas\n  2026-11-23\n")
    condition = skips.on_dates_in_file(dates)
    assert decide(condition, MONDAY) is True
    dates.write_text("2026-12-25\n")
    assert decide(condition, MONDAY) is False


def test_a_bad_dates_file_cannot_decide(tmp_path: Path) -> None:
    dates = tmp_path / "holidays.txt"
    dates.write_text("2026-12-25\n# fine\n2026-02-30\n")
    with pytest.raises(RunError) as raised:
        decide(skips.on_dates_in_file(dates))
    assert str(raised.value) == (
        f"the dates file {dates}, line 3: '2026-02-30' is not a date; write one YYYY-MM-DD date per"
        " line ('#' starts a comment)"
    )
    with pytest.raises(RunError) as raised:
        decide(skips.on_dates_in_file(tmp_path / "missing.txt"))
    assert str(raised.value) == f"cannot read the dates file {tmp_path}/missing.txt: No such file or directory"


def test_files_relative_paths_resolve_from_the_tasks_folder(tmp_path: Path) -> None:
    missing = skips.file_missing("in.csv").bound(tmp_path)
    exists = skips.file_exists("in.csv").bound(tmp_path)
    assert missing.description == f"file {tmp_path}/in.csv is missing"
    assert (decide(missing), decide(exists)) == (True, False)
    (tmp_path / "in.csv").write_text("x")
    assert (decide(missing), decide(exists)) == (False, True)
    assert skips.file_exists("/abs/path").bound(tmp_path).description == "file /abs/path exists"


def test_environment_conditions_read_the_runs_environment() -> None:
    environ = {"MAINTENANCE": "", "MODE": "off"}
    assert decide(skips.env_set("MAINTENANCE"), environ=environ) is True
    assert decide(skips.env_set("OTHER"), environ=environ) is False
    assert decide(skips.env_equals("MODE", "off"), environ=environ) is True
    assert decide(skips.env_equals("MODE", "OFF"), environ=environ) is False
    assert decide(skips.env_equals("UNSET", ""), environ=environ) is False


def test_commands_run_without_a_shell_in_the_tasks_folder(tmp_path: Path) -> None:
    (tmp_path / "ready").write_text("")
    ready = skips.command_succeeds(["test", "-e", "ready"]).bound(tmp_path)
    not_ready = skips.command_fails(["test", "-e", "ready"]).bound(tmp_path)
    environ = {"PATH": os.environ["PATH"]}
    assert (decide(ready, environ=environ), decide(not_ready, environ=environ)) == (True, False)
    (tmp_path / "ready").unlink()
    assert (decide(ready, environ=environ), decide(not_ready, environ=environ)) == (False, True)
    literal = skips.command_succeeds(["test", "$(touch pwned)", "=", "x; touch pwned"]).bound(tmp_path)
    assert decide(literal, environ=environ) is False
    assert not (tmp_path / "pwned").exists()


def test_a_command_that_hangs_or_cannot_start_cannot_decide(tmp_path: Path) -> None:
    environ = {"PATH": os.environ["PATH"]}
    with pytest.raises(RunError) as raised:
        decide(
            skips.command_succeeds([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2).bound(tmp_path),
            environ=environ,
        )
    assert str(raised.value) == f"command `{sys.executable} -c 'import time; time.sleep(5)'` did not finish within 0.2s"
    with pytest.raises(RunError) as raised:
        decide(skips.command_fails(["no-such-program-here"]).bound(tmp_path), environ=environ)
    assert str(raised.value) == "command `no-such-program-here` could not start: No such file or directory"


def test_history_conditions() -> None:
    def with_previous(status, succeeded=None):
        return {"previous_status": status, "previous_time": MONDAY - timedelta(hours=1), "last_success_time": succeeded}

    assert [
        decide(skips.previous_failed(), **with_previous(s)) for s in ("ok", "failed", "error", "skipped", None)
    ] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert [decide(skips.previous_succeeded(), **with_previous(s)) for s in ("ok", "failed", "skipped", None)] == [
        True,
        False,
        False,
        False,
    ]
    today = skips.succeeded_today()
    assert decide(today, **with_previous("failed", MONDAY.replace(hour=0, minute=5))) is True
    assert decide(today, **with_previous("ok", MONDAY - timedelta(days=1))) is False
    assert decide(today, **with_previous(None)) is False


def test_the_journal_is_read_once_and_only_when_a_condition_needs_it() -> None:
    calls = []

    def history():
        calls.append(1)
        return "failed", MONDAY - timedelta(hours=1), None

    context = RunContext("ns", "t", "r", MONDAY, MONDAY, history=history)
    assert skips.weekend().evaluate(context) is False
    assert calls == []
    assert skips.previous_failed().evaluate(context) is True
    assert skips.previous_succeeded().evaluate(context) is False
    assert (context.previous_status, calls) == ("failed", [1])


def test_combinations() -> None:
    weekend, late = skips.weekend(), skips.outside_hours("09:00", "17:00")
    saturday_noon = MONDAY.replace(day=28, hour=12)
    monday_night = MONDAY.replace(hour=22)
    assert [decide(skips.any_of(weekend, late), m) for m in (MONDAY, saturday_noon, monday_night)] == [
        False,
        True,
        True,
    ]
    assert [
        decide(skips.all_of(weekend, late), m) for m in (MONDAY, saturday_noon, saturday_noon.replace(hour=22))
    ] == [
        False,
        False,
        True,
    ]
    assert [decide(skips.not_(weekend), m) for m in (MONDAY, saturday_noon)] == [True, False]
    assert decide(skips.any_of([weekend, late]), monday_night) is True


def test_any_of_stops_at_the_first_condition_that_decides(tmp_path: Path) -> None:
    broken = skips.on_dates_in_file(tmp_path / "missing.txt")
    assert decide(skips.any_of(skips.weekdays(), broken), MONDAY) is True
    with pytest.raises(RunError):
        decide(skips.any_of(skips.weekend(), broken), MONDAY)


@pytest.mark.parametrize(
    "condition, description",
    [
        (skips.weekend(), "weekend (Saturday or Sunday)"),
        (skips.weekdays(), "weekday (Monday to Friday)"),
        (skips.on_dates(["2026-12-25"]), "on 2026-12-25"),
        (skips.on_dates(["2026-12-26", "2026-12-25", "2026-12-31"]), "on 2026-12-25, 2026-12-26 or 2026-12-31"),
        (skips.on_dates([date(2026, 1, d) for d in range(1, 13)]), "on one of 12 dates from 2026-01-01 to 2026-01-12"),
        (skips.on_dates_in_file("/etc/holidays"), "on a date listed in /etc/holidays"),
        (skips.outside_hours("9:00", "17:00"), "outside 09:00-17:00"),
        (skips.inside_hours(time(22, 0), "06:30"), "inside 22:00-06:30"),
        (skips.file_exists("/data/lock"), "file /data/lock exists"),
        (skips.file_missing("/data/in.csv"), "file /data/in.csv is missing"),
        (skips.env_set("MAINTENANCE"), "environment variable MAINTENANCE is set"),
        (skips.env_equals("MODE", "off"), "environment variable MODE is 'off'"),
        (skips.command_succeeds(["test", "-e", "/data/ready file"]), "command `test -e '/data/ready file'` succeeds"),
        (skips.command_fails(["ping", "-c1", "db"]), "command `ping -c1 db` fails"),
        (skips.previous_failed(), "the previous run failed"),
        (skips.previous_succeeded(), "the previous run succeeded"),
        (skips.succeeded_today(), "already succeeded today"),
        (
            skips.any_of(skips.weekend(), skips.outside_hours("09:00", "17:00")),
            "weekend (Saturday or Sunday) or outside 09:00-17:00",
        ),
        (
            skips.any_of(skips.weekend(), skips.all_of(skips.env_set("A"), skips.file_missing("/x"))),
            "weekend (Saturday or Sunday) or (environment variable A is set and file /x is missing)",
        ),
        (skips.not_(skips.file_exists("/data/ready")), "not (file /data/ready exists)"),
    ],
)
def test_descriptions(condition: Condition, description: str) -> None:
    assert condition.description == description
    assert Condition.from_spec(condition.to_spec()).description == description


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: skips.outside_hours("25:00", "17:00"),
            "skips.outside_hours: start '25:00' is not a time of day; write it as 'HH:MM' (24-hour clock),"
            " such as '09:00' or '17:30'",
        ),
        (
            lambda: skips.inside_hours("09:00", 17),
            "skips.inside_hours: end 17 is not a time of day; write it as 'HH:MM' (24-hour clock), such as"
            " '09:00' or '17:30'",
        ),
        (
            lambda: skips.inside_hours("09:00", "9:00"),
            "skips.inside_hours: start and end are both 09:00, so the window is empty; give different"
            " times (a window may cross midnight: '22:00' to '06:00')",
        ),
        (
            lambda: skips.outside_hours(time(9, 0, 30), "17:00"),
            "skips.outside_hours: start 09:00:30 has seconds; runs are judged by their minute, so give"
            " hours and minutes: '09:00'",
        ),
        (
            lambda: skips.on_dates("2026-12-25"),
            "skips.on_dates: dates must be a list of dates such as ['2026-12-25', '2026-12-26'], not str"
            " '2026-12-25'\nFor dates kept in a file, use skips.on_dates_in_file(path).",
        ),
        (
            lambda: skips.on_dates([]),
            "skips.on_dates: dates is an empty list, so it would never skip; give at least one date",
        ),
        (
            lambda: skips.on_dates(["2026-12-25", "2026-02-30"]),
            "skips.on_dates: dates[1] '2026-02-30' is not a date; give datetime.date objects or ISO dates"
            " such as '2026-12-25'",
        ),
        (
            lambda: skips.on_dates([datetime(2026, 12, 25, 8, 0)]),
            "skips.on_dates: dates[0] is a datetime (datetime.datetime(2026, 12, 25, 8, 0)); give the day"
            " only: '2026-12-25'",
        ),
        (lambda: skips.file_missing(""), "skips.file_missing: path must be a file path such as '/data/in.csv', not ''"),
        (
            lambda: skips.env_set("1X"),
            "skips.env_set: name '1X' is not an environment variable name; use letters, digits and '_', not"
            " starting with a digit, such as 'MAINTENANCE'",
        ),
        (
            lambda: skips.env_equals("MODE", 1),
            "skips.env_equals: value must be a string (environment values are text), not int 1; write '1'",
        ),
        (
            lambda: skips.command_succeeds("test -e /x"),
            "skips.command_succeeds: argv must be a list of arguments such as ['test', '-e', '/data/ready'],"
            " not the string 'test -e /x'; no shell reads it, so split it into its words",
        ),
        (
            lambda: skips.command_fails([]),
            "skips.command_fails: argv must be a non-empty list of arguments such as ['test', '-e',"
            " '/data/ready'], not []",
        ),
        (
            lambda: skips.command_fails(["sleep", 5]),
            "skips.command_fails: argv[1] 5 must be a string without NUL bytes (convert numbers with str())",
        ),
        (
            lambda: skips.command_succeeds(["true"], timeout=0),
            "skips.command_succeeds: timeout must be a positive number of seconds, not 0",
        ),
        (lambda: skips.any_of(), "skips.any_of: give at least one condition, such as skips.any_of(skips.weekend())"),
        (
            lambda: skips.all_of(skips.weekend(), lambda: True),
            "skips.all_of: condition 2 is a function; it combines conditions from orchestration.skips only\n"
            "To combine your own function with them, write one function and give it to add_skip:"
            " task.add_skip(lambda ctx: is_holiday(ctx) or skips.weekend().evaluate(ctx)).",
        ),
        (
            lambda: skips.not_([skips.weekend(), skips.weekdays()]),
            "skips.not_: give one condition, not a list; to negate several, combine them first:"
            " skips.not_(skips.any_of(a, b))",
        ),
        (
            lambda: skips.not_(True),
            "skips.not_: condition 1 is bool True; it combines conditions from orchestration.skips only\n"
            "To combine your own function with them, write one function and give it to add_skip:"
            " task.add_skip(lambda ctx: is_holiday(ctx) or skips.weekend().evaluate(ctx)).",
        ),
    ],
)
def test_builders_refuse_wrong_arguments_at_the_call(build, message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        build()
    assert str(raised.value) == message


def test_a_condition_has_no_truth_value_of_its_own() -> None:
    with pytest.raises(TypeError, match=r"a skip condition \(weekend \(Saturday or Sunday\)\) has no truth value"):
        bool(skips.weekend())


class Runtime:
    """What a condition asks of its run (runtime.inputs.RunInputs), without a tasks file."""

    def context(self) -> RunContext:
        return at(MONDAY)

    def functions(self):
        raise AssertionError("a built-in condition must not import the tasks file")

    def note(self, message: str) -> None:
        raise AssertionError("a condition says nothing")


def test_manifest_entries_report_failures_with_the_condition_named(tmp_path: Path) -> None:
    entry = Skip("builtin", "on a date listed in /nope", condition=skips.on_dates_in_file("/nope").to_spec())
    with pytest.raises(RunError) as raised:
        evaluate(entry, Runtime())
    assert str(raised.value) == (
        "skip condition 'on a date listed in /nope' failed: cannot read the dates file /nope: No such file or directory"
    )
    unknown = Skip("builtin", "later", condition={"type": "phase_of_moon"})
    with pytest.raises(RunError) as raised:
        evaluate(unknown, Runtime())
    assert str(raised.value) == (
        "skip condition 'later' failed: the manifest has an unknown built-in skip condition"
        " 'phase_of_moon' (installed by another version of orchestration?); run `orchestration"
        " install TASKS_FILE` again"
    )
    assert evaluate(Skip("static", "add_skip(True)", value=True), Runtime()) is True
