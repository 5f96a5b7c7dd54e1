"""Trust: no other user can make your schedules run their code, and no damage, kill or edit makes
a run wrong or lost. One test (or more) per item of the issue that asked for it, each failing on
the code before it; the attacker cases with two real users, the scheduler cases with the real
cron daemon and the real systemd user manager of the sandbox."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, cron_pid, manifest_file, read_crontab, run_log, run_log_bytes, skip_or_fail, wait_for
from orchestration.api import compile_file
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
        (
            ONE.format(params="{'p': 'x' * 200000}"),
            "is 200,000 bytes long (200,022 as the variable ORCHESTRATION_PARAM_P); Linux passes at most 131,071 bytes",
        ),
        (  # short enough for an argument, not for the variable that carries it too
            "from orchestration import secret\n" + ONE.format(params="{'p': secret('x' * 131060)}"),
            "parameter 'p' is 131,060 bytes long (131,082 as the variable ORCHESTRATION_PARAM_P)",
        ),
        (
            "from orchestration import secret\no = Orchestrator(name='ns')\n"
            "o.add_task('0 1 * * *', 'bash', name='t', env={'K': secret('x' * 131070)})",
            "env 'K' is 131,070 bytes long (131,072 as the variable K)",
        ),
    ],
    ids=[
        "namespace-newline",
        "task-newline",
        "parameter-newline",
        "nul",
        "surrogate",
        "too-long",
        "too-long-as-variable",
        "env-too-long",
    ],
)
def test_what_cannot_be_carried_is_refused_at_definition(project: Project, body: str, message: str) -> None:
    result = CliRunner().invoke(main, ["compile", str(project.write(body))])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_tasks_file_whose_path_is_not_utf8_is_refused(project: Project) -> None:
    tasks = os.fsencode(project.root) + b"/t\xff.py"
    Path(os.fsdecode(tasks)).write_text(
        "from orchestration import Orchestrator\nOrchestrator(name='x').execute_tasks()\n"
    )
    result = subprocess.run([PROGRAM, "compile", tasks], capture_output=True, text=True)
    assert result.returncode == 2
    assert "is not valid UTF-8, so it cannot be written into a crontab or a unit file; rename it" in result.stderr
    assert "Traceback" not in result.stderr
    direct = subprocess.run([sys.executable, tasks], capture_output=True, text=True, cwd=project.root)
    assert direct.returncode == 2  # bad input, as from the command
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
    assert all("line 3000" in run_log(run) for run in recorded)


# --- 8: user code can neither end, hang nor hide a run ------------------------------------------

UNRULY = """
import os, sys, time

def exits():
    sys.exit(0)

def interrupts():
    raise KeyboardInterrupt

def vanishes():
    os._exit(0)

def swallows():
    while True:
        try:
            time.sleep(3600)
        except:  # noqa: E722 - user code that catches everything, the time limit and signals too
            pass

def started():
    open(os.path.join(os.path.dirname(__file__), 'deciding'), 'w').close()
    return swallows()

o = Orchestrator(name='ns')
for name, skip in [('exits', exits), ('interrupts', interrupts), ('vanishes', vanishes)]:
    o.add_task('0 1 * * *', 'bash', name=name).add_script('record.sh').add_skip(skip)
