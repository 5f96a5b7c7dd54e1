"""A task with several cron expressions: it runs at the union of their instants, once at an
instant they share, as one task with one history. The union is checked against the daemon's own
loop (cron_oracle) across clock changes; the real cron daemon and the real user manager fire such
a task, and a minute both schedules hold runs once."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, run_log, wait_for
from cron_oracle import runs as oracle_runs
from orchestration.cli import main
from orchestration.compile.manifest import Manifest
from orchestration.runtime.journal import Journal


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    ("zone", "expressions", "day"),
    [
        ("Europe/Berlin", ["30 2 * * *", "0 * * * *"], "2026-03-28"),  # fixed in the skipped hour, and hourly
        ("Europe/Berlin", ["30 2 * * *", "*/20 2 * * *"], "2026-10-24"),  # the repeated hour
        ("America/New_York", ["0 9 * * 1-5", "30 12 * * sat,sun", "0 9 * * *"], "2026-11-01"),
        ("Australia/Lord_Howe", ["15 2 * * *", "*/30 1-2 * * *"], "2026-10-03"),  # a half-hour change
    ],
)
def test_next_is_the_union_of_the_daemons_instants(
    project: Project, zone: str, expressions: list[str], day: str
) -> None:
    tasks = project.write(
        f"o = Orchestrator(name='u', timezone={zone!r})\n"
        f"o.add_task({expressions!r}, 'bash', name='t').add_script('record.sh')\n"
    )
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    end = start + timedelta(days=3)
    expected = sorted({moment for expression in expressions for moment in oracle_runs(expression, zone, start, end)})
    result = cli("next", str(tasks), "--from", start.isoformat(), "-n", str(len(expected) + 1), "--json")
    assert result.exit_code == 0, result.output
    shown = [datetime.fromisoformat(text).timestamp() for text in json.loads(result.output)["u/t"]]
    assert shown[: len(expected)] == expected
    assert shown[len(expected)] >= end.timestamp()  # nothing of the daemon's is left out


def test_the_targets_carry_every_schedule(project: Project) -> None:
    tasks = project.write(
        "o = Orchestrator(name='u')\n"
        "o.add_task(['0 9 * * 1-5', '30 12 * * sat,sun'], 'bash', name='t').add_script('record.sh')\n"
    )
    crontab = cli("compile", str(tasks)).output
    lines = [line for line in crontab.splitlines() if line.endswith("# orchestration:u:t")]
    assert [line.split(" /", 1)[0] for line in lines] == ["0 9 * * 1-5", "30 12 * * 0,6"]
    units = cli("compile", str(tasks), "--target", "systemd").output
    timer = units.split("# --- orchestration-u-t.timer ---\n")[1].split("# --- ")[0]
    assert "OnCalendar=Mon..Fri *-*-* 09:00:00\nOnCalendar=Sat,Sun *-*-* 12:30:00\n" in timer
    refused = cli("compile", str(tasks), "--target", "kubernetes", "--image", "example/tasks:1")
    assert refused.exit_code == 2
    assert "task 't': a CronJob has one schedule, and this task has 2" in refused.output
    assert "define a task per schedule" in refused.output


def test_a_manifest_of_one_schedule_reads_as_before(project: Project) -> None:
    from orchestration.installer.apply import compile_file

    one = project.write(
        "o = Orchestrator(name='a')\no.add_task('0 9 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    two = project.write(
        "o = Orchestrator(name='b')\no.add_task(['0 9 * * *', '0 17 * * *'], 'bash', name='t').add_script('record.sh')\n",
        name="two.py",
    )
    [single] = compile_file(str(one))
    [double] = compile_file(str(two))
    single_json = json.loads(single.to_json())
    assert "timing" in single_json["tasks"]["t"] and "timings" not in single_json["tasks"]["t"]
    double_json = json.loads(double.to_json())
    assert [timing["expression"] for timing in double_json["tasks"]["t"]["timings"]] == ["0 9 * * *", "0 17 * * *"]
    assert Manifest.from_json(double.to_json()).task("t") == double.task("t")
    assert Manifest.from_json(single.to_json()).task("t") == single.task("t")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("[]", "cron_expression is an empty list; give one expression such as '0 * * * *', or several"),
        ("['0 9 * * *', '0 9 * * *']", "lists '0 9 * * *' and '0 9 * * *', which are the same schedule; list it once"),
        (
            "['0 9 * * 1-5', '0 9 * * 1,2,3,4,5']",
            "lists '0 9 * * 1-5' and '0 9 * * 1,2,3,4,5', which are the same schedule; list it once",
        ),
        ("['@reboot', '0 9 * * *']", "@reboot cannot be one of several schedules of a task"),
        ("['0 9 * * *', 5]", "cron_expression must be a string such as '0 * * * *', not int"),
        ("['0 9 * * *', '0 25 * * *']", "cron expression '0 25 * * *'"),
    ],
    ids=["empty", "twice", "twice-written-otherwise", "reboot", "not-a-string", "bad-hour"],
)
def test_a_wrong_list_of_schedules_is_refused(project: Project, expression: str, message: str) -> None:
    tasks = project.write(
        f"o = Orchestrator(name='u')\no.add_task({expression}, 'bash', name='t').add_script('record.sh')\n"
    )
    result = cli("compile", str(tasks))
    assert result.exit_code == 2, result.output
    assert "task 't'" in result.output and message in result.output, result.output
    assert "Traceback" not in result.output


def _runs(state: Path, task: str = "t") -> list:
    journal = Journal(state / "journal.sqlite3")
    try:
        return [run for run in journal.runs() if run.task == task] if journal.exists else []
    finally:
        journal.close()


def _ran_even_and_odd_minutes(state: Path, trigger: str) -> bool:
    """Whether ended runs, all started by `trigger`, cover an even minute (both schedules') and an
    odd one (the first schedule's alone)."""
    done = [run for run in _runs(state) if run.status == "ok"]
    minutes = [int(run.scheduled_time // 60) for run in done]
    return {minute % 2 for minute in minutes} == {0, 1} and all(run.trigger == trigger for run in done)


# Every minute, and every even minute: an even minute is an instant of both.
FIRING = (
    "o = Orchestrator(name='two')\no.add_task(['* * * * *', '*/2 * * * *'], 'bash', name='t').add_script('record.sh')\n"
)


def _check_once_per_minute(state: Path, project: Project) -> None:
    time.sleep(5)  # a second start of the same minute would have recorded by now
    done = _runs(state)
    minutes = [int(run.scheduled_time // 60) for run in done]
    assert len(minutes) == len(set(minutes)), [run.to_dict() for run in done]
    assert all(run.status in ("ok", "running") for run in done), [run.to_dict() for run in done]
    assert len(project.records()) == len(done)  # the script ran once per run, and once per minute
    assert not any("already ran" in run_log(run) for run in done if run.status == "ok")


@pytest.mark.cron_daemon
def test_cron_runs_each_instant_of_the_union_once(cron_crontab: str, project: Project, state_home: Path) -> None:
    tasks = project.write(FIRING)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    entries = [line for line in read_crontab().splitlines() if line.endswith("# orchestration:two:t")]
    assert [line.split(" /", 1)[0] for line in entries] == ["* * * * *", "*/2 * * * *"]
    try:
        assert wait_for(lambda: _ran_even_and_odd_minutes(state_home, "cron"), timeout=150), [
            run.to_dict() for run in _runs(state_home)
        ]
        _check_once_per_minute(state_home, project)
        history = json.loads(cli("history", "two/t", "--json").output)
        assert len(history) == len(_runs(state_home))  # one task, one history
    finally:
        assert cli("uninstall", str(tasks)).exit_code == 0


@pytest.mark.systemd
def test_the_user_manager_runs_each_instant_of_the_union_once(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    tasks = project.write(FIRING)
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    timer = (systemd_user / "orchestration-two-t.timer").read_text()
    assert "OnCalendar=*-*-* *:*:00\nOnCalendar=*-*-* *:00..58/2:00\n" in timer
    try:
        assert wait_for(lambda: _ran_even_and_odd_minutes(state_home, "systemd"), timeout=150), [
            run.to_dict() for run in _runs(state_home)
        ]
        _check_once_per_minute(state_home, project)
    finally:
        assert cli("uninstall", str(tasks)).exit_code == 0
