"""The commands people reach for, on both targets: pause and resume, run --ignore-skips,
status --check, --json on install, compile and logs, hand-edited entries reported by list, status
and next, the hints for a missing user manager and for a python module the interpreter lacks;
and, without a scheduler, shell completion and colour."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, wait_for, write_crontab
from orchestration.api import compile_file
from orchestration.cli import main
from orchestration.compile.environment import capture_environment
from orchestration.installer import manifests
from orchestration.targets import as_text

PROGRAM = str(Path(sys.executable).with_name("orchestration"))

TASKS = """
o = Orchestrator(name='ns')
o.add_task('0 1 * * *', 'bash', name='a').add_script('record.sh', {'who': 'a'})
o.add_task('0 2 * * *', 'bash', name='b').add_script('record.sh', {'who': 'b'})
"""


def cli(*args: str, **kwargs):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)


@pytest.fixture(params=["crontab", "systemd"])
def backend(request: pytest.FixtureRequest, sandbox) -> str:
    """Each test runs once installing into the sandbox's crontab, once into its user manager."""
    request.getfixturevalue("real_crontab" if request.param == "crontab" else "systemd_user")
    return request.param


def install(project: Project, body: str, backend: str) -> Path:
    tasks = project.write(body)
    result = cli("install", str(tasks), "--backend", backend)
    assert result.exit_code == 0, result.output
    return tasks


def runs(*args: str) -> list[dict]:
    return json.loads(cli("history", *args, "--json").stdout)


def timer_state(task: str) -> str:
    unit = f"orchestration-ns-{task}.timer"
    return subprocess.run(["systemctl", "--user", "is-active", unit], capture_output=True, text=True).stdout.strip()


def transient_timers() -> str:
    return subprocess.run(
        ["systemctl", "--user", "list-timers", "--all", "orchestration-resume*"], capture_output=True, text=True
    ).stdout


# --- pause and resume ---------------------------------------------------------------------------------


def test_pause_and_resume_a_task_and_a_namespace(backend: str, project: Project, state_home: Path) -> None:
    install(project, TASKS, backend)
    crontab_before = read_crontab()

    paused = cli("pause", "ns/a")
    how = "its timers are stopped" if backend == "systemd" else "its firings are recorded as skipped (paused)"
    assert paused.output == f"Paused ns/a (1 task(s)) until `orchestration resume`: {how}.\n"
    assert read_crontab() == crontab_before  # no crontab rewrite
    if backend == "systemd":
        assert (timer_state("a"), timer_state("b")) == ("inactive", "active")
    listing = {item["task"]: item for item in json.loads(cli("list", "--json").output)}
    assert listing["a"]["paused"] == {"scope": "ns/a", "until": None}
    assert listing["b"]["paused"] is None
    assert "paused" in next(line for line in cli("list").output.splitlines() if line.startswith("ns/a "))

    assert cli("run", "ns/a").exit_code == 0
    [skipped] = runs("ns/a")
    assert (skipped["status"], skipped["reason"], skipped["trigger"]) == ("skipped", "paused", "manual")
    assert project.records() == []
    assert cli("run", "ns/a", "--ignore-skips").exit_code == 0
    assert runs("ns/a")[-1]["status"] == "ok"
    assert len(project.records()) == 1

    whole = cli("pause", "ns", "--until", "2h", "--json")
    change = json.loads(whole.output)
    assert change["tasks"] == ["ns/a", "ns/b"]
    assert abs(change["until"] - (time.time() + 7200)) < 60
    if backend == "systemd":
        assert (timer_state("a"), timer_state("b")) == ("inactive", "inactive")
        assert "orchestration-resume.ns.timer" in transient_timers()
    assert cli("run", "ns/b").exit_code == 0
    assert runs("ns/b")[-1]["reason"].startswith("paused (namespace ns) until ")
    # A reinstall that changes the tasks keeps them paused (on systemd: their timers stopped).
    project.write(TASKS.replace("'0 2 * * *'", "'0 3 * * *'"))
    assert "  ~ b  0 3 * * *" in cli("install", str(project.tasks_file), "--backend", backend).output
    if backend == "systemd":
        assert (timer_state("a"), timer_state("b")) == ("inactive", "inactive")
    crontab_before = read_crontab()

    still = cli("resume", "ns/a")
    assert still.output == "ns/a is still paused: its whole namespace is; resume it with `orchestration resume ns`.\n"
    assert cli("resume", "ns").output == "Resumed ns: it fires on its schedule again.\n"
    assert cli("resume", "ns").output == "ns was not paused; nothing changed.\n"
    if backend == "systemd":
        assert (timer_state("a"), timer_state("b")) == ("active", "active")
        assert "orchestration-resume.ns" not in transient_timers()
    assert all(item["paused"] is None for item in json.loads(cli("list", "--json").output))
    assert cli("run", "ns/a").exit_code == 0
    assert runs("ns/a")[-1]["status"] == "ok"
    assert read_crontab() == crontab_before