o.add_task('0 1 * * *', 'bash', name='swallows', timeout=1).add_script('record.sh').add_skip(swallows)
o.add_task('0 1 * * *', 'bash', name='value', timeout=1).add_script('record.sh', {'v': swallows})
o.add_task('0 1 * * *', 'bash', name='signalled').add_script('record.sh', {'v': started})
"""


def test_user_code_that_exits_interrupts_or_swallows_everything_still_ends_in_a_record(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, UNRULY)
    expected = {
        "exits": (1, "error", "skip condition exits() raised SystemExit: 0"),
        "interrupts": (1, "error", "skip condition interrupts() raised KeyboardInterrupt"),
        "vanishes": (
            1,
            "error",
            "skip condition vanishes() ended the process that runs the tasks file's code (exit status 0)"
            " without an answer",
        ),
        "swallows": (124, "timeout", "timed out after 1s in the skip condition swallows()"),
        "value": (124, "timeout", "timed out after 1s while working out the parameters"),
    }
    for task, (code, status, reason) in expected.items():
        began = time.monotonic()
        result = fire(state_home, task, timeout=30)
        assert result.returncode == code, (task, result.stdout, result.stderr)
        assert time.monotonic() - began < 10
        [run] = runs(state_home, task)
        assert (run.status, run.exit_code, run.reason) == (status, code, reason)
    shim = subprocess.Popen([EXEC, str(manifest_file(state_home, "ns")), "signalled"], stdout=subprocess.PIPE)
    assert wait_for(lambda: (project.root / "deciding").exists(), 10)
    shim.send_signal(signal.SIGTERM)
    shim.communicate(timeout=30)
    assert shim.returncode == 143
    [run] = runs(state_home, "signalled")
    assert (run.status, run.reason) == ("killed", "stopped by SIGTERM")
    assert project.records() == []  # no script ran
    assert subprocess.run(["pgrep", "-f", str(manifest_file(state_home, "ns"))]).returncode == 1  # nothing left


# --- 6: a daemon that holds the script's output holds neither the run nor the task -----------


def test_a_setsid_daemon_holding_the_output_neither_holds_the_run_nor_outlives_its_record(
    real_crontab, project: Project, state_home: Path
) -> None:
    (project.root / "daemon.sh").write_text("#!/bin/bash\necho started\nsetsid sleep 3004 &\necho done\n")
    (project.root / "slow.sh").write_text("#!/bin/bash\nsetsid sleep 3005 &\nsleep 3006\n")
    install(
        project,
        "o = Orchestrator(name='ns')\n"
        "o.add_task('0 1 * * *', 'bash', name='quick', timeout=3).add_script('daemon.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='slow', timeout=2).add_script('slow.sh')\n",
    )
    try:
        began = time.monotonic()
        quick = fire(state_home, "quick", timeout=60)
        assert time.monotonic() - began < 2.5
        assert (quick.returncode, quick.stdout.splitlines()[:2]) == (0, ["started", "done"])
        began = time.monotonic()
        slow = fire(state_home, "slow", timeout=60)
        assert slow.returncode == 124 and time.monotonic() - began < 5
        assert [run.status for run in runs(state_home)] == ["ok", "timeout"]
        assert fire(state_home, "quick", timeout=60).returncode == 0  # not an overlap
        assert [run.status for run in runs(state_home, "quick")] == ["ok", "ok"]
    finally:
        subprocess.run(["pkill", "-f", "sleep 300[456]"])


# --- 7: kill -9 of the shim --------------------------------------------------------------------


def test_a_shim_killed_outright_leaves_its_script_bounded_and_its_turn_taken(
    real_crontab, project: Project, state_home: Path
) -> None:
    (project.root / "long.sh").write_text("#!/bin/bash\necho $$ > pid\nsleep 3007 & sleep 3008\n")
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='t', timeout=3).add_script('long.sh')\n",
    )
    shim = subprocess.Popen([EXEC, str(manifest_file(state_home, "ns")), "t"], stdout=subprocess.DEVNULL)
    assert wait_for(lambda: (project.root / "pid").exists(), 10)
    began = time.monotonic()
    shim.kill()
    shim.wait()
    second = fire(state_home)  # the orphan still runs: this firing sees it
    assert second.returncode == 0
    alive = lambda: subprocess.run(["pgrep", "-f", "sleep 300[78]"], capture_output=True).returncode == 0  # noqa: E731
    assert wait_for(lambda: not alive(), 15)
    assert time.monotonic() - began < 3 + 5 + 1  # its time limit and the grace period
    assert wait_for(lambda: fire(state_home).returncode == 124, 15)  # the turn is free again
    killed, overlap, *_, last = runs(state_home)
    assert (killed.status, killed.reason) == (
        "killed",
        "ended without a record: killed outright (SIGKILL, out of memory, a reboot)",
    )
    assert (overlap.status, last.status) == ("overlap", "timeout")


def test_a_killed_run_of_a_task_that_may_overlap_is_closed_once_its_shim_is_gone(
    real_crontab, project: Project, state_home: Path
) -> None:
    (project.root / "wait.sh").write_text("#!/bin/bash\ntouch started\nwhile [ ! -e release ]; do sleep 0.05; done\n")
    install(
        project,
        "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='t', overlap='allow').add_script('wait.sh')\n",
    )
    shim = subprocess.Popen([EXEC, str(manifest_file(state_home, "ns")), "t"], stdout=subprocess.DEVNULL)
    assert wait_for(lambda: (project.root / "started").exists(), 10)
    shim.kill()
    shim.wait()
    (project.root / "release").touch()
    assert fire(state_home).returncode == 0
    killed, ok = runs(state_home)
    assert (killed.status, ok.status) == ("killed", "ok")
    assert killed.reason == "ended without a record: killed outright (SIGKILL, out of memory, a reboot)"


# --- 11: every foreign byte of the crontab survives ------------------------------------------------

FOREIGN_BYTES = (
    b"# tab, vertical tab, form feed, file separator and Latin-1 in foreign lines\n"
    b"\t0 * * * *\techo tab\n"
    b"1 * * * * echo vt\x0bff\x0cfs\x1cnel\xc2\x85ls\xe2\x80\xa8 caf\xe9\n"
    b"TRAILING=space   \n"
)


def test_foreign_crontab_bytes_survive_install_and_uninstall(real_crontab, project: Project) -> None:
    before = real_crontab.encode() + FOREIGN_BYTES
    subprocess.run(["crontab", "-"], input=before, check=True)
    tasks = project.write(ONE.format(params="{}"))
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    after = subprocess.run(["crontab", "-l"], capture_output=True).stdout
    assert after.startswith(before) and after.count(b"# BEGIN orchestration:ns") == 1
    project.write(ONE.format(params="{'v': 2}"))
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    assert cli("uninstall", "--name", "ns").exit_code == 0
    assert subprocess.run(["crontab", "-l"], capture_output=True).stdout == before


@pytest.mark.parametrize(
    "line", [b"0 * * * * echo dos\r\n", b"CR=on-an-environment-line\r\n"], ids=["entry", "variable"]
)
def test_a_carriage_return_cannot_be_carried_and_is_refused_saying_why(
    real_crontab, project: Project, line: bytes
) -> None:
    before = real_crontab.encode() + line
    subprocess.run(["crontab", "-"], input=before, check=True)
    listed = subprocess.run(["crontab", "-l"], capture_output=True).stdout
    result = CliRunner().invoke(main, ["install", str(project.write(ONE.format(params="{}"))), "--backend", "crontab"])
    assert result.exit_code == 2
    number = len(real_crontab.splitlines()) + 1
    assert result.output.startswith(
        f"Error: line(s) {number} of your crontab show '\\r', which `crontab -l` prints both for a carriage return"
    )
    assert "Nothing was changed." in result.output
    assert subprocess.run(["crontab", "-l"], capture_output=True).stdout == listed


# --- 1, 2: another user who controls the state folder cannot make your schedules run their code -


def _useradd(name: str) -> None:
    for _ in range(50):  # another useradd may hold /etc/passwd's lock for a moment
        result = subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True
        )
        if result.returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail(f"useradd {name}: {result.stderr}")


@pytest.fixture
def users(sandbox, tmp_path: Path):
    """Two real users, a victim and mallory, with a folder each that they own; removed after."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None:
        skip_or_fail("two users need root, useradd and runuser")
    import pwd

    suffix = f"{os.getpid() % 100000}"
    names = {"victim": f"orchv{suffix}", "mallory": f"orchm{suffix}"}
    base = Path(tempfile.mkdtemp(prefix="orchestration-users-", dir="/tmp"))
    base.chmod(0o755)
    try:
        for role, name in names.items():
            _useradd(name)
            shutil.rmtree(f"/tmp/orchestration-{pwd.getpwnam(name).pw_uid}", ignore_errors=True)  # an old user's
            home = base / role
            home.mkdir(mode=0o755)
            os.chown(home, pwd.getpwnam(name).pw_uid, pwd.getpwnam(name).pw_gid)
        with interpreter_reachable_by_all():
            yield {role: (name, pwd.getpwnam(name).pw_uid, base / role) for role, name in names.items()}
    finally:
        for name in names.values():
            shutil.rmtree(f"/tmp/orchestration-{pwd.getpwnam(name).pw_uid}", ignore_errors=True)
            subprocess.run(["crontab", "-r", "-u", name], capture_output=True)
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def interpreter_reachable_by_all():
    """The interpreter of these tests may live in a folder only root may enter (/root): in the
    sandbox's private mount namespaces (ours, and the cron daemon's, which may be another), that
    folder is shown as one everybody may pass through, holding only the way to the interpreter."""
    real = Path(os.path.realpath(sys.executable))
    closed = next((folder for folder in reversed(real.parents) if not folder.stat().st_mode & 0o001), None)
    if closed is None:
        yield
        return
    inside = real.relative_to(closed).parts[0]
    namespaces = [[]]
    cron = cron_pid()
    if cron is not None and os.readlink(f"/proc/{cron}/ns/mnt") != os.readlink("/proc/self/ns/mnt"):
        namespaces.append(["nsenter", "-t", str(cron), "-m", "--"])
    hidden = Path(tempfile.mkdtemp(prefix="orchestration-closed-", dir="/run"))
    steps = [
        ["mount", "--bind", str(closed), str(hidden)],
        ["mount", "-t", "tmpfs", "-o", "mode=0711", "tmpfs", str(closed)],
        ["mkdir", str(closed / inside)],
        ["mount", "--bind", str(hidden / inside), str(closed / inside)],
    ]
    try:
        for enter in namespaces:
            for step in steps:
                subprocess.run([*enter, *step], check=True)
        yield
    finally:
        for enter in namespaces:
            for target in (closed / inside, closed, hidden):
                subprocess.run([*enter, "umount", str(target)], capture_output=True)
        hidden.rmdir()


