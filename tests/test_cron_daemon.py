"""The real cron daemon fires installed tasks: parameters arrive literally, the journal records a
cron-triggered run at the scheduled minute, reinstalling is a no-op, uninstalling leaves every
foreign line as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, skip_or_fail, wait_for
from orchestration.cli import main
from orchestration.journal import Journal

pytestmark = pytest.mark.cron_daemon

LITERAL = ["two words", "it's \"quoted\"", "100% done", "$(touch /tmp/pwned-by-cron)", "a;b",
           "`id`", "x | y", "naïve café ✓", "-n", "#hash"]


def cron_running() -> bool:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def cron_daemon():
    """A running cron daemon: the one already running, else Debian's cron started for the tests."""
    if cron_running():
        yield
        return
    daemon = shutil.which("cron") or "/usr/sbin/cron"
    if not os.path.exists(daemon):
        skip_or_fail("no cron daemon installed (Debian: apt-get install cron)")
    if os.geteuid() != 0:
        skip_or_fail("the cron daemon can only be started by root here")
    subprocess.run([daemon], check=True)
    for _ in range(50):
        if cron_running():
            break
        time.sleep(0.1)
    else:
        skip_or_fail("the cron daemon did not start")
    yield
    subprocess.run(["pkill", "-x", "cron"])


def test_cron_fires_the_task_with_literal_parameters(cron_daemon, real_crontab: str, project: Project, state_home: Path) -> None:
    params = {f"p{i}": value for i, value in enumerate(LITERAL)}
    tasks = project.write(
        "o = Orchestrator(name='fired')\n"
        f"o.add_task('* * * * *', 'bash', name='shell').add_script('record.sh', {params!r})\n"
        f"o.add_task('* * * * *', 'python', name='py').add_script('record.py', {params!r})\n"
    )
    runner = CliRunner()
    assert runner.invoke(main, ["install", str(tasks), "--backend", "crontab"]).exit_code == 0
    installed = read_crontab()

    assert wait_for(lambda: len(project.records()) >= 2, timeout=150), "cron did not fire within two minutes"
    by_kind = {record["kind"]: record for record in project.records()}
    assert by_kind["bash"]["argv"] == LITERAL
    assert by_kind["python"]["argv"] == LITERAL
    assert by_kind["bash"]["cwd"] == str(project.root)
    assert not Path("/tmp/pwned-by-cron").exists()

    assert wait_for(lambda: all(r.status == "ok" for r in Journal(state_home / "journal.sqlite3").runs()), 30)
    rows = Journal(state_home / "journal.sqlite3").runs()
    first = {row.task: row for row in rows}
    assert {"shell", "py"} <= set(first)
    for row in first.values():
        assert row.trigger == "cron"
        assert row.status == "ok"
        assert row.scheduled_time % 60 == 0
        assert row.started_at - row.scheduled_time < 30

    assert runner.invoke(main, ["install", str(tasks)]).output.endswith("nothing changed.\n")
    assert read_crontab() == installed
    assert runner.invoke(main, ["uninstall", str(tasks)]).exit_code == 0
    assert read_crontab() == real_crontab
