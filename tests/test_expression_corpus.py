"""A corpus of generated cron expressions (valid and not): none ends in a traceback or exit 1;
each is accepted or refused with exit 2 and a message; every accepted one compiles on both
targets, its crontab line reads back as the same fields, and a sample previews exactly the
oracle's instants around the clock changes of 2026 and 2027 in zones that move by an hour, by half
an hour, and not at all."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from conftest import Project
from cron_oracle import runs
from orchestration.api import render
from orchestration.cli import main
from orchestration.compile.environment import Environment
from orchestration.define.schedule import parse_schedule
from orchestration.errors import ScheduleError
from orchestration.rules.instants import instants
from test_clock_rule import clock_changes

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def element(rng: random.Random, field: int) -> str:
    low, high = RANGES[field]
    a, b = rng.randint(low, high), rng.randint(low, high)
    kind = rng.random()
    if kind < 0.15:
        return "*"
    if kind < 0.3:
        return f"*/{rng.randint(1, max(2, high - low))}"
    if kind < 0.45:
        return str(a)
    if kind < 0.6:
        return f"{min(a, b)}-{max(a, b)}"
    if kind < 0.7:
        return f"{min(a, b)}-{max(a, b)}/{rng.randint(1, 5)}"
    if kind < 0.75:
        return f"{a}/{rng.randint(1, 9)}"
    if kind < 0.82:
        return f"{max(a, b)}-{min(a, b)}"  # reversed: wraps round
    if kind < 0.9 and field == 3:
        return rng.choice(MONTHS) + ("" if rng.random() < 0.5 else "-" + rng.choice(MONTHS))
    if kind < 0.9 and field == 4:
        return rng.choice(DAYS).upper() + ("" if rng.random() < 0.5 else "-" + rng.choice(DAYS))
    if kind < 0.95:
        return rng.choice(["L", "15W", "LW", "5#2", "1L", "?", "H", "x", "", "99", "3-", "*/0", "1-2-3"])
    return str(high + 1)  # out of range


def expression(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice(["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@reboot", "@sometimes"])
    fields = []
    for field in range(5):
        count = 1 if rng.random() < 0.7 else rng.randint(2, 3)
        fields.append(",".join(element(rng, field) for _ in range(count)))
    if rng.random() < 0.02:
        fields.append("0")  # six fields
    return " ".join(fields)


CORPUS = sorted({expression(random.Random(seed)) for seed in range(1400)})
ENVIRONMENT = Environment(
    exec_program="/bin/true",
    cli_program="/bin/true",
    python="/usr/bin/python3",
    path="/usr/bin:/bin",
    home="/root",
    state_dir=Path("/var/lib/orchestration"),
    zone="Europe/Berlin",
    year=2026,
)


def test_the_corpus_is_large_and_mixed() -> None:
    accepted = [text for text in CORPUS if _accepted(text)]
    assert len(CORPUS) > 1000
    assert 300 < len(accepted) < len(CORPUS) - 200


def _accepted(text: str) -> bool:
    try:
        parse_schedule(text)
    except ScheduleError:
        return False
    return True


def test_no_expression_ends_in_a_traceback_or_exit_1(project: Project) -> None:
    for text in CORPUS:
        tasks = project.write(
            f"o = Orchestrator(name='c')\no.add_task({text!r}, 'bash', name='t').add_script('record.sh')\n"
        )
        result = CliRunner().invoke(main, ["next", str(tasks), "-n", "3"])
        assert result.exit_code in (0, 2), (text, result.output, result.exception)
        assert "Traceback" not in result.output, text
        if result.exit_code == 2:
            assert result.output.startswith("Error: ") and "cron expression" in result.output, (text, result.output)


def test_every_accepted_expression_compiles_on_both_targets(project: Project) -> None:
    accepted = [text for text in CORPUS if _accepted(text)]
    body = "o = Orchestrator(name='c')\n" + "".join(
        f"o.add_task({text!r}, 'bash', name='t{index}').add_script('record.sh')\n"
        for index, text in enumerate(accepted)
    )
    tasks = project.write(body)
    crontab = render(tasks, "crontab", environment=ENVIRONMENT)["c.crontab"]
    units = render(tasks, "systemd", environment=ENVIRONMENT)
    assert len(units) == 2 * len(accepted)
    entries = [line for line in crontab.splitlines() if "# orchestration:c:" in line and not line.startswith("#")]
    for text, entry in zip(accepted, entries):
        schedule = parse_schedule(text)
        if "--gate" in entry or schedule.reboot:
            continue
        written = parse_schedule(" ".join(entry.split()[:5]))
        assert written.fields == schedule.fields, (text, entry)


SAMPLE = [text for text in CORPUS if _accepted(text) and not text.startswith("@reboot")][::3]
ZONES = ["Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


def _windows(zone: str) -> list[datetime]:
    return clock_changes(zone, (2026, 2027)) or [datetime(2026, 3, 29, 1, tzinfo=timezone.utc)]


@pytest.mark.parametrize("zone", ZONES)
def test_a_sample_previews_the_oracles_instants(zone: str) -> None:
    checked = 0
    for text in SAMPLE:
        schedule = parse_schedule(text)
        if schedule.fields.extended:
            continue  # the daemon does not read L, W or #: the gate runs them (test_clock_daemon)
        for change in _windows(zone):
            start, end = change - timedelta(hours=3), change + timedelta(hours=4)
            expected = sorted(set(runs(schedule.cron, zone, start, end)))
            ours = instants(schedule.fields, ZoneInfo(zone), start.timestamp() + 60, end.timestamp() + 1)
            assert ours == expected, (text, zone, change)
            checked += 1
    assert checked > 100
