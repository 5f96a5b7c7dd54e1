"""`orchestration next`: the firing times the daemon will use, for a tasks file or an installed
task, from now or from a given time, as text or JSON."""

from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import Project
from orchestration.cli import main

TASKS = """
o = Orchestrator(name='nx')
o.add_task('0 0 */2 * 1', 'bash', name='odd-mondays').add_script('record.sh')
o.add_task('30 22 * * fri-mon', 'bash', name='long-weekend').add_script('record.sh')
o.add_task('@reboot', 'bash', name='boot').add_script('record.sh')
"""


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_next_for_a_tasks_file_as_json(project: Project) -> None:
    tasks = project.write(TASKS)
    result = cli("next", str(tasks), "--from", "2026-11-26T12:00+00:00", "--count", "3", "--json")
    assert json.loads(result.output) == {
        # Mondays that are odd days of the month: the day fields AND because one starts with '*'.
        "nx/odd-mondays": ["2026-12-07T00:00:00+00:00", "2026-12-21T00:00:00+00:00", "2027-01-11T00:00:00+00:00"],
        "nx/long-weekend": ["2026-11-27T22:30:00+00:00", "2026-11-28T22:30:00+00:00", "2026-11-29T22:30:00+00:00"],
        "nx/boot": [],
    }


def test_any_file_that_exists_is_read_as_a_tasks_file(project: Project, monkeypatch) -> None:
    """Not only a name ending in .py: `tasks.txt` in the folder where `next` is typed."""
    project.write(TASKS, name="tasks.txt")
    monkeypatch.chdir(project.root)
    result = cli("next", "tasks.txt", "--from", "2026-11-26T12:00+00:00", "-n", "1", "--json")
    assert json.loads(result.output)["nx/long-weekend"] == ["2026-11-27T22:30:00+00:00"]


def test_next_for_an_installed_task_as_text(real_crontab, project: Project) -> None:
    tasks = project.write(TASKS)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    result = cli("next", "nx/long-weekend", "--from", "2026-11-30T23:00+00:00", "-n", "2")
    assert result.output == "nx/long-weekend\n  2026-12-04 22:30:00 +0000\n  2026-12-05 22:30:00 +0000\n"
    assert cli("next", "nx/boot").output == "nx/boot\n  at boot only (@reboot)\n"


def test_next_refuses_a_time_it_cannot_read(project: Project) -> None:
    result = CliRunner().invoke(main, ["next", str(project.write(TASKS)), "--from", "tomorrow"])
    assert result.exit_code == 2
    assert result.output == (
        "Error: 'tomorrow' is not a time; use ISO 8601 such as 2026-01-31T09:00 or 2026-01-31T09:00+01:00\n"
    )


def test_a_task_in_its_own_zone_is_previewed_in_that_zone_with_its_offsets(project: Project) -> None:
    tasks = project.write(
        "o = Orchestrator(name='ny')\n"
        "o.add_task('30 2 * * *', 'bash', name='night', timezone='America/New_York').add_script('record.sh')\n"
    )
    # 8 March 2026 in New York: 02:00 EST became 03:00 EDT; the skipped 02:30 runs right after the jump.
    result = cli("next", str(tasks), "--from", "2026-03-07T12:00-05:00", "-n", "3", "--json")
    assert json.loads(result.output) == {
        "ny/night": ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]
    }
    # --from with an offset is that instant, whatever zone it is written in.
    same = cli("next", str(tasks), "--from", "2026-03-07T17:00+00:00", "-n", "3", "--json")
    assert same.output == result.output


def test_the_preview_reads_the_daemons_zone_not_the_shells(project: Project, monkeypatch) -> None:
    from datetime import datetime

    from orchestration.rules.instants import machine_zone, zone_of

    machine = machine_zone()
    monkeypatch.setenv("TZ", "Pacific/Kiritimati" if machine != "Pacific/Kiritimati" else "UTC")
    assert machine_zone() == machine
    tasks = project.write(
        "o = Orchestrator(name='mz')\no.add_task('0 9 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    [first] = json.loads(cli("next", str(tasks), "-n", "1", "--json").output)["mz/t"]
    moment = datetime.fromisoformat(first)
    assert (moment.hour, moment.minute) == (9, 0)
    assert moment.utcoffset() == moment.astimezone(zone_of(machine)).utcoffset()  # the machine's, not the shell's
