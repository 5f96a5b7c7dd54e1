"""systemd's own reading of the timers we write (`systemd-analyze calendar` on every OnCalendar=
line, the dated ones for clock changes included), filtered by the shim's gate where the unit calls
it, fires exactly the instants of the oracle (cron_oracle) around the clock changes of 2026."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import Project, skip_or_fail
from cron_oracle import runs
from orchestration.api import render
from orchestration.compile.environment import Environment
from orchestration.compile.manifest import Timing
from orchestration.define.schedule import parse_schedule
from orchestration.runtime.gate import admits

CHANGES = {
    "Europe/Berlin": [datetime(2026, 3, 29, 1, tzinfo=timezone.utc), datetime(2026, 10, 25, 1, tzinfo=timezone.utc)],
    "America/New_York": [datetime(2026, 3, 8, 7, tzinfo=timezone.utc), datetime(2026, 11, 1, 6, tzinfo=timezone.utc)],
    "Australia/Lord_Howe": [
        datetime(2026, 4, 4, 15, tzinfo=timezone.utc),
        datetime(2026, 10, 3, 15, 30, tzinfo=timezone.utc),
    ],
}
EXPRESSIONS = [
    "30 2 * * *",
    "0 2 * * *",
    "15,45 2 * * *",
    "45 1 * * *",
    "15 2 * * *",
    "0 * * * *",
    "*/15 * * * *",
    "*/10 1-3 * * *",
    "0 */2 * * *",
    "5-50/15 2 * * *",
    "0 2 * * sun",
    "0 0 * * *",
]
CASES = [(zone, change) for zone, changes in CHANGES.items() for change in changes]
_UTC = re.compile(r"^\s*(?:Next elapse|Iter\. #\d+|\(in UTC\)): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$", re.M)


def environment(state: Path, machine_zone: str) -> Environment:
    return Environment(
        exec_program="/bin/true",
        cli_program="/bin/true",
        python="/usr/bin/python3",
        path="/usr/bin:/bin",
        home="/root",
        state_dir=state,
        zone=machine_zone,
        year=2026,
    )


def timers(project: Project, state: Path, machine_zone: str, zone: str | None) -> dict[str, tuple[list[str], bool]]:
    """Each task's OnCalendar= values, and whether its unit calls the shim with --gate."""
    where = f", timezone={zone!r}" if zone else ""
    body = "o = Orchestrator(name='clock')\n" + "".join(
        f"o.add_task({expression!r}, 'bash', name='t{index}'{where}).add_script('record.sh')\n"
        for index, expression in enumerate(EXPRESSIONS)
    )
    units = render(project.write(body), "systemd", environment=environment(state, machine_zone))
    found = {}
    for index in range(len(EXPRESSIONS)):
        timer = units[f"orchestration-clock-t{index}.timer"]
        service = units[f"orchestration-clock-t{index}.service"]
        found[EXPRESSIONS[index]] = (re.findall(r"^OnCalendar=(.+)$", timer, re.M), "--gate" in service)
    return found


def systemd_fires(lines: list[str], machine_zone: str, start: datetime, end: datetime) -> list[float]:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        skip_or_fail("systemd-analyze is not installed (Debian package 'systemd')")
    result = subprocess.run(
        [analyze, "calendar", "--iterations=150", f"--base-time={start:%Y-%m-%d %H:%M:%S} UTC", *lines],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TZ": machine_zone, "LC_ALL": "C", "SYSTEMD_COLORS": "0"},
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    moments = {
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
        for text in _UTC.findall(result.stdout)
    }
    return sorted(t for t in moments if start.timestamp() < t <= end.timestamp())


@pytest.mark.parametrize(("zone", "change"), CASES, ids=[f"{z}-{c:%Y-%m-%d}" for z, c in CASES])
@pytest.mark.parametrize("placement", ["machine", "task"])
def test_systemd_fires_the_rules_instants(
    project: Project, state_home: Path, zone: str, change: datetime, placement: str
) -> None:
    """`machine`: tasks without a zone on a machine in `zone`; `task`: tasks in `zone` on a UTC
    machine (their lines carry the zone)."""
    machine_zone = zone if placement == "machine" else "UTC"
    start, end = change - timedelta(hours=3), change + timedelta(hours=4)
    for expression, (lines, gated) in timers(
        project, state_home, machine_zone, None if placement == "machine" else zone
    ).items():
        fired = systemd_fires(lines, machine_zone, start, end)
        if gated:
            schedule = parse_schedule(expression)
            timing = Timing(expression, schedule.cron, "", schedule.fields, zone)
            fired = [t for t in fired if admits(timing, t, machine_zone)]
        expected = sorted(set(runs(expression, zone, start, end)))
        assert fired == expected, (expression, lines, _local(zone, fired), _local(zone, expected))


def _local(zone: str, moments: list[float]) -> list[str]:
    return [datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%m-%d %H:%M%z") for t in moments]
