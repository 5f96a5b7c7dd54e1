"""`orchestration why`: the schedule and every skip condition judged for one minute, in words and
as JSON, with exact text; and what it says after real runs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import Project
from test_journal import cli, fire, install

TASKS = """
from orchestration import skips
o = Orchestrator(name='ns')
def is_closed(context):
    return context.scheduled_time.day == 24
t = o.add_task('30 2 * * mon-fri', 'bash', name='nightly').add_script('record.sh')
t.add_skip(skips.on_dates(['2026-12-25']))
t.add_skip(skips.outside_hours('01:00', '03:00'))
t.add_skip(is_closed)
o.add_task('0 9 * * *', 'bash', name='flaky').add_script('record.sh').add_skip(lambda: 1 / 0).add_skip(skips.weekend())
o.add_task('@reboot', 'bash', name='boot').add_script('record.sh')
o.add_task('0 * * * *', 'bash', name='plain').add_script('record.sh')
o.add_task('0 1 * * *', 'bash', name='careful', interval=0).add_script('fail.sh').add_skip(skips.previous_failed())
"""


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    """Local time is UTC for the test, so the printed offsets are known."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def installed(real_crontab, project: Project, state_home: Path, utc) -> Path:
    return install(project, TASKS)


NIGHTLY = "  schedule: fires at this minute (30 2 * * mon-fri: at 02:30 on Monday through Friday)"


@pytest.mark.parametrize(
    "when, lines",
    [
        (
            "2026-12-25T02:30",
            [
                "ns/nightly at 2026-12-25 02:30 +0000 (Friday)",
                NIGHTLY,
                "  1. skip if on 2026-12-25: yes, skip",
                "  2. skip if outside 01:00-03:00: no (not checked at run time: condition 1 decides first)",
                "  3. skip if is_closed(): no (not checked at run time: condition 1 decides first)",
                "Would be skipped by on 2026-12-25.",
            ],
        ),
        (
            "2026-12-23T02:30",
            [
                "ns/nightly at 2026-12-23 02:30 +0000 (Wednesday)",
                NIGHTLY,
                "  1. skip if on 2026-12-25: no",
                "  2. skip if outside 01:00-03:00: no",
                "  3. skip if is_closed(): no",
                "Would run.",
            ],
        ),
        (
            "2026-12-24T02:30:41",
            [
                "ns/nightly at 2026-12-24 02:30 +0000 (Thursday)",
                NIGHTLY,
                "  1. skip if on 2026-12-25: no",
                "  2. skip if outside 01:00-03:00: no",
                "  3. skip if is_closed(): yes, skip",
                "Would be skipped by is_closed().",
            ],
        ),
        (
            "2026-12-26T02:30+00:00",
            [
                "ns/nightly at 2026-12-26 02:30 +0000 (Saturday)",
                "  schedule: does not fire at this minute; previous firing 2026-12-25 02:30 +0000, next firing"
                " 2026-12-28 02:30 +0000 (30 2 * * mon-fri: at 02:30 on Monday through Friday)",
                "  1. skip if on 2026-12-25: no",
                "  2. skip if outside 01:00-03:00: no",
                "  3. skip if is_closed(): no",
                "Would not run: the schedule does not fire at this minute; its skip conditions would let a run"
                " at this minute go ahead.",
            ],
        ),
        (
            "2026-12-28T04:30+02:00",
            [
                "ns/nightly at 2026-12-28 02:30 +0000 (Monday)",
                NIGHTLY,
                "  1. skip if on 2026-12-25: no",
                "  2. skip if outside 01:00-03:00: no",
                "  3. skip if is_closed(): no",
                "Would run.",
            ],
        ),
        (
            "2026-12-28T12:00",
            [
                "ns/nightly at 2026-12-28 12:00 +0000 (Monday)",
                "  schedule: does not fire at this minute; previous firing 2026-12-28 02:30 +0000, next firing"
                " 2026-12-29 02:30 +0000 (30 2 * * mon-fri: at 02:30 on Monday through Friday)",
                "  1. skip if on 2026-12-25: no",
                "  2. skip if outside 01:00-03:00: yes, skip",
                "  3. skip if is_closed(): no (not checked at run time: condition 2 decides first)",
                "Would not run: the schedule does not fire at this minute; a run at this minute would be skipped"
                " by outside 01:00-03:00.",
            ],
        ),
    ],
)
def test_why_explains_a_minute(installed: Path, when: str, lines: list[str]) -> None:
    result = cli("why", "ns/nightly", "--at", when)
    assert result.exit_code == 0
    assert result.output.splitlines() == lines


def test_a_condition_that_raises_decides_the_run(installed: Path) -> None:
    result = cli("why", "ns/flaky", "--at", "2026-11-28T09:00")
    assert result.output.splitlines() == [
        "ns/flaky at 2026-11-28 09:00 +0000 (Saturday)",
        "  schedule: fires at this minute (0 9 * * *: at 09:00)",
        "  1. skip if <lambda>(): error: skip condition <lambda>() raised ZeroDivisionError: division by zero",
        "  2. skip if weekend (Saturday or Sunday): yes, skip (not checked at run time: condition 1 decides first)",
        "Would end in error: skip condition <lambda>() raised ZeroDivisionError: division by zero",
    ]
    assert result.exit_code == 0


