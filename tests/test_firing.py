"""The daemon's rule from the manifest's fields (firing.py): the same minutes as Schedule.matches,
and the newest firing before a moment found by walking back through local time, daylight saving
changes included."""

from __future__ import annotations

import os
import time
from datetime import datetime

import pytest

from orchestration.define.schedule import parse_schedule
from orchestration.rules.firing import firings_between, previous_firing

EXPRESSIONS = [
    "* * * * *",
    "0 9 * * *",
    "*/15 2-4 * * mon-fri",
    "0 0 13 * fri",
    "30 1 * * *",
    "0 0 29 2 *",
    "5,10 */6 1-7 * 0",
]


@pytest.fixture
def zone():
    """Set the local time zone for the test (TZ), then put it back."""
    saved = os.environ.get("TZ")

    def set_zone(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    yield set_zone
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.fixture
def berlin(zone):
    """Local time in Europe/Berlin (CET/CEST)."""
    zone("Europe/Berlin")


def brute_previous(expression: str, before: float, window_days: int = 9) -> float | None:
    schedule = parse_schedule(expression)
    minute = int(before - before % 60)
    if minute >= before:
        minute -= 60
    for moment in range(minute, minute - window_days * 86400, -60):
        if schedule.matches(datetime.fromtimestamp(moment)):
            return float(moment)
    return None


@pytest.mark.parametrize("expression", [e for e in EXPRESSIONS if e != "0 0 29 2 *"])
def test_previous_firing_agrees_with_the_daemon_rule(berlin, expression: str) -> None:
    fields = parse_schedule(expression).fields
    for moment in ("2024-10-27T03:30:00", "2024-03-31T03:10:00", "2026-11-26T09:00:00", "2026-11-30T00:00:30"):
        before = datetime.fromisoformat(moment).timestamp()
        assert previous_firing(fields, before) == brute_previous(expression, before), (expression, moment)


def test_across_daylight_saving_changes(berlin) -> None:
    nightly = parse_schedule("30 1 * * *").fields
    # 27 October 2024: 03:00 CEST became 02:00 CET; 01:30 came once, in CEST (UTC+2).
    after_fall_back = datetime.fromisoformat("2024-10-27T02:30:00+01:00").timestamp()
    assert previous_firing(nightly, after_fall_back) == datetime.fromisoformat("2024-10-27T01:30:00+02:00").timestamp()
    # 31 March 2024: 02:00 CET became 03:00 CEST; a 02:30 firing does not exist that day.
    two_thirty = parse_schedule("30 2 * * *").fields
    after_spring_forward = datetime.fromisoformat("2024-03-31T04:00:00+02:00").timestamp()
    assert (
        previous_firing(two_thirty, after_spring_forward)
        == datetime.fromisoformat("2024-03-30T02:30:00+01:00").timestamp()
    )


def test_a_rare_schedule_is_found_years_back() -> None:
    leap = parse_schedule("0 0 29 2 *").fields
    before = datetime(2027, 3, 1).timestamp()
    assert previous_firing(leap, before) == datetime(2024, 2, 29).timestamp()


def test_firings_between_are_the_matching_minutes() -> None:
    schedule = parse_schedule("*/15 2-4 * * mon-fri")
    start = datetime(2026, 11, 26, 1, 50).timestamp()
    end = datetime(2026, 11, 26, 5, 0).timestamp()
    expected = [
        float(t) for t in range(int(start) + 60, int(end) + 1, 60) if schedule.matches(datetime.fromtimestamp(t))
    ]
    assert firings_between(schedule.fields, start, end) == expected
    assert len(expected) == 12


@pytest.mark.parametrize(
    ("name", "expression", "moments"),
    [
        # 6 October 2024: 02:00 became 02:30 (a half-hour change).
        ("Australia/Lord_Howe", "45 1 * * *", ["2024-10-06T04:00:00", "2024-10-06T02:40:00"]),
        ("Australia/Lord_Howe", "15,45 2 * * *", ["2024-10-06T03:10:00", "2024-04-07T03:00:00"]),
        # 29 September 2024: 02:45 became 03:45.
        ("Pacific/Chatham", "30 2 * * *", ["2024-09-29T05:00:00", "2024-09-29T04:00:00"]),
        ("Asia/Kolkata", "*/20 */5 * * *", ["2026-11-26T12:34:00"]),
    ],
)
def test_zones_whose_clocks_change_by_half_an_hour(zone, name: str, expression: str, moments: list[str]) -> None:
    zone(name)
    fields = parse_schedule(expression).fields
    for moment in moments:
        before = time.mktime(time.strptime(moment, "%Y-%m-%dT%H:%M:%S"))
        assert previous_firing(fields, before) == brute_previous(expression, before), (name, expression, moment)
