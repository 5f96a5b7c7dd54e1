"""Files we create are readable by their owner only: manifests, the journal (and SQLite's side
files), logs, locks, fallback files, and the folders that hold them."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, manifest_file
from orchestration.cli import main
from orchestration.state import spare_dir

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")

EXEC = str(Path(sys.executable).with_name("orchestration-exec"))


def test_every_file_we_create_is_private(real_crontab, project: Project, state_home: Path, tmp_path: Path) -> None:
    os.umask(0o022)  # a usual umask: what we create must not depend on it
    tasks = project.write(
        "from orchestration import secret\n"
        "o = Orchestrator(name='private')\n"
        "o.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh', {'token': secret('hunter2')})\n"
    )
    assert CliRunner().invoke(main, ["install", str(tasks), "--backend", "crontab"]).exit_code == 0
    manifest = str(manifest_file(state_home, "private"))
    assert subprocess.run([EXEC, manifest, "t"], capture_output=True).returncode == 0
    # A run while the journal is locked leaves a fallback file; the next run folds it in.
    holder = sqlite3.connect(state_home / "journal.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    subprocess.run(
        [EXEC, manifest, "t"], capture_output=True, env={**os.environ, "ORCHESTRATION_JOURNAL_TIMEOUT": "0.2"}
    )
    holder.execute("ROLLBACK")
    holder.close()
    out = tmp_path / "units"
    assert CliRunner().invoke(main, ["compile", str(tasks), "--target", "systemd", "--output", str(out)]).exit_code == 0

    spare = Path(spare_dir())
    created = [state_home, *state_home.rglob("*"), out, *out.iterdir(), spare, *spare.iterdir()]
    kinds = {path.suffix or path.name for path in created}
    assert {".json", ".sqlite3", ".log", ".lock", ".jsonl", ".service", ".timer"} <= kinds
    loose = [f"{path} {stat.filemode(path.stat().st_mode)}" for path in created if path.stat().st_mode & 0o077]
    assert loose == []
    assert "hunter2" not in subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    assert not any(
        "hunter2" in path.read_text(errors="replace")
        for path in created
        if path.is_file() and path.suffix in (".log", ".service", ".timer", ".sqlite3", ".jsonl")
    )


def test_an_error_in_a_secret_value_does_not_show_the_secret(real_crontab, project: Project, state_home: Path) -> None:
    tasks = project.write(
        "from orchestration import secret, template\n"
        "o = Orchestrator(name='leak')\n"
        "def token():\n    return int('hunter2')\n"
        "o.add_task('0 1 * * *', 'bash', name='f').add_script('record.sh', {'token': secret(token)})\n"
        "o.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh', {'token': secret(template('{{ 1 / 0 }}hunter2'))})\n"
    )
    assert CliRunner().invoke(main, ["install", str(tasks), "--backend", "crontab"]).exit_code == 0
    for task in ("f", "t"):
        result = subprocess.run([EXEC, str(manifest_file(state_home, "leak")), task], capture_output=True, text=True)
        assert result.returncode == 1
        assert "hunter2" not in result.stdout + result.stderr
    history = CliRunner().invoke(main, ["history", "--json"]).output
    assert "hunter2" not in history
    assert "raised ValueError" in history and "raised ZeroDivisionError" in history


def test_a_secret_kept_out_of_the_arguments_reaches_the_script_in_its_environment_only(
    real_crontab, project: Project, state_home: Path
) -> None:
    """`ps` shows every process's arguments to every user; a process's environment only to its
    owner and root. secret(..., argument=False) travels in the environment only."""
    from orchestration.runtime.journal import Journal
    from test_journal import fire, install

    install(
        project,
        "from orchestration import secret\no = Orchestrator(name='env')\n"
        "o.add_task('0 1 * * *', 'bash', name='one', interval=0).add_script('record.sh', {\n"
        "    'user': 'me', 'token': secret('s3cr3t-env', argument=False),\n"
        "    'day': secret(lambda: 'monday', argument=False), 'last': 'x'})\n"
        "o.add_task('0 1 * * *', 'bash', name='fan', interval=0).add_repeat('record.sh',\n"
        "    lambda: [{'key': secret('k1', argument=False), 'n': 1}])\n",
    )
    assert fire(state_home, "env", "one").returncode == 0
    assert fire(state_home, "env", "fan").returncode == 0

    one, fan = project.records()
    assert one["argv"] == ["me", "x"]
    assert (one["env"]["ORCHESTRATION_PARAM_TOKEN"], one["env"]["ORCHESTRATION_PARAM_DAY"]) == ("s3cr3t-env", "monday")
    assert (fan["argv"], fan["env"]["ORCHESTRATION_PARAM_KEY"]) == (["1"], "k1")
    shown = {run.task: run.parameters[0]["parameters"] for run in Journal(state_home / "journal.sqlite3").runs()}
    assert shown == {"one": {"user": "me", "token": "***", "day": "***", "last": "x"}, "fan": {"key": "***", "n": "1"}}