def test_why_as_json(installed: Path) -> None:
    result = cli("why", "ns/nightly", "--at", "2026-12-25T02:30", "--json")
    assert json.loads(result.output) == {
        "task": "ns/nightly",
        "at": "2026-12-25T02:30:00+00:00",
        "schedule": "30 2 * * mon-fri",
        "description": "at 02:30 on Monday through Friday",
        "fires": True,
        "previous_time": "2026-12-24T02:30:00+00:00",
        "next_time": "2026-12-28T02:30:00+00:00",
        "conditions": [
            {
                "position": 1,
                "kind": "builtin",
                "description": "on 2026-12-25",
                "verdict": "skip",
                "error": None,
                "reached": True,
            },
            {
                "position": 2,
                "kind": "builtin",
                "description": "outside 01:00-03:00",
                "verdict": "run",
                "error": None,
                "reached": False,
            },
            {
                "position": 3,
                "kind": "callable",
                "description": "is_closed()",
                "verdict": "run",
                "error": None,
                "reached": False,
            },
        ],
        "paused": None,
        "conditions_outcome": "skipped",
        "outcome": "skipped",
        "would_run": False,
        "reason": "skipped by on 2026-12-25",
        "notifications": [],  # the task has none (see test_notify.py)
        "deliveries": [],
        "deliveries_run": None,
    }


def test_without_when_it_judges_the_next_firing_time(installed: Path) -> None:
    [upcoming] = json.loads(cli("next", "ns/plain", "--count", "1", "--json").output)["ns/plain"]
    explained = json.loads(cli("why", "ns/plain", "--json").output)
    assert explained["at"] == upcoming
    assert (explained["fires"], explained["outcome"], explained["conditions"]) == (True, "run", [])
    assert cli("why", "ns/plain").output.splitlines()[-2:] == ["  no skip conditions", "Would run."]


def test_a_boot_task(installed: Path) -> None:
    lines = cli("why", "ns/boot", "--at", "2026-12-25T10:00").output.splitlines()
    assert lines == [
        "ns/boot at 2026-12-25 10:00 +0000 (Friday)",
        "  schedule: runs only at boot (@reboot: at boot)",
        "  no skip conditions",
        "Would not run: the task runs only at boot (@reboot); its skip conditions would let a run at this"
        " minute go ahead.",
    ]


def test_why_reads_the_runs_before_the_minute_it_judges(installed: Path, state_home: Path) -> None:
    before = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 3600))
    assert fire(state_home, "ns", "careful").returncode == 3
    after = cli("why", "ns/careful").output.splitlines()
    assert after[2] == "  1. skip if the previous run failed: yes, skip"
    assert after[3] == "Would be skipped by the previous run failed."
    earlier = cli("why", "ns/careful", "--at", before).output.splitlines()
    assert earlier[2] == "  1. skip if the previous run failed: no"


def test_why_refuses_what_it_cannot_judge(installed: Path) -> None:
    unknown = cli("why", "ns/nope")
    assert (unknown.exit_code, unknown.output) == (
        2,
        "Error: namespace 'ns' has no task 'nope'; its tasks: boot, careful, flaky, nightly, plain\n",
    )
    bad_time = cli("why", "ns/plain", "--at", "tomorrow")
    assert (bad_time.exit_code, bad_time.output) == (
        2,
        "Error: 'tomorrow' is not a time; use ISO 8601 such as 2026-01-31T09:00 or 2026-01-31T09:00+01:00\n",
    )


def test_why_judges_the_tasks_file_as_installed(installed: Path, project: Project) -> None:
    """Runs call the functions of the tasks file as it was installed (its private copy), so why
    does too: an edit counts once it is installed."""
    edited = TASKS.replace("return context.scheduled_time.day == 24", "return True")
    project.write(edited)
    assert cli("why", "ns/nightly", "--at", "2026-12-23T02:30").output.splitlines()[4:6] == [
        "  3. skip if is_closed(): no",
        "Would run.",
    ]
    install(project, edited)
    assert cli("why", "ns/nightly", "--at", "2026-12-23T02:30").output.splitlines()[4:6] == [
        "  3. skip if is_closed(): yes, skip",
        "Would be skipped by is_closed().",
    ]


def test_why_calls_functions_as_a_run_does(real_crontab, project: Project, utc, tmp_path: Path) -> None:
    """In a process of their own, in the tasks file's folder: a function that ends its process
    is an error of that condition, not the end of `why`, and a relative path means the folder
    of the tasks file wherever `why` is started."""
    (project.root / "closed").write_text("")
    install(
        project,
        """
import os
o = Orchestrator(name='ns')
def closed_here():
    return os.path.exists('closed')
def leaves():
    os._exit(7)
o.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh').add_skip(leaves).add_skip(closed_here)
""",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    started_in = os.getcwd()
    os.chdir(elsewhere)
    try:
        lines = cli("why", "ns/t", "--at", "2026-12-23T01:00").output.splitlines()
    finally:
        os.chdir(started_in)
    assert lines[2:] == [
        "  1. skip if leaves(): error: skip condition leaves() ended the process that runs the tasks"
        " file's code (exit status 7) without an answer",
        "  2. skip if closed_here(): yes, skip (not checked at run time: condition 1 decides first)",
        "Would end in error: skip condition leaves() ended the process that runs the tasks file's code"
        " (exit status 7) without an answer",
    ]
