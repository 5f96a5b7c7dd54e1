"""Bad command lines and bad definitions beyond tests/test_definition_errors.py: each gives one
exact message and exit code 2, and the crontab, the unit folder and the manifests stay as they
were. Hostile parameter values are covered where they run (test_exec, test_cron_daemon,
test_systemd)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab
from orchestration.cli import main
from orchestration.targets.systemd import user_unit_dir

KEPT = "o = Orchestrator(name='kept')\no.add_task('0 1 * * *', 'bash', name='job').add_script('record.sh')\n"


def everything(state: Path) -> tuple:
    """What a wrong call must leave exactly as it was."""
    units = user_unit_dir()
    unit_files = {p.name: p.read_bytes() for p in sorted(units.glob("*"))} if units.is_dir() else {}
    manifests = {p.name: p.read_bytes() for p in sorted((state / "manifests").glob("*"))}
    return read_crontab(), unit_files, manifests


@pytest.fixture
def installed(real_crontab, project: Project, state_home: Path) -> Project:
    kept = project.write(KEPT, name="kept.py")
    assert CliRunner().invoke(main, ["install", str(kept), "--backend", "crontab"]).exit_code == 0
    return project


USAGE = "Usage: orchestration {command} [OPTIONS] {arguments}\nTry 'orchestration {command} --help' for help.\n\n"
CALLS = [
    (["install"], USAGE.format(command="install", arguments="TASKS_FILE") + "Error: Missing argument 'TASKS_FILE'.\n"),
    (
        ["install", "{file}", "--backend", "cron"],
        USAGE.format(command="install", arguments="TASKS_FILE")
        + "Error: Invalid value for '--backend': 'cron' is not one of 'auto', 'crontab', 'systemd', 'kubernetes'.\n",
    ),
    (
        ["install", "{file}", "--scope", "galaxy"],
        USAGE.format(command="install", arguments="TASKS_FILE")
        + "Error: Invalid value for '--scope': 'galaxy' is not one of 'user', 'system'.\n",
    ),
    (
        ["install", "{file}", "--backend", "crontab", "--scope", "system"],
        "Error: --scope system is for the systemd backend; a crontab belongs to the user who installs it"
        " (as root, root's crontab); use --backend systemd --scope system\n",
    ),
    (
        ["install", "{file}", "--force"],
        USAGE.format(command="install", arguments="TASKS_FILE") + "Error: No such option '--force'.\n",
    ),
    (["uninstall"], "Error: give exactly one of TASKS_FILE, --name NAMESPACE or --all\n"),
    (["uninstall", "{file}", "--all"], "Error: give exactly one of TASKS_FILE, --name NAMESPACE or --all\n"),
    (
        ["uninstall", "--name", "ghost"],
        "Error: namespace 'ghost' is not installed; `orchestration list` shows what is\n",
    ),
    (
        ["uninstall", "{dir}/never-installed.py"],
        "Error: nothing is installed from {dir}/never-installed.py; `orchestration list` shows what is\n",
    ),
    (["run", "kept"], "Error: 'kept' is not NAMESPACE/TASK; `orchestration list` shows them\n"),
    (["run", "ghost/job"], "Error: namespace 'ghost' is not installed; `orchestration list` shows what is\n"),
    (["run", "kept/ghost"], "Error: namespace 'kept' has no task 'ghost'; its tasks: job\n"),
    (["run", "/job"], "Error: '/job' is not NAMESPACE/TASK; `orchestration list` shows them\n"),
    (["next", "kept/ghost"], "Error: namespace 'kept' has no task 'ghost'; its tasks: job\n"),
    (
        ["next", "{file}", "--from", "next tuesday"],
        "Error: 'next tuesday' is not a time; use ISO 8601 such as 2026-01-31T09:00 or 2026-01-31T09:00+01:00\n",
    ),
    (
        ["next", "{file}", "--count", "0"],
        USAGE.format(command="next", arguments="TASKS_FILE|NAMESPACE/TASK")
        + "Error: Invalid value for '--count' / '-n': 0 is not in the range 1<=x<=10000.\n",
    ),
    (
        ["next", "{dir}/missing.py"],
        "Error: tasks file {dir}/missing.py does not exist\nGive the path of a Python file that creates an Orchestrator.\n",
    ),
    (
        ["history", "--status", "great"],
        "Error: unknown status 'great'; use one of running, ok, failed, skipped, error, timeout, overlap, killed\n",
    ),
    (
        ["history", "--since", "yesterday"],
        "Error: 'yesterday' is not a time; use an age such as 30m, 2h, 7d, or ISO 8601 such as 2026-01-31T09:00\n",
    ),
    (
        ["history", "--since", "9999999999d"],
        "Error: '9999999999d' is longer than a thousand years; give a shorter duration or a time\n",
    ),
    (
        ["pause", "kept/job", "--until", "99999999d"],
        "Error: '99999999d' is longer than a thousand years; give a shorter duration or a time\n",
    ),
    (
        ["next", "kept/job", "--from", "9999-12-31T23:59"],
        "Error: '9999-12-31T23:59' is too far ahead; give a time before the year 9991\n",
    ),
    (
        ["why", "kept/job", "--at", "9995-01-01T00:00"],
        "Error: '9995-01-01T00:00' is too far ahead; give a time before the year 9991\n",
    ),
    (
        ["history", "--json", "--follow"],
        "Error: --json prints the runs recorded so far and ends; it cannot be combined with --follow\n",
    ),
    (
        ["history", "--limit", "0"],
        USAGE.format(command="history", arguments="[NAMESPACE[/TASK]]")
        + "Error: Invalid value for '--limit' / '-n': 0 is not in the range x>=1.\n",
    ),
    (["logs", "kept/job"], "Error: kept/job has no runs yet; `orchestration history kept/job` lists its runs\n"),
    (
        ["logs", "kept/job", "--run", "nope"],
        "Error: kept/job has no run 'nope'; `orchestration history kept/job` lists its runs\n",
    ),
    (
        ["compile", "{dir}/missing.py"],
        "Error: tasks file {dir}/missing.py does not exist\nGive the path of a Python file that creates an Orchestrator.\n",
    ),
    (
        ["compile", "{file}", "--json", "--output", "{dir}/out"],
        "Error: --json prints the files and --output writes them into DIR: give one of them\n",
    ),
    (
        ["compile", "{file}", "--target", "launchd"],
        USAGE.format(command="compile", arguments="TASKS_FILE")
        + "Error: Invalid value for '--target': 'launchd' is not one of 'crontab', 'foreground', 'kubernetes',"
        " 'systemd'.\n",
    ),
    (
        ["status", "--bogus"],
        USAGE.format(command="status", arguments="").replace("[OPTIONS] \n", "[OPTIONS]\n")
        + "Error: No such option '--bogus'.\n",
    ),
    (
        ["frobnicate"],
        "Usage: orchestration [OPTIONS] COMMAND [ARGS]...\nTry 'orchestration --help' for help.\n\n"
        "Error: No such command 'frobnicate'.\n",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), CALLS, ids=[" ".join(call[0]) for call in CALLS])
def test_a_wrong_command_line_changes_nothing(installed: Project, state_home: Path, arguments, message) -> None:
    tasks = installed.write(
        "o = Orchestrator(name='other')\no.add_task('0 2 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    before = everything(state_home)
    args = [a.format(file=tasks, dir=installed.root) for a in arguments]
    result = CliRunner().invoke(main, args, prog_name="orchestration")
    assert result.output == message.format(file=tasks, dir=installed.root)
    assert result.exit_code == 2
    assert everything(state_home) == before


T = "task #1 ('* * * * *')"
DEFINITIONS = [
    (
        "o = Orchestrator()\no.add_task(5, 'bash')",
        "{file}:3: task #1 ('5'): cron_expression must be a string such as '0 * * * *', not int",
    ),
    (
        "o = Orchestrator()\no.add_task('@every 5m', 'bash')",
        "{file}:3: task #1 ('@every 5m'): cron expression '@every 5m' is not a known shortcut; use one of"
        " @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @reboot\nDid you mean '@weekly'?",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', name='a.b')",
        "{file}:3: task 'a.b': add_task(name=...): task name 'a.b' must be 1-64 letters, digits, '-' or '_',"
        " starting with a letter or digit (it becomes part of crontab markers and unit file names)",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', interval=float('inf'))",
        f"{{file}}:3: {T}: add_task: interval must be a number of seconds between scripts, not inf",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('.')",
        f"{{file}}:3: {T}: add_script: script {{dir}} is a directory\n"
        "Relative paths are resolved from the tasks file's folder {dir}.",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script(None)",
        f"{{file}}:3: {T}: add_script: script_path must be a path to a script file, not None",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_repeat('record.sh', {'a': 1})",
        f"{{file}}:3: {T}: add_repeat: script_parameters must be a list of dicts, one per run, or a"
        " function that returns one at each run, not dict\n"
        "Use add_script for a single run: task.add_script(path, {{'key': 'value'}})",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('record.sh', {'a': 1, 'A': 2})",
        f"{{file}}:3: {T}: add_script: parameter names 'a' and 'A' in script_parameters both become"
        " ORCHESTRATION_PARAM_A; rename one",
    ),
    (
        "o = Orchestrator(keep_runs=0)",
        "{file}:2: Orchestrator(keep_runs=...): 0 is not a positive whole number of runs to keep per task",
    ),
    (
        "o = Orchestrator(keep_days=-1)",
        "{file}:2: Orchestrator(keep_days=...): -1 is not a positive number of days to keep runs and logs",
    ),
    (
        "o = Orchestrator(max_log_bytes='big')",
        "{file}:2: Orchestrator(max_log_bytes=...): 'big' is not a positive whole number of bytes kept of"
        " each run's log",
    ),
    (
        "o = Orchestrator(python='/nonexistent/python3')",
        "{file}:2: Orchestrator(python=...): /nonexistent/python3 is not an executable file; give the path of"
        " the interpreter that python scripts should run with",
    ),
]


@pytest.mark.parametrize(("body", "message"), DEFINITIONS)
def test_a_wrong_definition_changes_nothing(installed: Project, state_home: Path, body: str, message: str) -> None:
    before = everything(state_home)
    tasks = installed.write(body + "\n")
    result = CliRunner().invoke(main, ["install", str(tasks)], prog_name="orchestration")
    assert result.output == "Error: " + message.format(file=tasks, dir=installed.root) + "\n"
    assert result.exit_code == 2
    assert everything(state_home) == before


def test_a_namespace_too_long_for_the_crontab_is_refused_whole(
    installed: Project, state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's crontab command takes at most 10,000 lines: a namespace that does not fit is refused
    with the figures and the way out, and no copy of the crontab is left in the temporary folder."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    tasks = installed.write(
        "o = Orchestrator(name='huge')\nfor i in range(5000):\n"
        "    o.add_task('0 3 * * *', 'bash', name=f't{i}').add_script('record.sh')\n"
    )
    block = CliRunner().invoke(main, ["compile", str(tasks), "--target", "crontab"]).output
    block_lines = block.count("\n")
    before = everything(state_home)

    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "crontab"])

    total = before[0].count("\n") + block_lines
    assert result.output == (
        f"Error: namespace 'huge' takes {block_lines:,} crontab lines, which would make your crontab"
        f" {total:,} lines long; this machine's crontab command takes at most 10,000. Nothing was changed.\n"
        "Install it with `--backend systemd`, which has no such limit, or define fewer tasks.\n"
    )
    assert result.exit_code == 2
    assert everything(state_home) == before
    assert list(temporary.iterdir()) == []
