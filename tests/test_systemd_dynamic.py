"""A real systemd user manager fires timers whose tasks have skip conditions and dynamic
parameters: templates see the scheduled minute, functions run, secrets stay out of the units and
the journal, and a built-in condition skips its task."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from conftest import Project, wait_for
from orchestration.cli import main
from orchestration.journal import Journal

TASKS = """
from orchestration import skips, template, secret
o = Orchestrator(name='sdyn')
o.add_task('* * * * *', 'bash', name='params').add_script('record.sh', {
    'minute': template("{{ scheduled_time | strftime('%H:%M') }}"),
    'trigger': lambda context: context.trigger,
    'key': secret('systemd-secret'),
}).add_skip(skips.file_exists('stop')).add_skip(skips.previous_failed())
o.add_task('* * * * *', 'bash', name='stopped').add_script('record.sh').add_skip(skips.file_missing('go'))
"""


def test_a_user_manager_fires_tasks_with_conditions_and_dynamic_parameters(systemd_user: Path, project: Project, state_home: Path) -> None:
    tasks = project.write(TASKS)
    runner = CliRunner()
    assert runner.invoke(main, ["install", str(tasks), "--backend", "systemd"]).exit_code == 0
    assert not any("systemd-secret" in unit.read_text() for unit in systemd_user.glob("orchestration-sdyn-*"))

    assert wait_for(lambda: project.records(), timeout=75), "the timer did not fire within a minute"
    journal = Journal(state_home / "journal.sqlite3")
    assert wait_for(lambda: {r.task for r in journal.runs() if r.status != "running"} >= {"params", "stopped"}, 30)
    rows = {row.task: row for row in journal.runs()}
    params, stopped = rows["params"], rows["stopped"]
    assert (params.trigger, params.status) == ("systemd", "ok")
    scheduled = time.strftime("%H:%M", time.localtime(params.scheduled_time))
    assert project.records()[0]["argv"] == [scheduled, "systemd", "systemd-secret"]
    assert params.parameters[0]["parameters"] == {"minute": scheduled, "trigger": "systemd", "key": "***"}
    assert (stopped.status, stopped.reason) == ("skipped", f"skipped by file {project.root}/go is missing")
    assert runner.invoke(main, ["uninstall", str(tasks)]).exit_code == 0
