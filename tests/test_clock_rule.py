"""The clock-change rule (rules.instants) against the oracle (cron_oracle: cron.c's main loop on a
simulated clock, fields read by croniter): around every clock change of 2026 and 2027 in zones
that move by an hour and by half an hour, and in zones that do not move, the instants are the
daemon's, fixed-time and wildcard entries alike."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from cron_oracle import runs
from orchestration.define.schedule import parse_schedule
from orchestration.rules.instants import instants, is_instant, next_instants, previous_instant

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]

EXPRESSIONS = [
    "30 2 * * *",  # fixed, in Berlin's and New York's skipped and repeated hours
    "0 2 * * *",
    "59 1 * * *",
    "0 3 * * *",
    "15,45 2 * * *",
    "45 1 * * *",  # Lord Howe's repeated half hour
    "15 2 * * *",  # Lord Howe's skipped half hour
    "0 * * * *",  # wildcard (the hour starts with *)
    "@hourly",
    "*/15 * * * *",
    "*/10 1-3 * * *",
    "0 */2 * * *",
    "30 */1 * * *",
    "5-50/15 2 * * *",
    "0 0-4 * * *",
    "* 2 * * *",
    "0 2 * * sun",
    "30 2 * 3,10 *",
    "0 2 29 3 *",
    "30 1 * * 0",
    "0 2 1-7 * 0",
    "*/5 * * * 0",
    "0 0 * * *",
    "30 3 * * *",
]


def clock_changes(zone_name: str, years: tuple[int, ...] = (2026, 2027)) -> list[datetime]:
    """The zone's clock changes, found hour by hour and then to the minute."""
    zone, found = ZoneInfo(zone_name), []
    moment = datetime(years[0], 1, 1, tzinfo=timezone.utc)
    end = datetime(years[-1] + 1, 1, 1, tzinfo=timezone.utc)
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        later = moment + timedelta(hours=1)
        if later.astimezone(zone).utcoffset() != offset:
            minute = moment
            while minute.astimezone(zone).utcoffset() == offset:
                minute += timedelta(minutes=1)
            found.append(minute)
            offset = later.astimezone(zone).utcoffset()
        moment = later
    return found


WINDOWS = [
    (zone, change)
    for zone in ZONES
    for change in (clock_changes(zone) or [datetime(2026, 3, 29, 1, tzinfo=timezone.utc)])
]


def test_the_zones_change_their_clocks_as_the_tests_expect() -> None:
    assert len(clock_changes("Europe/Berlin")) == 4
    assert len(clock_changes("Australia/Lord_Howe")) == 4  # by half an hour
    assert clock_changes("Asia/Kolkata") == clock_changes("UTC") == []


@pytest.mark.parametrize(("zone", "change"), WINDOWS, ids=[f"{z}-{c:%Y-%m-%d}" for z, c in WINDOWS])
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_instants_are_the_daemons_around_each_clock_change(zone: str, change: datetime, expression: str) -> None:
    start, end = change - timedelta(hours=3), change + timedelta(hours=4)
    expected = sorted(set(runs(expression, zone, start, end)))
    fields = parse_schedule(expression).fields
    # The oracle's first wake-up is the minute after `start`; the window ends with `end`'s minute.
    ours = instants(fields, ZoneInfo(zone), start.timestamp() + 60, end.timestamp() + 1)
    assert ours == expected, _shown(zone, ours, expected)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("expression", ["30 2 * * *", "0 * * * *", "*/10 1-3 * * *", "15,45 2 * * *"])
def test_next_and_previous_walk_the_same_instants(zone: str, expression: str) -> None:
    fields, where = parse_schedule(expression).fields, ZoneInfo(zone)
    for change in clock_changes(zone):
        start, end = change - timedelta(hours=6), change + timedelta(hours=18)
        expected = sorted(set(runs(expression, zone, start, end)))
        assert next_instants(fields, where, start.timestamp(), len(expected)) == expected
        for before, after in itertools.pairwise(expected):
            assert previous_instant(fields, where, after) == before
            assert is_instant(fields, where, after + 30)
        assert not any(is_instant(fields, where, moment) for moment in _between(start, end, expected))


def _between(start: datetime, end: datetime, instants_: list[float]) -> list[float]:
    """Minutes of the window that are not instants (a sample: every seventh)."""
    taken = set(instants_)
    moment = start.timestamp() // 60 * 60 + 60
    return [m for m in range(int(moment), int(end.timestamp()), 420) if m not in taken]


