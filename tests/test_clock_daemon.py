"""The real cron daemon (Debian's cron) on a fake clock (libfaketime, 60 times faster) across the
clock changes of 2026, firing installed tasks through the shim: every task runs at exactly the
instants of the oracle (cron_oracle), and the shim records those instants as the scheduled times.
Tasks in a zone of their own run on a machine in another zone through a superset of crontab times
and the shim's gate."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, skip_or_fail, start_cron, stop_cron, wait_for, write_crontab
from cron_oracle import runs
from orchestration.cli import main
from orchestration.runtime.journal import Journal

pytestmark = [pytest.mark.cron_daemon, pytest.mark.usefixtures("sandbox")]

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SPEED = 60  # a fake minute is a real second


class FakeClockCron:
    """Debian's cron in the foreground under libfaketime, its jobs on the same fake clock."""

    def __init__(self, zone: str, start: datetime, workdir: Path) -> None:
        self.zone, self.start, self.workdir = zone, start, workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.shared = ""
        self.faketime = ""

    def _clock(self) -> str:
        """An offset from now, in seconds: unlike a local start time, never ambiguous in a
        repeated hour."""
        offset = round(self.start.timestamp() - time.time())
        return f"{offset:+d}s x{SPEED}"

    def environment_lines(self) -> str:
        """What the crontab gives its jobs so that they see the daemon's clock and zone."""
        return (
            f"LD_PRELOAD={LIBFAKETIME}\nFAKETIME={self.faketime}\nFAKETIME_SHARED={self.shared}\n"
            f"FAKETIME_DONT_RESET=1\nTZ={self.zone}\n"
        )

    def prepare(self) -> None:
        """Start faketime's clock (its shared memory names are needed in the crontab)."""
        marker = self.workdir / "shared"
        environment = {**os.environ, "TZ": self.zone, "FAKETIME_DONT_RESET": "1"}
        self.faketime = self._clock()
        self.process = subprocess.Popen(
            [
                "faketime",
                "-f",
                self.faketime,
                "bash",
                "-c",
                f'echo "$FAKETIME_SHARED" > {marker}; read -r _; exec /usr/sbin/cron -f',
            ],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert wait_for(lambda: marker.exists() and marker.read_text().strip(), 10)
        self.shared = marker.read_text().strip()

    def go(self) -> None:
        """Let the daemon start, on the fake clock, with the crontab written by now."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.close()

    def now(self) -> float:
        """The fake clock's time."""
        result = subprocess.run(
            ["date", "+%s"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "LD_PRELOAD": LIBFAKETIME,
                "FAKETIME": self.faketime,
                "TZ": self.zone,
                "FAKETIME_SHARED": self.shared,
                "FAKETIME_DONT_RESET": "1",
            },
        )
        return float(result.stdout.strip())

    def stop(self) -> None:
        """Stop the daemon and what it started (faketime runs it as a child)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(10)
        wait_for(lambda: not Path("/run/crond.pid").exists() or not _alive(Path("/run/crond.pid")), 10)


def _alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture
def fake_clock(tmp_path: Path) -> Iterator[type[FakeClockCron]]:
    if shutil.which("faketime") is None or not os.path.exists(LIBFAKETIME):
        skip_or_fail("libfaketime is not installed (Debian: apt-get install faketime)")
    if not os.path.exists("/usr/sbin/cron"):
        skip_or_fail("no cron daemon installed (Debian: apt-get install cron)")
    stop_cron()  # the sandbox's own daemon: one daemon per spool
    started: list[FakeClockCron] = []

    class Started(FakeClockCron):
        def __init__(self, zone: str, start: datetime) -> None:
            super().__init__(zone, start, tmp_path)
            started.append(self)

    yield Started
    for daemon in started:
        daemon.stop()
    start_cron()


TASKS = {
    "fixed0230": "30 2 * * *",
    "fixed0200": "0 2 * * *",
    "fixed0245": "15,45 2 * * *",
    "hourly": "0 * * * *",
    "every20": "*/20 1-3 * * *",
    "wildcard02": "5 */1 * * *",
}


def tasks_file(project: Project, tasks: dict[str, tuple[str, str | None]]) -> Path:
    lines = ["o = Orchestrator(name='clock')"]
    for name, (expression, zone) in tasks.items():
        where = f", timezone={zone!r}" if zone else ""
        lines.append(f"o.add_task({expression!r}, 'bash', name={name!r}{where}).add_script('record.sh')")
    return project.write("\n".join(lines) + "\n")


def recorded(state: Path, task: str, end: datetime) -> list[float]:
    """The scheduled times of the task's runs, up to `end` (the daemon runs a little longer)."""
    journal = Journal(state / "journal.sqlite3")
    try:
        times = [run.scheduled_time for run in journal.runs(namespace="clock", task=task)]
    finally:
        journal.close()
    return sorted(t for t in times if t is not None and t <= end.timestamp())


def fire_across(
    fake_clock,
    project: Project,
    state: Path,
    machine_zone: str,
    change: datetime,
    tasks: dict[str, tuple[str, str | None]],
    after: timedelta,
) -> tuple[datetime, datetime]:
    """Install `tasks`, run the fake-clock daemon from 2 minutes before `change` to `after` past
    it; the window the oracle should be asked about."""
    start, end = change - timedelta(minutes=2), change + after
    daemon = fake_clock(machine_zone, start)
    daemon.prepare()
    write_crontab(daemon.environment_lines())
    result = CliRunner().invoke(main, ["install", str(tasks_file(project, tasks)), "--backend", "crontab"])
    assert result.exit_code == 0, result.output
    daemon.go()
    real_seconds = (end - start).total_seconds() / SPEED
    assert wait_for(lambda: daemon.now() >= end.timestamp() + 30, real_seconds + 30)
    time.sleep(2)  # the last shims finish
    daemon.stop()
    return start, end


def expected_runs(expression: str, zone: str, start: datetime, end: datetime) -> list[float]:
    """The distinct instants the daemon starts the entry at (it starts a fixed-time entry once for
    each of its times a jump skips, all right after the jump: one instant)."""
    return sorted({t for t in runs(expression, zone, start, end) if t <= end.timestamp()})


CHANGES_2026 = {
    "Europe/Berlin": (datetime(2026, 3, 29, 1, tzinfo=timezone.utc), datetime(2026, 10, 25, 1, tzinfo=timezone.utc)),
    "America/New_York": (datetime(2026, 3, 8, 7, tzinfo=timezone.utc), datetime(2026, 11, 1, 6, tzinfo=timezone.utc)),
    "Australia/Lord_Howe": (
        datetime(2026, 10, 3, 15, 30, tzinfo=timezone.utc),
        datetime(2026, 4, 4, 15, tzinfo=timezone.utc),
    ),
}


@pytest.mark.parametrize("zone", list(CHANGES_2026))
@pytest.mark.parametrize("season", ["spring", "fall"])
def test_the_daemon_runs_the_rules_instants_across_a_clock_change(
    fake_clock, project: Project, state_home: Path, zone: str, season: str
) -> None:
    forward, back = CHANGES_2026[zone]
    change = forward if season == "spring" else back
    tasks = {name: (expression, None) for name, expression in TASKS.items()}
    after = timedelta(minutes=8) if season == "spring" else timedelta(minutes=68)
    start, end = fire_across(fake_clock, project, state_home, zone, change, tasks, after)
    for name, expression in TASKS.items():
        assert sorted(set(recorded(state_home, name, end))) == expected_runs(expression, zone, start, end), name


@pytest.mark.parametrize(
    ("machine", "task_zone", "change"),
    [
        ("UTC", "Europe/Berlin", CHANGES_2026["Europe/Berlin"][0]),
        ("UTC", "America/New_York", CHANGES_2026["America/New_York"][1]),
        ("Europe/Berlin", "America/New_York", CHANGES_2026["America/New_York"][0]),
    ],
)
def test_a_task_in_its_own_zone_runs_its_zones_instants_through_the_gate(
    fake_clock, project: Project, state_home: Path, machine: str, task_zone: str, change: datetime
) -> None:
    tasks = {
        "fixed": ("30 2 * * *", task_zone),
        "hourly": ("0 * * * *", task_zone),
        "every20": ("*/20 * * * *", task_zone),
    }
    start, end = fire_across(fake_clock, project, state_home, machine, change, tasks, timedelta(minutes=68))
    for name, (expression, zone) in tasks.items():
        assert sorted(set(recorded(state_home, name, end))) == expected_runs(expression, zone or machine, start, end), (
            name
        )
