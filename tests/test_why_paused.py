"""A paused task, or one skipped otherwise: `why` judges the pause as a run at that minute would
(with the reason the run records), and `orchestration run` of such a task says on stderr what
happened and how to run it anyway, while the scheduler's firings stay quiet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import Project, manifest_file, wait_for
from orchestration.runtime.journal import Journal
from test_journal import cli, fire, install

PROGRAM = str(Path(sys.executable).with_name("orchestration"))
EXEC = str(Path(sys.executable).with_name("orchestration-exec"))

TASKS = """
from orchestration import skips
o = Orchestrator(name='ns')
o.add_task('0 * * * *', 'bash', name='hourly').add_script('record.sh').add_skip(skips.on_dates(['2020-01-01']))
o.add_task('0 1 * * *', 'bash', name='off').add_script('record.sh').add_skip(True)
o.add_task('0 1 * * *', 'bash', name='hold').add_script('hold.sh')
"""

# Runs until the file 'release' appears.
HOLD = "#!/bin/bash\ntouch started\nwhile [ ! -e release ]; do sleep 0.05; done\n"


@pytest.fixture
def installed(real_crontab, project: Project, state_home: Path, monkeypatch: pytest.MonkeyPatch):
    """The tasks installed, local time UTC (so printed offsets are known)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    (project.root / "hold.sh").write_text(HOLD)
    install(project, TASKS)
    yield
    monkeypatch.undo()
    time.tzset()


def hours_from_now(hours: int) -> datetime:
    """The start of the hour `hours` after the current one, in UTC."""
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(hours=hours)


def minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def run_by_hand(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROGRAM, "run", *args], capture_output=True, text=True)


def test_why_says_a_paused_task_is_skipped_as_its_run_is(installed, state_home: Path) -> None:
    at = hours_from_now(1)
    assert cli("pause", "ns/hourly").exit_code == 0
    assert cli("why", "ns/hourly", "--at", minute(at)).output.splitlines() == [
        f"ns/hourly at {at:%Y-%m-%d %H:%M} +0000 ({at:%A})",
        "  schedule: fires at this minute (0 * * * *: at minute 0 of every hour)",
        "  pause: paused; `orchestration resume ns/hourly` ends it",
        "  1. skip if on 2020-01-01: no (not checked at run time: the pause decides first)",
        "Would be skipped: paused.",
    ]
    explained = json.loads(cli("why", "ns/hourly", "--at", minute(at), "--json").output)
    assert (explained["outcome"], explained["would_run"], explained["reason"]) == ("skipped", False, "paused")
    assert (explained["paused"], explained["conditions_outcome"]) == ({"scope": "ns/hourly", "until": None}, "run")
    assert fire(state_home, "ns", "hourly").returncode == 0
    run = json.loads(cli("history", "ns/hourly", "--json").output)[-1]
    assert (run["status"], run["reason"]) == ("skipped", explained["reason"])


def test_why_counts_a_pause_only_until_it_ends(installed, state_home: Path) -> None:
    until = hours_from_now(2)
    assert cli("pause", "ns", "--until", minute(until)).exit_code == 0
    reason = f"paused (namespace ns) until {until:%Y-%m-%d %H:%M:%S} +0000"
    during = json.loads(cli("why", "ns/hourly", "--at", minute(until - timedelta(hours=1)), "--json").output)
    assert (during["outcome"], during["reason"]) == ("skipped", reason)
    assert during["paused"] == {"scope": "ns", "until": until.isoformat()}
    for after in (until, until + timedelta(hours=1)):
        lines = cli("why", "ns/hourly", "--at", minute(after)).output.splitlines()
        assert lines[2:] == ["  1. skip if on 2020-01-01: no", "Would run."]
    off_schedule = cli("why", "ns/hourly", "--at", minute(until - timedelta(minutes=30))).output.splitlines()
    assert off_schedule[-1] == (
        f"Would not run: the schedule does not fire at this minute; a run at this minute would be skipped: {reason}."
    )
    assert fire(state_home, "ns", "hourly").returncode == 0
    assert json.loads(cli("history", "ns/hourly", "--json").output)[-1]["reason"] == reason


