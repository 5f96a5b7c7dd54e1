"""Where no scheduler runs: `orchestration run-scheduler` and `execute_tasks()` run the tasks in
the foreground with a real cron daemon, tested as a container runs its entry point: PID 1 of a
fresh PID and mount namespace, as root, no daemon before it; the runs and their output appear on
its stdout, and SIGTERM stops it cleanly. Also: what execute_tasks() says it did, the 1.x loop
`while True: execute_tasks()`, and what is said when cron is missing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CRON_DAEMON, Project, read_crontab, skip_or_fail
from orchestration import api
from orchestration.api import compile_file
from orchestration.cli import main
from orchestration.compile.environment import capture_environment
from orchestration.define.loader import load_tasks_file
from orchestration.errors import SchedulerUnavailableError
from orchestration.installer import foreground, manifests

PROGRAM = str(Path(sys.executable).with_name("orchestration"))
EXAMPLE = Path(__file__).resolve().parent.parent / "scripts" / "example"
CONTAINER = ["unshare", "--pid", "--fork", "--mount-proc", "--mount", "--propagation", "private"]


@pytest.fixture
def container(sandbox) -> None:
    """What a container's entry point needs here: root, unshare and Debian's cron."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        skip_or_fail("a fresh PID and mount namespace needs root and unshare")
    if not os.path.exists(CRON_DAEMON):
        skip_or_fail("no cron daemon installed (Debian: apt-get install cron)")