def test_the_table_of_the_documentation() -> None:
    """docs/schedules.md: what happens on the clock changes of 2026 in Berlin."""
    berlin = ZoneInfo("Europe/Berlin")

    def on(expression: str, day: str) -> list[str]:
        start = datetime.fromisoformat(day).replace(tzinfo=berlin)
        found = instants(
            parse_schedule(expression).fields, berlin, start.timestamp(), (start + timedelta(days=1)).timestamp()
        )
        return [
            datetime.fromtimestamp(t, berlin).strftime("%H:%M%z")
            for t in found
            if 1 <= datetime.fromtimestamp(t, berlin).hour <= 3
        ]

    assert on("30 2 * * *", "2026-03-29") == ["03:00+0200"]
    assert on("30 2 * * *", "2026-10-25") == ["02:30+0200"]
    assert on("0 * * * *", "2026-10-25") == ["01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100"]
    assert on("0 */2 * * *", "2026-03-29") == []


def _shown(zone: str, ours: list[float], expected: list[float]) -> str:
    where = ZoneInfo(zone)

    def local(moments: list[float]) -> list[str]:
        return [datetime.fromtimestamp(t, where).strftime("%m-%d %H:%M%z") for t in moments]

    return f"ours {local(ours)} != daemon's {local(expected)}"


def test_catch_up_looks_for_the_firing_the_daemon_would_have_made() -> None:
    from orchestration.compile.manifest import Timing
    from orchestration.runtime.catchup import MISSED, RAN, missed_firing

    berlin = ZoneInfo("Europe/Berlin")
    schedule = parse_schedule("30 2 * * *")
    timing = Timing("30 2 * * *", schedule.cron, "", schedule.fields, "Europe/Berlin")
    long_ago = datetime(2026, 1, 1, tzinfo=berlin).timestamp()
    # Spring: the 02:30 firing happened at 03:00, right after the jump.
    boot = datetime(2026, 3, 29, 5, 0, tzinfo=berlin).timestamp()
    at_three = datetime(2026, 3, 29, 3, 0, tzinfo=berlin).timestamp()
    assert missed_firing(timing, "UTC", boot, long_ago, None) == (MISSED, at_three)
    # Fall: 02:30 came twice on the clock, but the daemon ran it once; that run covers both.
    boot = datetime(2026, 10, 25, 4, 0, tzinfo=berlin).timestamp()
    first = datetime(2026, 10, 25, 2, 30, tzinfo=berlin).timestamp()  # fold=0: CEST
    assert missed_firing(timing, "UTC", boot, long_ago, first) == (RAN, first)


def _quartz_days(year: int) -> dict[str, set[str]]:
    """The days of `year` that L, 15W, LW, mon#1 and fri-L mean, found with the calendar module."""
    import calendar

    found: dict[str, set[str]] = {"L": set(), "15W": set(), "LW": set(), "1#1": set(), "5L": set()}
    for month in range(1, 13):
        last = calendar.monthrange(year, month)[1]
        days = [datetime(year, month, day) for day in range(1, last + 1)]
        weekdays = [day for day in days if day.weekday() < 5]
        found["L"].add(days[-1].strftime("%F"))
        found["LW"].add(weekdays[-1].strftime("%F"))
        fifteenth = days[14]
        nearest = min(weekdays, key=lambda day: (abs((day - fifteenth).days), day))
        found["15W"].add(nearest.strftime("%F"))
        found["1#1"].add(next(day for day in days if day.weekday() == 0).strftime("%F"))
        found["5L"].add(next(day for day in reversed(days) if day.weekday() == 4).strftime("%F"))
    return found


@pytest.mark.parametrize(
    ("expression", "key"),
    [("0 18 L * *", "L"), ("0 9 15W * *", "15W"), ("0 9 LW * *", "LW"), ("0 9 * * mon#1", "1#1"), ("0 9 * * 5L", "5L")],
)
def test_extended_days_are_quartzs(expression: str, key: str) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    fields = parse_schedule(expression).fields
    start, end = datetime(2027, 1, 1, tzinfo=berlin), datetime(2028, 1, 1, tzinfo=berlin)
    days = {
        datetime.fromtimestamp(t, berlin).strftime("%F")
        for t in instants(fields, berlin, start.timestamp(), end.timestamp())
    }
    assert days == _quartz_days(2027)[key]
