"""Trust: no other user can make your schedules run their code, and no damage, kill or edit makes
a run wrong or lost. One test (or more) per item of the issue that asked for it, each failing on
the code before it; the attacker cases with two real users, the scheduler cases with the real
cron daemon and the real systemd user manager of the sandbox."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, manifest_file, read_crontab, wait_for, write_crontab
from orchestration.cli import main
from orchestration.runtime.journal import Journal

EXEC = str(Path(sys.executable).with_name("orchestration-exec"))
PROGRAM = str(Path(sys.executable).with_name("orchestration"))
ONE = "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='t', interval=0).add_script('record.sh', {params})\n"


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def install(project: Project, body: str, name: str = "tasks.py") -> Path:
    tasks = project.write(body, name=name)
    result = cli("install", str(tasks), "--backend", "crontab")
    assert result.exit_code == 0, result.output
    return tasks


def fire(state: Path, task: str = "t", namespace: str = "ns", **popen) -> subprocess.CompletedProcess:
    """What cron does: call orchestration-exec with the manifest and the task."""
    return subprocess.run([EXEC, str(manifest_file(state, namespace)), task], capture_output=True, text=True, **popen)


def runs(state: Path, task: str | None = None) -> list:
    """The task's runs, oldest first."""
    return list(reversed(Journal(state / "journal.sqlite3").runs(task=task)))


# --- 13, 14: names, values and paths that cannot be carried are refused at definition ---------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("o = Orchestrator(name='evil\\n')", "Orchestrator(name=...): namespace 'evil\\n' must be 1-64 letters"),
        (
            "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='t\\n')",
            "add_task(name=...): task name 't\\n' must be 1-64 letters",
        ),
        (ONE.format(params="{'p\\n': 1}"), "parameter name 'p\\n' in script_parameters must be a string of letters"),
        (ONE.format(params="{'p': 'a\\0b'}"), "contains a NUL byte, which no program argument can carry"),
        (ONE.format(params="{'p': '\\udcff'}"), "contains text that is not valid Unicode (a lone surrogate"),
        (ONE.format(params="{'p': 'x' * 200000}"), "is 200,000 bytes long; Linux passes at most 131,071 bytes"),
    ],
    ids=["namespace-newline", "task-newline", "parameter-newline", "nul", "surrogate", "too-long"],
)
def test_what_cannot_be_carried_is_refused_at_definition(project: Project, body: str, message: str) -> None:
    result = CliRunner().invoke(main, ["compile", str(project.write(body))])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_tasks_file_whose_path_is_not_utf8_is_refused(project: Project) -> None:
    tasks = os.fsencode(project.root) + b"/t\xff.py"
    Path(os.fsdecode(tasks)).write_text("from orchestration import Orchestrator\nOrchestrator(name='x').execute_tasks()\n")
    result = subprocess.run([PROGRAM, "compile", tasks], capture_output=True, text=True)
    assert result.returncode == 2
    assert "is not valid UTF-8, so it cannot be written into a crontab or a unit file; rename it" in result.stderr
    assert "Traceback" not in result.stderr
    direct = subprocess.run([sys.executable, tasks], capture_output=True, text=True, cwd=project.root)
    assert direct.returncode == 1
    assert "is not valid UTF-8" in direct.stderr and "UnicodeEncodeError" not in direct.stderr


# --- 3: a tasks file is run from its bytes, never from a stale bytecode cache -----------------


