"""OnCalendar= translations checked against the oracles: the times `systemd-analyze calendar`
computes for the emitted lines, merged, must be the times croniter gives for the cron expression."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from croniter import croniter

from conftest import skip_or_fail
from orchestration.define.schedule import parse_schedule
from orchestration.targets.calendar import calendar_specs

# Both sides count from the same instant. Odd on purpose: mid-minute, late in a day, just before a
# leap day or a new year, where systemd has skipped elapses after a field wrapped around.
BASES = [
    datetime(2024, 2, 27, 21, 17, 30, tzinfo=timezone.utc),
    datetime(2025, 12, 31, 22, 41, 30, tzinfo=timezone.utc),
]
ITERATIONS = 200  # asked of systemd for each line
COMPARED = 150  # at most this many merged times are compared
# systemd computes no elapse after 2199, so sparse schedules yield fewer times; never fewer than:
FEWEST = 5

EXPRESSIONS = [
    # single values
    "0 0 * * *",
    "30 2 * * *",
    "59 23 31 12 *",
    "* * * * *",
    "5 * * * *",
    # lists (two-element lists stay lists; runs of three become ranges)
    "0,15,30,45 * * * *",
    "0,1 0 * * *",
    "1-2,4-6,8 * * * *",
    "0 1,13 * * *",
    "0 0 1,15 * *",
    "0 0 1,2 * *",
    "0 0 * 1,4,7,10 *",
    "0 0 * * 1,3,5",
    # ranges
    "0-10 * * * *",
    "0 9-17 * * *",
    "0 0 10-20 * *",
    "0 0 * 3-5 *",
    "0 9 * * 1-5",
    "0 0 * * 0-6",
    # steps over the whole field
    "*/5 * * * *",
    "*/7 * * * *",
    "0 */3 * * *",
    "0 0 */2 * *",
    "0 0 1 */3 *",
    "*/15 */6 * * *",
    "0 */5 * * *",
    "0 23 */11 * *",
    "0 0 1 */5 *",
    # steps over a range
    "10-40/10 * * * *",
    "0-59/20 * * * *",
    "0 8-20/4 * * *",
    "0 0 5-25/5 * *",
    "0 0 1 2-11/3 *",
    "0 0 * * 1-5/2",
    "0-5,30-35/5,50 * * * *",
    # steps from an offset
    "5/15 * * * *",
    "58/1 * * * *",
    "0 2/6 * * *",
    "0 0 3/7 * *",
    "0 0 1 2/4 *",
    "0 0 * * 1/2",
    # names in any case
    "0 0 * jan,JUL *",
    "0 0 * * MON-fri",
    "0 0 1 Feb-Apr *",
    "0 12 * * Sat,sun",
    "0 0 * dec sun",
    # 7 for Sunday
    "0 0 * * 7",
    "0 0 * * 5-7",
    "0 0 * * 0,7",
    # reversed ranges wrap around the end of the field
    "0 22 * * fri-mon",
    "0 0 * * sun-tue",
    "0 22-2 * * *",
    "50-10 * * * *",
    "0 20-4/2 * * *",
    "0 0 28-3 * *",
    "0 0 * nov-feb *",
    "0 0 * * sat-tue/2",
    # a-a is one value
    "5-5 * * * *",
    "0 3-3 * * *",
    "0 0 15-15 * *",
    "0 0 * * 2-2",
    # shortcuts
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@Weekly",
    "@daily",
    "@midnight",
    "@hourly",
    # both day fields restricted: a day matches either (OR)
    "0 0 1 * 1",
    "0 0 1,15 * mon-fri",
    "30 6 13 * fri",
    "0 0 1-7 * 0",
    "0 0 31 * sat",
    "0 12 1 jan,jul wed",
    "0 0 29 2 1",
    "0 0 1-31 * 1",
    "0 0 1 * 0-6",
    # a day field starting with '*' is unrestricted: both must match (AND)
    "0 0 */2 * 1",
    "0 0 */10 * sat,sun",
    "0 0 1 * */2",
    "0 0 */1 * 5",
    "0 12 29 2 */6",
    # months, month ends, leap day
    "0 0 15 1-3,10-12 *",
    "0 0 31 * *",
    "0 0 30 */2 *",
    "0 0 29 2 *",
]


def test_table_covers_enough_expressions() -> None:
    assert len(EXPRESSIONS) >= 60
    assert len(set(EXPRESSIONS)) == len(EXPRESSIONS)


@pytest.mark.parametrize("base", BASES, ids=lambda base: f"{base:%Y-%m-%d}")
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_systemd_fires_when_cron_does(expression: str, base: datetime) -> None:
    schedule = parse_schedule(expression)
    specs = calendar_specs(schedule.fields)
    per_line = [_systemd_times(spec, base) for spec in specs]
    # Each line is complete up to its last computed time, so the merge is complete up to the
    # earliest of those.
    horizon = min((times[-1] for times in per_line if len(times) == ITERATIONS), default=None)
    merged = sorted({t for times in per_line for t in times if horizon is None or t <= horizon})
    count = min(COMPARED, len(merged))
    assert count >= FEWEST, f"{specs} gave only {count} comparable times"
    cron_times = croniter(schedule.cron, base, implement_cron_bug=True)
    expected = [cron_times.get_next(datetime) for _ in range(count)]
    assert merged[:count] == expected, f"{expression!r} -> {specs}"


def _systemd_times(spec: str, base: datetime) -> list[datetime]:
    """The next elapses of one OnCalendar= value after `base`, in UTC; it must parse as written."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        skip_or_fail("systemd-analyze is not installed (Debian package 'systemd')")
    result = subprocess.run(
        [analyze, "calendar", f"--iterations={ITERATIONS}", f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC", spec],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TZ": "UTC", "LC_ALL": "C", "SYSTEMD_COLORS": "0"},
    )
    assert result.returncode == 0 and result.stderr == "", f"{spec!r}: {result.stderr}"
    assert f"Normalized form: {spec}\n" in result.stdout, result.stdout[:300]
    assert "Original form" not in result.stdout, f"systemd rewrites {spec!r}"
    return _elapses(result.stdout)


