"""The real cron daemon fires installed tasks: parameters arrive literally, the journal records a
cron-triggered run at the scheduled minute, reinstalling is a no-op, uninstalling leaves every
foreign line as it was."""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, skip_or_fail, wait_for
from orchestration.cli import main
from orchestration.runtime.journal import Journal

pytestmark = [pytest.mark.cron_daemon, pytest.mark.usefixtures("sandbox")]

LITERAL = [
    "two words",
    'it\'s "quoted"',
    "100% done",
    "$(touch /tmp/pwned-by-cron)",
    "a;b",
    "`id`",
    "x | y",
    "naïve café ✓",
    "-n",
    "#hash",
]


def test_cron_fires_the_task_with_literal_parameters(cron_crontab: str, project: Project, state_home: Path) -> None:
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
    assert read_crontab() == cron_crontab


def test_back_to_back_installs_while_cron_reads_land_in_different_seconds(real_crontab: str, project: Project) -> None:
    """Cron reads a crontab again only when its modification time, in whole seconds, changed; two
    writes in the second it reads in would hide the second one. The spool file's times show that
    two installs at the start of a minute write in different seconds."""
    spool = Path("/var/spool/cron/crontabs") / pwd.getpwuid(os.getuid()).pw_name
    if not os.access(spool.parent, os.X_OK):
        skip_or_fail(f"{spool} cannot be inspected by this user")
    first = project.write(
        "o = Orchestrator(name='first')\no.add_task('0 3 * * *', 'bash').add_script('record.sh')\n", name="first.py"
    )
    second = project.write(
        "o = Orchestrator(name='second')\no.add_task('0 4 * * *', 'bash').add_script('record.sh')\n", name="second.py"
    )
    runner = CliRunner()
    time.sleep(60.2 - time.time() % 60)  # just after the start of a minute, when cron reads

    assert runner.invoke(main, ["install", str(first), "--backend", "crontab"]).exit_code == 0
    first_written = spool.stat().st_mtime
    assert runner.invoke(main, ["install", str(second), "--backend", "crontab"]).exit_code == 0
    second_written = spool.stat().st_mtime

    assert int(second_written) > int(first_written)
    assert runner.invoke(main, ["uninstall", "--all"]).exit_code == 0
    assert read_crontab() == real_crontab
