"""The real schedulers fire tasks with skip conditions and dynamic parameters: the cron daemon and
a systemd user manager. Templates see the scheduled minute, functions run (in the tasks file's
folder), a secret reaches the
script but not the crontab, the units or the journal, and a built-in condition skips its task."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, wait_for
from orchestration.cli import main
from orchestration.runtime.journal import Journal

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")

TASKS = """
import os
from orchestration import skips, template, secret
o = Orchestrator(name='dynamic')
o.add_task('* * * * *', 'bash', name='params').add_script('record.sh', {{
    'minute': template("{{{{ scheduled_time | strftime('%H:%M') }}}}"),
    'trigger': lambda context: context.trigger,
    'folder': lambda: os.getcwd(),
    'key': secret({secret!r}),
}}).add_skip(skips.file_exists('stop')).add_skip(skips.previous_failed())
o.add_task('* * * * *', 'bash', name='stopped').add_script('record.sh').add_skip(skips.file_missing('go'))
"""


def install_and_wait(project: Project, state_home: Path, backend: str, timeout: float) -> Path:
    """Install TASKS for `backend`, wait until both tasks ran once, and check what they did."""
    tasks = project.write(TASKS.format(secret=f"{backend}-secret"))
    assert CliRunner().invoke(main, ["install", str(tasks), "--backend", backend]).exit_code == 0
    assert wait_for(lambda: project.records(), timeout=timeout), f"{backend} did not fire in time"
    journal = Journal(state_home / "journal.sqlite3")
    assert wait_for(lambda: {r.task for r in journal.runs() if r.status != "running"} >= {"params", "stopped"}, 30)
    rows = {row.task: row for row in journal.runs()}
    params, stopped = rows["params"], rows["stopped"]
    trigger = "cron" if backend == "crontab" else "systemd"
    assert (params.trigger, params.status) == (trigger, "ok")
    scheduled = time.strftime("%H:%M", time.localtime(params.scheduled_time))
    # Functions run where the scripts run, the tasks file's folder, not where the daemon starts us.
    folder = str(project.root)
    assert project.records()[0]["argv"] == [scheduled, trigger, folder, f"{backend}-secret"]
    assert params.parameters[0]["parameters"] == {
        "minute": scheduled,
        "trigger": trigger,
        "folder": folder,
        "key": "***",
    }
    assert (stopped.status, stopped.reason) == ("skipped", f"skipped by file {project.root}/go is missing")
    return tasks


@pytest.mark.cron_daemon
def test_cron_fires_tasks_with_conditions_and_dynamic_parameters(
    cron_crontab: str, project: Project, state_home: Path
) -> None:
    tasks = install_and_wait(project, state_home, "crontab", timeout=150)
    assert "crontab-secret" not in read_crontab()
    assert CliRunner().invoke(main, ["uninstall", str(tasks)]).exit_code == 0
    assert read_crontab() == cron_crontab


@pytest.mark.systemd
def test_a_user_manager_fires_tasks_with_conditions_and_dynamic_parameters(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    tasks = install_and_wait(project, state_home, "systemd", timeout=75)
    assert not any("systemd-secret" in unit.read_text() for unit in systemd_user.glob("orchestration-dynamic-*"))
    assert CliRunner().invoke(main, ["uninstall", str(tasks)]).exit_code == 0