def as_user(name: str, home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    environment = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env}
    return subprocess.run(
        ["runuser", "-u", name, "--", "env", "-i", *(f"{k}={v}" for k, v in environment.items()), *argv],
        capture_output=True,
        text=True,
        cwd=home,
    )


VICTIM_TASKS = "from orchestration import Orchestrator\no = Orchestrator(name='ns')\no.add_task('{when}', 'bash', name='t').add_script('own.sh')\n"


def plant(manifest: dict, script: Path) -> str:
    """The victim's manifest with mallory's script in its place."""
    for task in manifest["tasks"].values():
        for step in task["steps"]:
            step["script"], step["command"] = str(script), ["/bin/bash", str(script)]
    return json.dumps(manifest)


@pytest.mark.cron_daemon
def test_a_state_folder_another_user_controls_is_refused_by_install_and_by_every_run(
    cron_daemon, users, tmp_path: Path
) -> None:
    (victim, victim_uid, home), (mallory, _, lair) = users["victim"], users["mallory"]
    for role_home, owner in ((home, victim), (lair, mallory)):
        as_user(owner, role_home, "sh", "-c", "umask 022; printf '#!/bin/bash\\ntouch ran-$(id -un)\\n' > own.sh")
    as_user(victim, home, "sh", "-c", f'umask 022; printf "{VICTIM_TASKS.format(when="* * * * *")}" > tasks.py')
    tasks = str(home / "tasks.py")

    # Install: a state folder mallory owns (or can write) is refused, naming it and its owner.
    refused = as_user(
        victim, home, PROGRAM, "install", tasks, "--backend", "crontab", ORCHESTRATION_HOME=str(lair / "state")
    )
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(f"Error: {lair} belongs to user {mallory} (uid ")
    assert f"not to user {victim} (uid {victim_uid}) or root" in refused.stderr
    assert not (lair / "state").exists()

    # The victim installs with a state folder of their own, then makes it writable by anyone.
    state = home / "state"
    installed = as_user(victim, home, PROGRAM, "install", tasks, "--backend", "crontab", ORCHESTRATION_HOME=str(state))
    assert installed.returncode == 0, installed.stderr
    [manifest] = (state / "manifests").glob("ns.*.json")
    planted = plant(json.loads(manifest.read_text()), lair / "own.sh")
    state.chmod(0o777)
    # Mallory swaps the manifests folder for her own, with the same file name in it.
    swap = f"mv {state}/manifests {state}/gone && mkdir {state}/manifests && cat > {manifest}"
    swapped = subprocess.run(["runuser", "-u", mallory, "--", "sh", "-c", swap], input=planted, text=True)
    assert swapped.returncode == 0 and manifest.stat().st_uid != victim_uid

    # The victim's cron fires the entry: nothing runs, and the refusal is kept where history reads it.
    spare = Path(f"/tmp/orchestration-{victim_uid}")

    def refusals() -> list[str]:
        return [p.read_text() for p in spare.glob("*fallback*") if f"refused to run: {state} " in p.read_text()]

    assert wait_for(lambda: spare.is_dir() and refusals(), 75)
    assert not (lair / f"ran-{victim}").exists() and not (home / f"ran-{victim}").exists()
    [line] = refusals()
    record = json.loads(line.splitlines()[0])
    assert (record["status"], record["exit_code"]) == ("error", 2)
    assert record["reason"].startswith(
        f"refused to run: {state} belongs to user {victim} (uid {victim_uid}) but can be written by anyone"
    )
    history = as_user(victim, home, PROGRAM, "history", "--json", ORCHESTRATION_HOME=str(state))
    assert "refused to run" in history.stdout