def test_the_end_of_a_namespace_pause_leaves_a_task_paused_for_good(
    backend: str, project: Project, state_home: Path
) -> None:
    """The namespace's pause runs out (on systemd its timer runs `resume --expired`); the task
    paused on its own stays paused, and listings show the pause that lasts longer meanwhile."""
    install(project, TASKS, backend)
    assert cli("pause", "ns/a").exit_code == 0
    assert cli("pause", "ns", "--until", "4s").exit_code == 0
    listing = {item["task"]: item["paused"] for item in json.loads(cli("list", "--json").output)}
    assert listing["a"] == {"scope": "ns/a", "until": None}
    assert listing["b"]["scope"] == "ns"
    if backend == "systemd":
        assert wait_for(lambda: timer_state("b") == "active", 30), "the namespace's pause did not end"
        assert timer_state("a") == "inactive"
    else:
        time.sleep(5)
    listing = {item["task"]: item["paused"] for item in json.loads(cli("list", "--json").output)}
    assert listing == {"a": {"scope": "ns/a", "until": None}, "b": None}
    assert (state_home / "paused" / "ns.a").exists()
    assert cli("run", "ns/a").exit_code == 0 and cli("run", "ns/b").exit_code == 0
    assert [(run["task"], run["status"]) for run in runs()] == [("a", "skipped"), ("b", "ok")]


def test_a_task_removed_by_a_reinstall_takes_its_pause_with_it(
    backend: str, project: Project, state_home: Path
) -> None:
    install(project, TASKS, backend)
    assert cli("pause", "ns/b").exit_code == 0
    install(project, TASKS.split("o.add_task('0 2")[0], backend)  # without b
    assert not (state_home / "paused" / "ns.b").exists()
    install(project, TASKS, backend)  # b again: a new task, not paused
    assert all(item["paused"] is None for item in json.loads(cli("list", "--json").output))
    if backend == "systemd":
        assert timer_state("b") == "active"


def test_pause_refuses_what_it_cannot_do(backend: str, project: Project, state_home: Path) -> None:
    install(project, TASKS, backend)
    runner = CliRunner()
    past = runner.invoke(main, ["pause", "ns/a", "--until", "2020-01-01T00:00"])
    assert (past.exit_code, past.stderr) == (2, "Error: --until 2020-01-01 00:00:00 +0000 is not in the future\n")
    wrong = runner.invoke(main, ["pause", "ns/a", "--until", "soon"])
    assert wrong.exit_code == 2
    assert "'soon' is not a time; use a duration such as 30m, 2h, 7d" in wrong.stderr
    missing = runner.invoke(main, ["pause", "ns/zz"])
    assert (missing.exit_code, missing.stderr) == (2, "Error: namespace 'ns' has no task 'zz'; its tasks: a, b\n")
    assert runner.invoke(main, ["resume", "other"]).exit_code == 2
    assert not (state_home / "paused").exists() or not list((state_home / "paused").iterdir())


def test_uninstall_forgets_a_pause(backend: str, project: Project, state_home: Path) -> None:
    tasks = install(project, TASKS, backend)
    assert cli("pause", "ns").exit_code == 0
    assert cli("pause", "ns/b", "--until", "1h").exit_code == 0
    assert (state_home / "paused" / "ns").exists()
    assert cli("uninstall", str(tasks)).exit_code == 0
    assert list((state_home / "paused").iterdir()) == []
    if backend == "systemd":  # nor would a timer left behind resume a namespace installed again
        assert "orchestration-resume.ns" not in transient_timers()
    install(project, TASKS, backend)
    assert all(item["paused"] is None for item in json.loads(cli("list", "--json").output))