def test_a_file_rewritten_in_the_same_second_at_the_same_size_installs_its_new_content(
    real_crontab, project: Project, state_home: Path
) -> None:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    tasks = project.write(ONE.format(params="{'v': 'AAAA'}"))
    installed = subprocess.run(
        [PROGRAM, "install", str(tasks), "--backend", "crontab"], capture_output=True, text=True, env=environment
    )
    assert installed.returncode == 0, installed.stderr
    # What an import of the file would have cached, as on a user's machine.
    subprocess.run([sys.executable, "-c", "import tasks"], cwd=project.root, env=environment, capture_output=True)
    assert list((project.root / "__pycache__").glob("tasks.*.pyc"))
    stamp = tasks.stat()
    tasks.write_text(tasks.read_text().replace("AAAA", "BBBB"))
    os.utime(tasks, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # the same second, the same size
    again = subprocess.run(
        [PROGRAM, "install", str(tasks), "--backend", "crontab"], capture_output=True, text=True, env=environment
    )
    assert again.returncode == 0 and "1 changed" in again.stdout, again.stdout
    assert '"v": "BBBB"' in manifest_file(state_home, "ns").read_text()
    assert fire(state_home).returncode == 0
    assert project.records()[-1]["argv"] == ["BBBB"]


# --- 15: one tasks file is one namespace, whatever path reaches it ----------------------------


def test_the_same_file_through_a_symbolic_link_is_one_namespace(real_crontab, project: Project) -> None:
    tasks = project.write(
        "o = Orchestrator()\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh')\no.execute_tasks(follow=False)\n"
    )
    link = project.root.parent / "link.py"
    link.symlink_to(tasks)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    unchanged = f"is up to date with {tasks}; nothing changed."
    through_link = cli("install", str(link), "--backend", "crontab")
    assert through_link.exit_code == 0 and unchanged in through_link.output
    direct = subprocess.run([sys.executable, str(link)], capture_output=True, text=True, cwd=link.parent)
    assert direct.returncode == 0, direct.stderr
    assert unchanged in direct.stdout
    assert read_crontab().count("# BEGIN orchestration:") == 1


# --- 10: a manifest is read only when it is the user's own, and read as it stands -------------


def test_a_manifest_of_another_user_or_writable_by_others_is_refused_and_a_damaged_one_recorded(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, ONE.format(params="{'target': '/srv/backup/prod'}"))
    manifest = manifest_file(state_home, "ns")
    manifest.chmod(0o620)
    result = fire(state_home)
    assert result.returncode == 1
    assert "can be written by group or others (mode 620); nothing was run" in result.stdout
    manifest.chmod(0o600)
    os.chown(manifest, 65534, -1)
    assert "belongs to uid 65534, not to uid 0 who runs it; nothing was run" in fire(state_home).stdout
    os.chown(manifest, 0, -1)
    manifest.write_bytes(manifest.read_bytes().replace(b'"tasks": {', b'"tasks": {]', 1))
    result = fire(state_home)
    assert result.returncode == 1 and "is not valid JSON" in result.stdout
    assert project.records() == []
    assert [(run.status, run.exit_code) for run in runs(state_home)] == [("error", 1)] * 3
    assert "is not valid JSON" in runs(state_home)[-1].reason


# --- 5: a damaged journal neither stops a run nor the commands that read it -------------------


def damage_schema(journal: Path) -> None:
    """One 0xFF byte in the schema (sqlite_master's text): sqlite then reports it undecodably."""
    connection = sqlite3.connect(journal)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    data = bytearray(journal.read_bytes())
    data[data.index(b"CREATE TABLE runs") + 7] = 0xFF
    journal.write_bytes(bytes(data))


def test_a_byte_of_damage_in_the_journals_schema_moves_it_aside_and_loses_no_run(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, ONE.format(params="{}"))
    assert fire(state_home).returncode == 0
    damage_schema(state_home / "journal.sqlite3")
    for command in (["history"], ["status"], ["history", "--json"], ["status", "--json"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, (command, result.output)
    assert "cannot be read" in CliRunner().invoke(main, ["history"]).output
    result = fire(state_home)
    assert result.returncode == 0
    assert "the run journal was damaged" in result.stderr
    assert len(list(state_home.glob("journal.sqlite3.damaged-*"))) == 1
    assert [run.status for run in runs(state_home)] == ["ok"]
    assert len(project.records()) == 2


# --- 12: no output channel is needed for the run or its record -------------------------------


@pytest.mark.parametrize("task", ["static", "function"])
def test_a_closed_stdout_or_a_broken_pipe_keeps_the_record_without_a_traceback(
    real_crontab, project: Project, state_home: Path, task: str
) -> None:
    (project.root / "talk.sh").write_text("#!/bin/bash\nfor i in $(seq 1 3000); do echo line $i; done\n")
    install(
        project,
        "o = Orchestrator(name='ns')\n"
        "o.add_task('0 1 * * *', 'bash', name='static').add_script('talk.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='function').add_script('talk.sh', {'v': lambda: 'x'})\n",
    )
    manifest = str(manifest_file(state_home, "ns"))
    closed = subprocess.run(["sh", "-c", f"exec {EXEC} {manifest} {task} >&-"], capture_output=True, text=True)
    both = subprocess.run(["sh", "-c", f"exec {EXEC} {manifest} {task} >&- 2>&-"], capture_output=True, text=True)
    piped = subprocess.run(
        ["bash", "-c", f"{EXEC} {manifest} {task} | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
    )
    for result in (closed, both, piped):
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    recorded = runs(state_home, task)
    assert [run.status for run in recorded] == ["ok"] * 3
    assert all("line 3000" in Path(run.log_path).read_text() for run in recorded)