def test_a_run_by_hand_of_a_paused_task_says_so_and_a_firing_stays_quiet(installed, state_home: Path) -> None:
    assert cli("pause", "ns/hourly").exit_code == 0
    by_hand = run_by_hand("ns/hourly")
    assert (by_hand.returncode, by_hand.stdout) == (0, "")
    assert by_hand.stderr == (
        "orchestration ns/hourly: skipped: paused; `orchestration resume ns/hourly` or"
        " `orchestration run --ignore-skips ns/hourly` runs it\n"
    )
    until = hours_from_now(3)
    assert cli("pause", "ns", "--until", minute(until)).exit_code == 0
    assert run_by_hand("ns/off").stderr == (
        f"orchestration ns/off: skipped: paused (namespace ns) until {until:%Y-%m-%d %H:%M:%S} +0000;"
        " `orchestration resume ns` or `orchestration run --ignore-skips ns/off` runs it\n"
    )
    fired = fire(state_home, "ns", "hourly")
    assert (fired.returncode, fired.stdout, fired.stderr) == (0, "", "")
    statuses = [(run["trigger"], run["status"]) for run in json.loads(cli("history", "--json").output)]
    assert statuses[-1] == ("cron", "skipped")
    assert statuses.count(("manual", "skipped")) == 2


def test_a_task_paused_with_its_namespace_is_resumed_with_the_namespace(installed, state_home: Path) -> None:
    until = hours_from_now(2)
    assert cli("pause", "ns", "--until", minute(until)).exit_code == 0
    assert cli("pause", "ns/hourly").exit_code == 0  # lasts longer: its reason is the one given
    lines = cli("why", "ns/hourly", "--at", minute(hours_from_now(1))).output.splitlines()
    assert lines[2] == "  pause: paused; `orchestration resume ns` ends it"
    assert run_by_hand("ns/hourly").stderr == (
        "orchestration ns/hourly: skipped: paused; `orchestration resume ns` or"
        " `orchestration run --ignore-skips ns/hourly` runs it\n"
    )
    assert cli("resume", "ns").exit_code == 0  # which ends the task's pause too
    assert cli("why", "ns/hourly", "--at", minute(hours_from_now(1))).output.splitlines()[-1] == "Would run."
    # Without the namespace's pause, the task's own is the one to resume.
    assert cli("pause", "ns/hourly").exit_code == 0
    assert cli("why", "ns/hourly", "--at", minute(hours_from_now(3))).output.splitlines()[2] == (
        "  pause: paused; `orchestration resume ns/hourly` ends it"
    )


def test_a_run_by_hand_skipped_by_a_condition_says_so(installed, state_home: Path) -> None:
    by_hand = run_by_hand("ns/off")
    assert (by_hand.returncode, by_hand.stdout) == (0, "")
    assert by_hand.stderr == (
        "orchestration ns/off: skipped by add_skip(True); `orchestration run --ignore-skips ns/off` runs it\n"
    )
    fired = fire(state_home, "ns", "off")
    assert (fired.returncode, fired.stdout, fired.stderr) == (0, "", "")


def test_a_run_by_hand_that_overlaps_says_so(installed, project: Project, state_home: Path) -> None:
    first = subprocess.Popen([EXEC, str(manifest_file(state_home, "ns")), "hold"], env=dict(os.environ))
    try:
        assert wait_for(lambda: (project.root / "started").exists(), 10)
        by_hand = run_by_hand("ns/hold")
    finally:
        (project.root / "release").touch()
        first.wait(timeout=30)
    running = next(run for run in Journal(state_home / "journal.sqlite3").runs(task="hold") if run.status == "ok")
    assert (by_hand.returncode, by_hand.stdout) == (0, "")
    assert by_hand.stderr == (
        f"orchestration ns/hold: overlap: the previous run is still running (run {running.run_id} (pid"
        f" {first.pid})); this firing was skipped; `orchestration logs --follow ns/hold` follows that run\n"
    )