# --- run --ignore-skips, status --check -----------------------------------------------------------------


def test_run_ignore_skips_runs_despite_the_skip_conditions(backend: str, project: Project) -> None:
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='off').add_script('record.sh').add_skip(True)\n",
        backend,
    )
    assert cli("run", "ns/off").exit_code == 0
    assert project.records() == []
    assert cli("run", "ns/off", "--ignore-skips").exit_code == 0
    assert len(project.records()) == 1
    skipped, forced = runs("ns/off")
    assert (skipped["status"], skipped["reason"]) == ("skipped", "skipped by add_skip(True)")
    assert forced["status"] == "ok"
    log = json.loads(cli("logs", "ns/off", "--json").output)["log"]
    assert "skip conditions and pauses are ignored for this run (--ignore-skips)" in log


def test_status_check_exits_1_when_something_needs_attention(backend: str, project: Project) -> None:
    tasks = install(project, TASKS + "o.add_task('0 3 * * *', 'bash', name='bad').add_script('fail.sh')\n", backend)
    healthy = cli("status", "--check")
    assert healthy.exit_code == 0
    assert cli("status", "--check", "--json").exit_code == 0
    cli("run", "ns/bad")
    failing = cli("status", "--check")
    assert failing.exit_code == 1
    assert failing.output.splitlines()[-1] == "! ns/bad: 1 failure(s) in a row; see `orchestration logs ns/bad`"
    assert cli("status", "--check", "--json").exit_code == 1
    assert cli("status").exit_code == 0  # without --check, status only shows
    assert cli("pause", "ns/bad").exit_code == 0  # silenced while it is fixed
    assert cli("status", "--check").exit_code == 0
    assert cli("resume", "ns/bad").exit_code == 0
    assert cli("status", "--check").exit_code == 1
    project.write(tasks.read_text()[len("from orchestration import Orchestrator\n") :].replace("fail.sh", "record.sh"))
    assert cli("install", str(tasks), "--backend", backend).exit_code == 0
    cli("run", "ns/bad")
    assert cli("status", "--check").exit_code == 0
    tasks.write_text(tasks.read_text() + "# drift\n")
    assert cli("status", "--check").exit_code == 1


# --- hand-edited entries --------------------------------------------------------------------------------


def test_list_status_and_next_report_hand_edited_entries(
    backend: str, project: Project, state_home: Path, request: pytest.FixtureRequest
) -> None:
    tasks = install(project, TASKS, backend)
    assert cli("status", "--check").exit_code == 0
    if backend == "crontab":
        write_crontab(
            "".join(line for line in read_crontab().splitlines(keepends=True) if "orchestration:ns:a" not in line)
        )
        edit = "its crontab entries were changed by hand (deleted: "
    else:
        unit_dir = request.getfixturevalue("systemd_user")
        (unit_dir / "orchestration-ns-a.timer").unlink()
        edit = "its systemd entries were changed by hand (deleted: orchestration-ns-a.timer)"
    listing = cli("list").output.splitlines()
    assert listing[1].startswith("ns/a !") and listing[-1] == "! needs attention: see `orchestration status`"
    status = cli("status", "--check")
    assert status.exit_code == 1
    [problem] = [line for line in status.output.splitlines() if line.startswith("! ns:")]
    assert problem.startswith(f"! ns: {edit}")
    assert problem.endswith(f"put them back with `orchestration install {tasks}`")
    upcoming = CliRunner().invoke(main, ["next", "ns/b", "-n", "1"])
    assert upcoming.exit_code == 0
    assert upcoming.stderr.startswith(f"Warning: ns: {edit}")
    assert upcoming.stdout.startswith("ns/b\n  ")
    reinstalled = CliRunner().invoke(main, ["install", str(tasks), "--backend", backend])
    assert "were changed by hand" in reinstalled.stderr
    assert cli("status", "--check").exit_code == 0