class Output:
    """The lines a process prints, read as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        os.set_blocking(process.stdout.fileno(), False)
        self._partial = b""

    def wait_for(self, *needles: str, timeout: float) -> bool:
        """Until each needle is in a line (a needle 'a&&b': both in one line)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read()
            if self._seen(needles):
                return True
            if self.process.poll() is not None:
                self._read()
                break
            time.sleep(0.2)
        return self._seen(needles)

    def _seen(self, needles: tuple[str, ...]) -> bool:
        return all(any(all(part in line for part in needle.split("&&")) for line in self.lines) for needle in needles)

    def _read(self) -> None:
        try:
            chunk = os.read(self.process.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        self.lines += [line.decode() for line in complete]


def entry_point(process: subprocess.Popen) -> int:
    """The host pid of the namespace's PID 1: the child of `unshare --fork`."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = children.read_text().split() if children.exists() else []
        if found:
            return int(found[0])
        time.sleep(0.1)
    raise AssertionError("unshare started no process")


def namespace_pid(pid: int) -> str:
    [line] = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("NSpid:")]
    return line.split()[-1]


def copy_example(project: Project) -> Path:
    for name in ("tasks.py", "hello.sh", "report.py"):
        shutil.copy(EXAMPLE / name, project.root / name)
    return project.root / "tasks.py"


def test_run_scheduler_as_pid_1_runs_the_example_and_stops_on_sigterm(
    container, project: Project, state_home: Path
) -> None:
    tasks = copy_example(project)
    crontab_before = read_crontab()
    process = subprocess.Popen(
        [*CONTAINER, PROGRAM, "run-scheduler", str(tasks)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = Output(process)
    try:
        pid = entry_point(process)
        assert namespace_pid(pid) == "1"
        assert output.wait_for("from a private crontab spool", timeout=30), output.lines
        # The scheduled runs happen, and their output and run lines appear on its stdout.
        assert output.wait_for("Hello, world!", "Hi, cron!", "  example/greet  &&  ok  ", timeout=75), output.lines
        run_line = next(line for line in output.lines if "  example/greet  " in line and "  ok  " in line)
        assert run_line.split("  ")[3] == "ok"
        assert "orchestration example/greet: hello.sh [2/2] ok" in "\n".join(output.lines)
        assert read_crontab() == crontab_before  # the machine's crontab is untouched

        # From another shell, the other commands see the tasks (backend foreground), no problem.
        listing = json.loads(CliRunner().invoke(main, ["list", "--json"]).output)
        assert {(item["task"], item["backend"], tuple(item["problems"])) for item in listing} == {
            ("greet", "foreground", ()),
            ("report", "foreground", ()),
        }
        history = json.loads(CliRunner().invoke(main, ["history", "example/greet", "--json"]).output)
        assert history[-1]["trigger"] == "cron" and history[-1]["status"] == "ok"

        os.kill(pid, signal.SIGTERM)  # PID 1 gets it only because it handles it
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output.wait_for("Stopped:", timeout=1)
    assert output.lines[-1] == "Stopped: cron and the runs in progress were stopped, and the tasks removed."
    assert list((state_home / "manifests").glob("*.json")) == []
    assert CliRunner().invoke(main, ["list"]).output.startswith("Nothing is installed.")
    assert read_crontab() == crontab_before


SHARED_SPOOL = """
set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mount --bind {spool} /var/spool/cron/crontabs
exec setpriv --bounding-set -sys_admin -- {python} {tasks}
"""


def test_python_tasks_py_in_a_container_without_cap_sys_admin_keeps_roots_crontab(
    container, project: Project, state_home: Path, tmp_path: Path
) -> None:
    """Docker starts containers without CAP_SYS_ADMIN: no private mount namespace can be made,
    and the container's own spool is used, kept as it was."""
    tasks = copy_example(project)
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o1730)
    roots = 'MAILTO=""\n# a line root had before\n'
    (spool / "root").write_text(roots)
    (spool / "root").chmod(0o600)
    script = SHARED_SPOOL.format(spool=spool, python=sys.executable, tasks=tasks)
    process = subprocess.Popen(
        [*CONTAINER, "sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=project.root
    )
    output = Output(process)
    try:
        pid = entry_point(process)
        assert output.wait_for("from root's crontab, after what was there", timeout=30), output.lines
        assert namespace_pid(pid) == "1"
        crontab = (spool / "root").read_text()
        assert crontab.startswith(roots) and "# BEGIN orchestration:example" in crontab
        assert f">>{state_home}/foreground/output 2>&1 # orchestration:example:greet" in crontab
        assert output.wait_for("Hello, world!", "  example/greet  &&  ok  ", timeout=75), output.lines
        os.kill(pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output.wait_for("Stopped:", timeout=1)
    assert output.lines[-1].startswith("Stopped:")
    assert (spool / "root").read_text() == roots  # put back as it was


def test_execute_tasks_says_what_it_installed(real_crontab, project: Project) -> None:
    tasks = project.write(
        "o = Orchestrator(name='said')\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh')\n"
        "if __name__ == '__main__':\n    o.execute_tasks(follow=False)\n"
    )
    result = subprocess.run([sys.executable, str(tasks)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "The 1 task(s) of said are installed in your crontab and run on their own, also after this"
        f" program ends; remove them with `orchestration uninstall {tasks}`."
    )
    assert "# orchestration:said:t" in read_crontab()


def test_python_tasks_py_with_a_bad_definition_says_so_as_install_would(project: Project) -> None:
    bad = "o = Orchestrator(name='bad')\no.add_task('61 * * * *', 'bash', name='t').add_script('record.sh')\n"
    tasks = project.write(bad + "o.execute_tasks()\n")
    as_script = subprocess.run([sys.executable, str(tasks)], capture_output=True, text=True, timeout=60)
    as_install = subprocess.run([PROGRAM, "install", str(tasks)], capture_output=True, text=True, timeout=60)
    assert (as_script.returncode, as_install.returncode) == (2, 2)
    assert as_script.stderr == as_install.stderr
    assert as_script.stderr.startswith(f"Error: {tasks}:3: task 't'")
    assert "minute 61" in as_script.stderr and "Traceback" not in as_script.stderr
    # An error that is not ours keeps Python's own report.
    tasks.write_text(tasks.read_text().replace("o.add_task('61", "raise ValueError('mine')\no.add_task('1"))
    other = subprocess.run([sys.executable, str(tasks)], capture_output=True, text=True, timeout=60)
    assert other.returncode == 1
    assert "Traceback" in other.stderr and other.stderr.endswith("ValueError: mine\n")


LOOP = "o = Orchestrator(name='loop')\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh')\nwhile True:\n    o.execute_tasks({})\n"


def test_the_1x_loop_makes_install_stop_with_what_to_do(project: Project) -> None:
    tasks = project.write(LOOP.format(""))
    result = subprocess.run([PROGRAM, "install", str(tasks)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"Error: {tasks}:5: {api.LOOP_WHILE_LOADING}\n"
    assert "while True: orchestrator.execute_tasks()" in result.stderr


def test_the_1x_loop_run_as_a_script_installs_once_then_says_what_to_do(real_crontab, project: Project) -> None:
    tasks = project.write(LOOP.format("follow=False"))
    result = subprocess.run([sys.executable, str(tasks)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"Error: {api.LOOP_WHEN_RUN.format(file=tasks)}\n"
    assert result.stdout.count("are installed in your crontab") == 1
    assert "# orchestration:loop:t" in read_crontab()


def test_without_cron_it_says_how_to_get_it(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # The one seam where a machine without cron cannot be had in a test: the daemon's path.
    monkeypatch.setattr(foreground, "CRON", "/nonexistent/cron")
    tasks = project.write("o = Orchestrator(name='n')\no.add_task('0 1 * * *', 'bash').add_script('record.sh')\n")
    result = CliRunner().invoke(main, ["run-scheduler", str(tasks)])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: no cron daemon is installed here (/nonexistent/cron and its spool /var/spool/cron/crontabs"
        " are missing), and the foreground scheduler runs one\n" + foreground.GET_CRON + "\n"
    )
    monkeypatch.setattr(api, "scheduler_runs", lambda: False)
    [orchestrator] = load_tasks_file(tasks).orchestrators
    with pytest.raises(SchedulerUnavailableError) as raised:
        api.execute(orchestrator)
    assert raised.value.message.startswith(
        "no scheduler runs here (no cron daemon, and no systemd user manager answers), and the tasks"
        " cannot run in the foreground: no cron daemon is installed here"
    )
    assert raised.value.hint == foreground.GET_CRON + " Or start cron: `service cron start`."


def test_run_scheduler_needs_root(container, project: Project, tmp_path: Path) -> None:
    tasks = project.write("o = Orchestrator(name='n')\no.add_task('0 1 * * *', 'bash').add_script('record.sh')\n")
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PROGRAM, "run-scheduler", str(tasks)],
        capture_output=True,
        text=True,
        env={**os.environ, "ORCHESTRATION_HOME": str(tmp_path / "nobody")},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "Error: the foreground scheduler starts a cron daemon of its own, which must run as root"
    )


def test_status_says_when_the_foreground_scheduler_is_gone(project: Project, state_home: Path) -> None:
    """A foreground scheduler killed outright (SIGKILL) leaves its tasks behind: status says so."""
    tasks = project.write("o = Orchestrator(name='left')\no.add_task('0 1 * * *', 'bash').add_script('record.sh')\n")
    [compiled] = compile_file(tasks, capture_environment(state_home))
    placed = compiled.placed("foreground", "user")
    manifests.write(manifests.versioned_path(state_home, placed), placed)
    status = CliRunner().invoke(main, ["status", "--check"])
    assert status.exit_code == 1
    assert status.output.splitlines()[-1] == (
        "! left: the foreground scheduler (`orchestration run-scheduler`) that ran it is not running, so"
        f" nothing fires it; start it again with `orchestration run-scheduler {tasks}`, or install it"
        f" elsewhere with `orchestration install {tasks}`"
    )
