"""orchestration-exec, run for real: parameters reach scripts literally, the environment scripts
see, order and interval, the first failure stops the run, skips, and the journal row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, manifest_file, run_log
from orchestration.cli import main
from orchestration.runtime.journal import Journal

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")

HOSTILE = [
    "two words",
    'it\'s "quoted"',
    "100% done",
    "$(touch /tmp/pwned)",
    "a;b",
    "x | y",
    "`id`",
    "line\nbreak",
    "#hash",
    "-n",
    "--flag",
    "naïve café ✓",
    "",
]


def install(project: Project, body: str) -> None:
    tasks = project.write(body)
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "crontab"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def run(reference: str) -> subprocess.CompletedProcess:
    """`orchestration run` in a subprocess, as a person would type it."""
    program = Path(sys.executable).with_name("orchestration")
    return subprocess.run([str(program), "run", reference], capture_output=True, text=True)


def journal(state: Path) -> Journal:
    return Journal(state / "journal.sqlite3")


def test_parameters_reach_the_script_literally_in_order(real_crontab, project: Project, state_home: Path) -> None:
    params = {f"p{i}": value for i, value in enumerate(HOSTILE)}
    install(
        project,
        f"o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='lit').add_script('record.sh', {params!r})\n",
    )
    result = run("ns/lit")
    assert result.returncode == 0, result.stderr
    [record] = project.records()
    assert record["argv"] == HOSTILE
    for i, value in enumerate(HOSTILE):
        assert record["env"][f"ORCHESTRATION_PARAM_P{i}"] == value
    assert not Path("/tmp/pwned").exists()


def test_environment_and_working_directory(real_crontab, project: Project, state_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/opt/captured/bin:" + os.environ["PATH"])
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'python', name='env').add_script('record.py', {'Mode': 'full', 'n': 3, 'on': True})\n",
    )
    result = run("ns/env")
    assert result.returncode == 0, result.stderr
    [record] = project.records()
    env = record["env"]
    assert record["argv"] == ["full", "3", "true"]
    assert record["executable"] == sys.executable
    assert record["cwd"] == str(project.root)
    assert env["PATH"].startswith("/opt/captured/bin:")
    assert env["HOME"] == os.environ["HOME"]
    assert env["ORCHESTRATION_NAMESPACE"] == "ns"
    assert env["ORCHESTRATION_TASK"] == "env"
    assert env["ORCHESTRATION_PARAM_MODE"] == "full"
    assert env["ORCHESTRATION_PARAM_ON"] == "true"
    [row] = journal(state_home).runs()
    assert env["ORCHESTRATION_RUN_ID"] == row.run_id
    assert (
        env["ORCHESTRATION_SCHEDULED_TIME"][:19]
        == __import__("datetime").datetime.fromtimestamp(row.scheduled_time).isoformat()[:19]
    )
    assert (row.namespace, row.task, row.trigger, row.status, row.exit_code) == ("ns", "env", "manual", "ok", 0)


def test_scripts_run_in_order_interval_apart_and_repeat_per_parameter_set(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(
        project,
        (
            "o = Orchestrator(name='ns')\n"
            "t = o.add_task('0 1 * * *', 'bash', interval=1, name='seq')\n"
            "t.add_script('record.sh', {'step': 'first'})\n"
            "t.add_repeat('record.sh', [{'step': 'r1'}, {'step': 'r2'}])\n"
        ),
    )
    result = run("ns/seq")
    assert result.returncode == 0
    assert [r["argv"] for r in project.records()] == [["first"], ["r1"], ["r2"]]
    assert result.stdout == ""  # quiet: the scripts printed nothing and the run ended ok
    [row] = journal(state_home).runs()
    assert run_log(row).startswith("orchestration ns/seq: record.sh [1/3] ok (")
    assert [s.status for s in row.steps] == ["ok", "ok", "ok"]
    gaps = [b.started_at - a.finished_at for a, b in zip(row.steps, row.steps[1:])]
    assert all(gap >= 0.99 for gap in gaps)


def test_first_failing_script_stops_the_run_with_its_exit_code(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(
        project,
        (
            "o = Orchestrator(name='ns')\n"
            "t = o.add_task('0 1 * * *', 'bash', interval=0, name='stops')\n"
            "t.add_script('record.sh', {'step': 'before'})\n"
            "t.add_script('fail.sh', {'code': 7})\n"
            "t.add_script('record.sh', {'step': 'never'})\n"
        ),
    )
    result = run("ns/stops")
    assert result.returncode == 7
    assert [r["argv"] for r in project.records()] == [["before"]]
    assert "failing with 7" in result.stdout
    assert "orchestration ns/stops: fail.sh [2/3] failed with exit code 7 (" in result.stdout
    [row] = journal(state_home).runs()
    assert (row.status, row.exit_code, row.reason) == ("failed", 7, "fail.sh exited 7")
    assert [s.status for s in row.steps] == ["ok", "failed"]
    assert run_log(row).startswith("orchestration ns/stops: record.sh [1/3] ok")
    assert Path(row.log_path).stat().st_mode & 0o777 == 0o600


def test_static_skip(real_crontab, project: Project, state_home: Path) -> None:
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='off').add_script('record.sh').add_skip(False).add_skip(True)\n",
    )
    result = run("ns/off")
    assert result.returncode == 0
    assert result.stdout == ""  # a skip is quiet too
    assert project.records() == []
    [row] = journal(state_home).runs()
    assert run_log(row) == "orchestration ns/off: skipped by add_skip(True)\n"
    assert (row.status, row.reason) == ("skipped", "skipped by add_skip(True)")


CALLABLE_SKIPS = """
o = Orchestrator(name='ns')
calls = []
def never():
    return False