def test_a_listing_reads_the_crontab_once_for_all_its_namespaces(
    real_crontab: str, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three namespaces in one crontab, one of them edited by hand: `status` runs `crontab -l`
    once (the real command, counted on its way), and still tells the edited one from the others."""
    from orchestration.installer.crontab import UserCrontab

    for name in ("one", "two", "three"):
        tasks = project.write(TASKS.replace("'ns'", repr(name)), f"{name}.py")
        assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    write_crontab(
        "".join(line for line in read_crontab().splitlines(keepends=True) if "orchestration:two:a" not in line)
    )
    listed: list[tuple[str, ...]] = []
    real_run = UserCrontab._run

    def counted(self: UserCrontab, *arguments: str) -> subprocess.CompletedProcess[bytes]:
        listed.append(arguments)
        return real_run(self, *arguments)

    monkeypatch.setattr(UserCrontab, "_run", counted)
    status = cli("status", "--check")
    assert listed == [("-l",)]
    assert status.exit_code == 1
    problems = [line for line in status.output.splitlines() if line.startswith("! ")]
    assert [problem.split(":")[0] for problem in problems] == ["! two"]
    assert "its crontab entries were changed by hand (deleted: " in problems[0]


# --- --json on install, compile and logs ------------------------------------------------------------------


def test_install_compile_and_logs_print_json(backend: str, project: Project, state_home: Path) -> None:
    tasks = project.write(TASKS)
    plan = json.loads(cli("install", str(tasks), "--backend", backend, "--dry-run", "--json").output)
    assert plan["dry_run"] is True
    [namespace] = plan["namespaces"]
    assert (namespace["namespace"], namespace["backend"], namespace["added"]) == ("ns", backend, ["a", "b"])
    assert (namespace["schedules"]["a"], namespace["descriptions"]["a"]) == ("0 1 * * *", "at 01:00")
    assert not (state_home / "manifests").exists()  # a dry run writes nothing
    done = json.loads(cli("install", str(tasks), "--backend", backend, "--json").output)
    assert done["dry_run"] is False and done["namespaces"][0]["added"] == ["a", "b"]
    again = json.loads(cli("install", str(tasks), "--backend", backend, "--json").output)
    assert again["namespaces"][0]["unchanged"] == ["a", "b"] and again["namespaces"][0]["rewritten"] is False

    compiled = json.loads(cli("compile", str(tasks), "--target", backend, "--json").output)
    assert compiled["target"] == backend
    assert as_text(backend, compiled["files"]) == cli("compile", str(tasks), "--target", backend).output
    assert len(compiled["files"]) == (1 if backend == "crontab" else 4)

    cli("run", "ns/a")
    shown = json.loads(cli("logs", "ns/a", "--json").output)
    assert shown["run"]["run_id"] == runs("ns/a")[-1]["run_id"]
    assert shown["log"] == cli("logs", "ns/a").output
    assert "record.sh [1/1] ok" in shown["log"]
    both = CliRunner().invoke(main, ["logs", "ns/a", "--json", "--follow"])
    assert (both.exit_code, both.stderr) == (
        2,
        "Error: --json prints one run's log and ends; it cannot be combined with --follow\n",
    )


# --- hints ---------------------------------------------------------------------------------------------------


def test_a_python_script_missing_a_module_says_how_to_fix_it(backend: str, project: Project) -> None:
    (project.root / "needs.py").write_text("import a_module_nobody_installed\n")
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'python', name='py').add_script('needs.py')\n",
        backend,
    )
    assert cli("run", "ns/py").exit_code == 1  # the script's own exit code
    [run] = runs("ns/py")
    assert run["status"] == "failed"
    assert run["reason"] == (
        f"needs.py exited 1: module 'a_module_nobody_installed' is not installed for {sys.executable}"
    )
    log = cli("logs", "ns/py").output
    assert f"{sys.executable} -m pip install a_module_nobody_installed" in log
    assert "Orchestrator(python='/path/to/python')" in log


def test_no_user_manager_says_how_to_get_one(sandbox, project: Project, tmp_path: Path) -> None:
    tasks = project.write(TASKS)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    units = tmp_path / "config"
    environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(units)}
    environment.pop("DBUS_SESSION_BUS_ADDRESS", None)
    result = subprocess.run(
        [PROGRAM, "install", str(tasks), "--backend", "systemd"], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 2
    first, *hint = result.stderr.splitlines()
    assert first.startswith("Error: `systemctl --user` failed: Failed to connect to bus")
    assert hint == [
        "No systemd user manager answers for this user: it runs while you are logged in. Log in (a"
        " desktop or `ssh` session, not `su`), or let it run without a session with `loginctl"
        " enable-linger $USER` (as root: `loginctl enable-linger USER`), or install into your"
        " crontab instead with `--backend crontab`."
    ]
    assert list((units / "systemd" / "user").glob("orchestration-*")) == []  # put back as it was


# --- completion and colour: no scheduler needed ------------------------------------------------------------


def test_shell_completion_of_commands_options_and_installed_tasks(project: Project, state_home: Path) -> None:
    [compiled] = compile_file(project.write(TASKS), capture_environment(state_home))
    placed = compiled.placed("crontab", "user")
    manifests.write(manifests.versioned_path(state_home, placed), placed)

    def offered(line: str) -> list[str]:
        """What bash's completion function is given: 'TYPE,VALUE' lines."""
        words = line.split(" ")
        environment = {
            **os.environ,
            "_ORCHESTRATION_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        }
        return subprocess.run([PROGRAM], capture_output=True, text=True, env=environment).stdout.splitlines()

    def complete(line: str) -> list[str]:
        return [item.split(",", 1)[1] for item in offered(line) if item.startswith("plain,")]

    assert complete("orchestration pa") == ["pause"]
    assert complete("orchestration history --re") == ["--reverse"]
    assert complete("orchestration run ns/") == ["ns/a", "ns/b"]
    assert complete("orchestration pause n") == ["ns", "ns/a", "ns/b"]
    assert complete("orchestration pause ns/") == ["ns/a", "ns/b"]
    assert complete("orchestration logs x") == []
    assert complete("orchestration completion f") == ["fish"]
    # A tasks file: the shell completes file names ('file' asks it to); next offers tasks too.
    for command in ("install", "uninstall", "compile", "run-scheduler"):
        assert offered(f"orchestration {command} ta") == ["file,ta"]
    assert offered("orchestration next ns/") == ["file,ns/", "plain,ns/a", "plain,ns/b"]
    script = subprocess.run([PROGRAM, "completion", "bash"], capture_output=True, text=True).stdout
    assert "_ORCHESTRATION_COMPLETE=bash_complete" in script and "complete -o nosort -F" in script


def _on_a_terminal(argv: list[str], environment: dict[str, str], stderr: int | None = None) -> str:
    """What `argv` prints when its stdout (and, unless `stderr` is given, its stderr) is a terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, stdout=follower, stderr=follower if stderr is None else stderr, env=environment)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(leader)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color_or_never(state_home: Path) -> None:
    argv = [PROGRAM, "why", "nowhere/task"]
    plain = {key: value for key, value in os.environ.items() if key != "NO_COLOR"} | {"TERM": "xterm"}
    red = "\x1b[31m\x1b[1mError:\x1b[0m namespace 'nowhere' is not installed"
    assert red in _on_a_terminal(argv, plain)
    assert "\x1b[" not in _on_a_terminal(argv, {**plain, "NO_COLOR": "1"})
    assert "\x1b[" not in _on_a_terminal([PROGRAM, "--color", "never", *argv[1:]], plain)
    assert red in _on_a_terminal([PROGRAM, "--color", "always", *argv[1:]], {**plain, "NO_COLOR": "1"})
    piped = subprocess.run(argv, capture_output=True, text=True, env=plain)
    assert piped.stderr == "Error: namespace 'nowhere' is not installed; `orchestration list` shows what is\n"
    forced = subprocess.run([PROGRAM, "--color", "always", *argv[1:]], capture_output=True, text=True, env=plain)
    assert forced.stderr.startswith(red)
    # Each stream by itself: errors into a file stay plain while the output is a terminal.
    with tempfile.TemporaryFile("w+") as errors:
        _on_a_terminal(argv, plain, stderr=errors.fileno())
        errors.seek(0)
        assert errors.read() == "Error: namespace 'nowhere' is not installed; `orchestration list` shows what is\n"