def test_as_root_a_state_folder_another_user_controls_is_refused_for_system_scope(
    users, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (mallory, _, lair) = users["mallory"]
    state = lair / "state"
    monkeypatch.setenv("ORCHESTRATION_HOME", str(state))
    tasks = project.write(ONE.format(params="{}"))
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "systemd", "--scope", "system"])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {lair} belongs to user {mallory} (uid ")
    assert "not to user root (uid 0) or root" in result.output and "ORCHESTRATION_HOME" in result.output
    assert not list(Path("/etc/systemd/system").glob("orchestration-ns-*"))

    # What root's unit would run: a manifest mallory planted in a folder she controls is refused.
    (lair / "evil.sh").write_text("#!/bin/bash\ntouch /tmp/orchestration-pwned-by-mallory\n")
    planted = state / "manifests" / "ns.0123456789ab.json"
    subprocess.run(["runuser", "-u", mallory, "--", "mkdir", "-p", str(planted.parent)], check=True)
    [manifest] = compile_file(tasks)
    text = plant(json.loads(manifest.placed("systemd", "system").to_json()), lair / "evil.sh")
    subprocess.run(
        ["runuser", "-u", mallory, "--", "sh", "-c", f"umask 077; cat > {planted}"], input=text, text=True, check=True
    )
    run = subprocess.run([EXEC, str(planted), "t"], capture_output=True, text=True)
    assert run.returncode == 2
    assert f"refused to run: {state} belongs to user {mallory}" in run.stderr
    assert not Path("/tmp/orchestration-pwned-by-mallory").exists()


# --- 9: a reinstall never runs a task; a firing systemd repeats is run once ---------------------


def timer_property(timer: str, name: str) -> str:
    return subprocess.run(
        ["systemctl", "--user", "show", f"--property={name}", "--value", timer], capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.systemd
def test_editing_a_schedule_and_reinstalling_never_elapses_the_timer(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    body = "o = Orchestrator(name='ns')\no.add_task('{when}', 'bash', name='t').add_script('record.sh')\n"
    tasks = project.write(body.format(when="* * * * *"))
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    timer = "orchestration-ns-t.timer"
    try:
        assert wait_for(lambda: [run.status for run in runs(state_home)] == ["ok"], 75)
        last = timer_property(timer, "LastTriggerUSec")
        assert last
        for when in ("*/1 * * * *", "*/2 * * * *", "* * * * *"):  # each rewrites the timer's unit
            project.write(body.format(when=when))
            result = cli("install", str(tasks), "--backend", "systemd")
            assert result.exit_code == 0 and "1 changed" in result.output
        time.sleep(3)
        assert timer_property(timer, "LastTriggerUSec") in ("", last)  # no elapse since: no start
        log = Path(os.environ["SYSTEMD_USER_MANAGER_LOG"]).read_text(errors="replace")
        assert "already ran as run" not in log  # (the shim would not run it twice, but say so)
        assert timer_property(timer, "ActiveState") == "active"
        assert len(runs(state_home)) == 1
        assert wait_for(lambda: len(runs(state_home)) == 2, 65)  # the next minute comes as it should
        first, second = runs(state_home)
        assert second.scheduled_time == first.scheduled_time + 60
    finally:
        cli("uninstall", "--name", "ns")


def test_a_firing_systemd_starts_again_for_a_time_that_ran_is_recorded_once(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, ONE.format(params="{}"))
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)  # both starts in one minute
    by_systemd = {**os.environ, "INVOCATION_ID": "0123456789abcdef0123456789abcdef"}
    first = fire(state_home, env=by_systemd)
    again = fire(state_home, env=by_systemd)
    assert first.returncode == again.returncode == 0
    [run] = runs(state_home)
    assert (run.trigger, run.status) == ("systemd", "ok")
    assert again.stdout == ""  # quiet, as a run that ends ok is
    assert len(project.records()) == 1
    logs = sorted(path.name for path in (state_home / "logs" / "ns" / "t").glob("*.log"))
    assert logs == ["runs.1.log"]  # the task's log, which holds the one run and nothing more
    assert (state_home / "logs" / "ns" / "t" / "runs.1.log").read_bytes() == run_log_bytes(run)
    by_hand = subprocess.run([EXEC, str(manifest_file(state_home, "ns")), "t", "--trigger", "manual"])
    assert by_hand.returncode == 0 and len(runs(state_home)) == 2  # `orchestration run` is a run of its own


def test_a_journal_of_another_user_is_refused(real_crontab, project: Project, state_home: Path) -> None:
    install(project, ONE.format(params="{}"))
    assert fire(state_home).returncode == 0
    journal = state_home / "journal.sqlite3"
    os.chown(journal, 65534, -1)
    result = fire(state_home)
    assert result.returncode == 2
    assert (
        f"refused to run: {journal} belongs to " in result.stderr and "(uid 65534), not to user root" in result.stderr
    )
    assert len(project.records()) == 1  # nothing ran
    os.chown(journal, 0, -1)
    journal.chmod(0o666)
    assert "can be written by others (mode -rw-rw-rw-)" in fire(state_home).stderr
    assert len(project.records()) == 1