_ELAPSE = re.compile(r"^\s*(?:Next elapse|Iter\. #\d+|\(in UTC\)): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$", re.M)


def _elapses(output: str) -> list[datetime]:
    """The UTC times in `systemd-analyze calendar` output (lines in another zone are skipped)."""
    return [
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc) for text in _ELAPSE.findall(output)
    ]


def test_elapses_reads_local_and_utc_lines() -> None:
    output = (
        "Normalized form: *-*-* 22:00:00\n"
        "    Next elapse: Tue 2024-02-27 22:00:00 CET\n"
        "       (in UTC): Tue 2024-02-27 21:00:00 UTC\n"
        "       From now: 1 year ago\n"
        "       Iter. #2: Wed 2024-02-28 22:00:00 UTC\n"
    )
    assert _elapses(output) == [
        datetime(2024, 2, 27, 21, 0, tzinfo=timezone.utc),
        datetime(2024, 2, 28, 22, 0, tzinfo=timezone.utc),
    ]


@pytest.mark.parametrize(
    ("expression", "lines"),
    [
        ("0 22 * * fri-mon", ("Mon,Fri..Sun *-*-* 22:00:00",)),
        ("0 0 * * sun-tue", ("Mon,Tue,Sun *-*-* 00:00:00",)),
        ("0 22-2 * * *", ("*-*-* 00..02,22,23:00:00",)),
        ("0 0 1 * 1", ("*-*-01 00:00:00", "Mon *-*-* 00:00:00")),
        ("0 0 1,15 jan-mar mon-fri", ("*-01..03-01,15 00:00:00", "Mon..Fri *-01..03-* 00:00:00")),
        ("0 0 */2 * 1", ("Mon *-*-01..31/2 00:00:00",)),
        ("0 0 1-31 * 1", ("*-*-* 00:00:00",)),
        ("@weekly", ("Sun *-*-* 00:00:00",)),
        ("@hourly", ("*-*-* *:00:00",)),
        ("@yearly", ("*-01-01 00:00:00",)),
        ("*/5 * * * *", ("*-*-* *:00..55/5:00",)),
        ("*/7 * * * *", ("*-*-* *:00..56/7:00",)),
        ("10-40/10 * * * *", ("*-*-* *:10..40/10:00",)),
        ("0,30 * * * *", ("*-*-* *:00,30:00",)),
        ("5/15 * * * *", ("*-*-* *:05..50/15:00",)),
        ("0 0 1 */3 *", ("*-01..10/3-01 00:00:00",)),
        ("0 0 29 2 *", ("*-02-29 00:00:00",)),
    ],
)
def test_exact_lines(expression: str, lines: tuple[str, ...]) -> None:
    assert calendar_specs(parse_schedule(expression).fields) == lines