def weekend_only(context):
    return context.task == 'cond' and context.namespace == 'ns' and bool(context.run_id)
t = o.add_task('0 1 * * *', 'bash', name='cond').add_script('record.sh')
t.add_skip(never)
t.add_skip(weekend_only)
u = o.add_task('0 1 * * *', 'bash', name='runs').add_script('record.sh').add_skip(lambda: False)
v = o.add_task('0 1 * * *', 'bash', name='raises').add_script('record.sh').add_skip(lambda: 1 / 0)
"""


def test_callable_skips_are_evaluated_at_run_time(real_crontab, project: Project, state_home: Path) -> None:
    install(project, CALLABLE_SKIPS)
    skipped = run("ns/cond")
    assert skipped.returncode == 0
    assert skipped.stdout == ""
    assert journal(state_home).runs(task="cond")[0].reason == "skipped by weekend_only()"
    assert run("ns/runs").returncode == 0
    assert len(project.records()) == 1
    raised = run("ns/raises")
    assert raised.returncode == 1
    assert raised.stdout == (
        "orchestration ns/raises: error: skip condition <lambda>() raised ZeroDivisionError: division by zero\n"
    )
    statuses = {row.task: row.status for row in journal(state_home).runs()}
    assert statuses == {"cond": "skipped", "runs": "ok", "raises": "error"}


def test_a_task_removed_from_the_file_after_install_runs_as_installed_until_reinstalled(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, CALLABLE_SKIPS)
    project.write("o = Orchestrator(name='ns')\n")
    result = run("ns/cond")
    assert result.returncode == 0
    assert journal(state_home).runs()[0].status == "skipped"
    assert f"run `orchestration install {project.tasks_file}` to apply the changes" in result.stderr


def test_run_of_unknown_task_names_what_exists(real_crontab, project: Project, state_home: Path) -> None:
    install(project, "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='a').add_script('record.sh')\n")
    result = CliRunner().invoke(main, ["run", "ns/zzz"])
    assert result.exit_code == 2
    assert result.output == "Error: namespace 'ns' has no task 'zzz'; its tasks: a\n"


def test_static_task_imports_no_heavy_module(real_crontab, project: Project, state_home: Path) -> None:
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='light').add_script('record.sh').add_skip(False)\n",
    )
    probe = (
        "import json, sys\n"
        "from orchestration.runtime.exec import main\n"
        f"code = main([{str(manifest_file(state_home, 'ns'))!r}, 'light'])\n"
        "heavy = ['click', 'jinja2', 'croniter', 'crontab', 'orchestration.define.orchestrator',"
        " 'orchestration.define.loader', 'orchestration.runtime.usercode']\n"
        "print(json.dumps([code, [m for m in heavy if m in sys.modules]]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/")
    assert json.loads(result.stdout.splitlines()[-1]) == [0, []]


def test_the_shim_runs_the_manifest_json_as_it_stands(real_crontab, project: Project, state_home: Path) -> None:
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='copy').add_script('record.sh', {'v': 'installed'})\n",
    )
    manifest = manifest_file(state_home, "ns")
    manifest.write_text(manifest.read_text().replace('"installed"', '"edited"'))
    assert run("ns/copy").returncode == 0
    assert project.records()[-1]["argv"] == ["edited"]
