"""Names given to `history` and `logs`: a misspelt or malformed one is refused as `run` refuses it,
while the runs of an uninstalled task stay readable; an empty history names its filters. Then
shell completion of namespaces, statuses and tasks, without a scheduler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, manifest_file
from orchestration.api import compile_file
from orchestration.cli import main
from orchestration.compile.environment import capture_environment
from orchestration.installer import manifests

PROGRAM = str(Path(sys.executable).with_name("orchestration"))
EXEC = str(Path(sys.executable).with_name("orchestration-exec"))

TASKS = """
o = Orchestrator(name='rv')
o.add_task('0 1 * * *', 'bash', name='nightly').add_script('record.sh')
o.add_task('0 2 * * 6', 'bash', name='wkend').add_script('record.sh')
"""


def cli(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="orchestration")


def fire(state: Path, namespace: str, task: str) -> None:
    """What cron does: call orchestration-exec with the manifest and the task."""
    subprocess.run([EXEC, str(manifest_file(state, namespace)), task], capture_output=True, check=True)


@pytest.fixture
def fired(real_crontab, project: Project, state_home: Path) -> Project:
    """rv installed into the crontab, and one run of rv/nightly recorded."""
    assert cli("install", str(project.write(TASKS)), "--backend", "crontab").exit_code == 0
    fire(state_home, "rv", "nightly")
    return project


NOT_A_NAME = "`orchestration list` shows them\n"
REFUSED = [
    (
        ["history", "vr"],
        "namespace 'vr' is not installed and has no recorded runs; `orchestration list` shows what is\n",
    ),
    (["history", "rv/nightlly"], "namespace 'rv' has no task 'nightlly'; its tasks: nightly, wkend\n"),
    (
        ["history", "rv/nightlly", "--status", "ok"],
        "namespace 'rv' has no task 'nightlly'; its tasks: nightly, wkend\n",
    ),
    (["history", "vr/nightly"], "namespace 'vr' is not installed; `orchestration list` shows what is\n"),
    (
        ["history", "rv/*"],
        "'rv/*' is not a task's name: names are 1-64 letters, digits, '-' or '_'; " + NOT_A_NAME,
    ),
    (["history", "*"], "'*' is not a task's name: names are 1-64 letters, digits, '-' or '_'; " + NOT_A_NAME),
    (["history", "rv/wkend/x"], "'rv/wkend/x' is not NAMESPACE or NAMESPACE/TASK; " + NOT_A_NAME),
    (["history", ""], "'' is not NAMESPACE or NAMESPACE/TASK; " + NOT_A_NAME),
    (["logs", "rv"], "'rv' is not NAMESPACE/TASK; " + NOT_A_NAME),
    (["logs", "rv/nosuch"], "namespace 'rv' has no task 'nosuch'; its tasks: nightly, wkend\n"),
    (["logs", "rv/nosuch", "--run", "x"], "namespace 'rv' has no task 'nosuch'; its tasks: nightly, wkend\n"),
    (
        ["logs", "rv/nightly/x"],
        "'rv/nightly/x' is not a task's name: names are 1-64 letters, digits, '-' or '_'; " + NOT_A_NAME,
    ),
    (
        ["logs", "rv/?ightly"],
        "'rv/?ightly' is not a task's name: names are 1-64 letters, digits, '-' or '_'; " + NOT_A_NAME,
    ),
]


@pytest.mark.parametrize(("arguments", "message"), REFUSED, ids=[" ".join(call[0]) for call in REFUSED])
def test_a_misspelt_or_malformed_name_is_refused(fired: Project, arguments: list[str], message: str) -> None:
    result = cli(*arguments)
    assert (result.exit_code, result.output) == (2, "Error: " + message)


def test_the_runs_of_an_uninstalled_task_stay_readable(fired: Project, state_home: Path) -> None:
    [run_line] = cli("history", "rv/nightly").output.splitlines()
    log = cli("logs", "rv/nightly").output
    assert log.startswith("orchestration rv/nightly: record.sh [1/1] ok (")
    assert cli("uninstall", "--name", "rv").exit_code == 0
    assert cli("history", "rv/nightly").output.splitlines() == [run_line]
    assert cli("history", "rv").output.splitlines() == [run_line]
    assert cli("logs", "rv/nightly").output == log
    never_ran = cli("history", "rv/wkend")
    assert (never_ran.exit_code, never_ran.output) == (
        2,
        "Error: namespace 'rv' is not installed; `orchestration list` shows what is\n"
        "`orchestration history rv` lists the runs recorded of its tasks.\n",
    )


def test_an_empty_history_names_its_filters(fired: Project) -> None:
    assert cli("history", "--status", "skipped").output == "No runs match --status skipped.\n"
    assert cli("history", "rv", "--status", "failed", "--since", "2h").output == (
        "No runs of rv match --status failed --since 2h.\n"
    )
    assert cli("history", "rv/wkend").output == "No runs of rv/wkend recorded yet.\n"
    installed_without_runs = cli("logs", "rv/wkend")
    assert (installed_without_runs.exit_code, installed_without_runs.output) == (
        2,
        "Error: rv/wkend has no runs yet; `orchestration history rv/wkend` lists its runs\n",
    )


def test_completion_of_namespaces_statuses_and_every_task_reference(project: Project, state_home: Path) -> None:
    for body in (TASKS, TASKS.replace("'rv'", "'rw'")):
        [compiled] = compile_file(project.write(body), capture_environment(state_home))
        placed = compiled.placed("crontab", "user")
        manifests.write(manifests.versioned_path(state_home, placed), placed)

    def complete(line: str) -> list[str]:
        environment = {
            **os.environ,
            "_ORCHESTRATION_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(line.split(" ")) - 1),
        }
        offered = subprocess.run([PROGRAM], capture_output=True, text=True, env=environment).stdout.splitlines()
        return [item.split(",", 1)[1] for item in offered if item.startswith("plain,")]

    assert complete("orchestration uninstall --name ") == ["rv", "rw"]
    assert complete("orchestration uninstall --name rw") == ["rw"]
    assert complete("orchestration history --status ") == [
        "running", "ok", "failed", "skipped", "error", "timeout", "overlap", "killed"
    ]  # fmt: skip
    assert complete("orchestration history --status s") == ["skipped"]
    assert complete("orchestration notify test rv/") == ["rv/nightly", "rv/wkend"]
    for command in ("pause", "resume", "history"):
        assert complete(f"orchestration {command} rv") == ["rv", "rv/nightly", "rv/wkend"]
        assert complete(f"orchestration {command} r") == [
            "rv",
            "rw",
            "rv/nightly",
            "rv/wkend",
            "rw/nightly",
            "rw/wkend",
        ]
    assert complete("orchestration run rw") == ["rw/nightly", "rw/wkend"]
