"""Shared fixtures. Tests never touch the real state directory: ORCHESTRATION_HOME and HOME point
into a temporary folder. Tests that install into a crontab or a user manager run only inside the
private sandbox of scripts/sandbox.sh (its own crontab spool, cron daemon and user manager), which
scripts/test.sh provides; elsewhere they skip with a printed reason, unless
ORCHESTRATION_REQUIRE_DAEMONS=1 (set by .ci/run), which turns the skip into a failure. Outside the
sandbox, `crontab` and `systemctl` are replaced on PATH by programs that refuse, so that no test
can reach the crontab or units of whoever runs the suite."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

REQUIRE_DAEMONS = os.environ.get("ORCHESTRATION_REQUIRE_DAEMONS") == "1"
IN_SANDBOX = os.environ.get("ORCHESTRATION_TEST_SANDBOX") == "1"
# systemd sets this for the processes of a unit, and the shim reads it as "started by systemd":
# a test suite run from a unit must not pass it on to the shims it starts as cron would.
os.environ.pop("INVOCATION_ID", None)


def _refuse_outside_the_sandbox() -> None:
    """Put programs first on PATH that stand in for crontab and systemctl and refuse."""
    guard = Path(tempfile.mkdtemp(prefix="orchestration-test-guard-"))
    for program in ("crontab", "systemctl"):
        (guard / program).write_text(
            "#!/bin/sh\n"
            f"echo '{program}: refused: the tests reach schedulers only inside scripts/sandbox.sh"
            " (run scripts/test.sh)' >&2\nexit 1\n"
        )
        (guard / program).chmod(0o755)
    os.environ["PATH"] = f"{guard}{os.pathsep}{os.environ.get('PATH', '')}"


if not IN_SANDBOX:
    _refuse_outside_the_sandbox()


def skip_or_fail(reason: str) -> None:
    """Skip with `reason`, or fail when CI requires the real daemons."""
    if REQUIRE_DAEMONS:
        pytest.fail(f"required by ORCHESTRATION_REQUIRE_DAEMONS=1 but unavailable: {reason}")
    print(f"\nSKIPPED: {reason}")
    pytest.skip(reason)


def manifest_file(state: Path, namespace: str) -> Path:
    """The one manifest file of an installed namespace (it is named by its content)."""
    [path] = sorted((state / "manifests").glob(f"{namespace}.*.json"))
    return path


def run_log_bytes(run) -> bytes:
    """The log of one run (a RunRecord, or its JSON): its part of its task's log once it is
    filed there (`log_offset`, `log_length`), else its own file."""
    get = run.get if isinstance(run, dict) else lambda name: getattr(run, name)
    data = Path(get("log_path")).read_bytes()
    offset = get("log_offset")
    return data if offset is None else data[offset : offset + (get("log_length") or 0)]


def run_log(run) -> str:
    return run_log_bytes(run).decode()


def wait_for(condition, timeout: float) -> bool:
    """Poll `condition` every half second until it holds or `timeout` seconds pass."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ORCHESTRATION_HOME and HOME for one test."""
    home = tmp_path / "home"
    home.mkdir()
    state = tmp_path / "state"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ORCHESTRATION_HOME", str(state))
    return state


RECORDING_BASH = """#!/bin/bash
# Records its arguments (NUL-separated) and environment where the test can read them.
out="${RECORD_DIR:-.}/${ORCHESTRATION_TASK}-${ORCHESTRATION_RUN_ID}-$$"
printf '%s\\0' "$@" > "$out.args"
env -0 > "$out.env"
pwd > "$out.cwd"
exit "${EXIT_CODE:-0}"
"""

RECORDING_PYTHON = """import json, os, sys
out = os.path.join(os.environ.get("RECORD_DIR", "."), f"{os.environ['ORCHESTRATION_TASK']}-{os.environ['ORCHESTRATION_RUN_ID']}-{os.getpid()}")
with open(out + ".json", "w", encoding="utf-8") as f:
    json.dump({"argv": sys.argv[1:], "executable": sys.executable, "cwd": os.getcwd(), "env": dict(os.environ)}, f)
"""


class Project:
    """A folder with a tasks file and scripts that record how they were called."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "record.sh").write_text(RECORDING_BASH)
        (root / "record.py").write_text(RECORDING_PYTHON)
        (root / "fail.sh").write_text("#!/bin/bash\necho failing with $1\nexit ${1:-3}\n")
        self.tasks_file = root / "tasks.py"

    def write(self, body: str, name: str = "tasks.py") -> Path:
        path = self.root / name
        path.write_text("from orchestration import Orchestrator\n" + body)
        return path

    def records(self) -> list[dict]:
        """What each recording script saw, oldest first."""
        import json

        found = []
        for path in sorted(self.root.glob("*.args"), key=lambda p: p.stat().st_mtime_ns):
            base = str(path)[: -len(".args")]
            env = dict(item.split("=", 1) for item in Path(base + ".env").read_text().split("\0") if "=" in item)
            argv = path.read_bytes().decode().split("\0")[:-1]
            found.append({"argv": argv, "env": env, "cwd": Path(base + ".cwd").read_text().strip(), "kind": "bash"})
        for path in sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
            data = json.loads(path.read_text())
            found.append({**data, "kind": "python"})
        return found


@pytest.fixture
def project(tmp_path: Path, state_home: Path) -> Project:
    return Project(tmp_path / "project")


FOREIGN_CRONTAB = """# a comment at the top, kept as it is
MAILTO=""
SHELL=/bin/bash
   # an indented comment

0 * * * * echo hourly-job >/dev/null
*/5 * * * *   echo 'percent \\% escaped'  >/dev/null   # trailing comment
@daily /usr/bin/true
#0 3 * * * a disabled job
PATH=/usr/local/bin:/usr/bin:/bin
"""


def read_crontab() -> str:
    result = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else ""


def write_crontab(text: str) -> None:
    subprocess.run(["crontab", "-"], input=text, text=True, check=True)


@pytest.fixture
def sandbox():
    """The private sandbox of scripts/sandbox.sh, with an empty crontab again after the test (so
    that nothing a test installed fires during the next one)."""
    if not IN_SANDBOX:
        skip_or_fail(
            "installs into a crontab or a user manager: run the tests through"
            " scripts/test.sh (as root), which gives them a private sandbox"
        )
    yield
    subprocess.run(["crontab", "-r"], capture_output=True)


@pytest.fixture
def real_crontab(sandbox):
    """The sandbox's crontab (a real one, in a private spool) holding FOREIGN_CRONTAB."""
    write_crontab(FOREIGN_CRONTAB)
    return FOREIGN_CRONTAB


CRON_PIDFILE = Path("/run/crond.pid")
CRON_DAEMON = "/usr/sbin/cron"


def cron_pid() -> int | None:
    """The sandbox's cron daemon, if it runs (never a cron outside the sandbox)."""
    try:
        pid = int(CRON_PIDFILE.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop_cron() -> None:
    """Stop the sandbox's cron daemon and wait until it is gone."""
    pid = cron_pid()
    if pid is not None:
        os.kill(pid, 15)
        wait_for(lambda: cron_pid() is None, timeout=10)


def start_cron() -> None:
    """Start Debian's cron in the sandbox, as it starts at boot (it runs @reboot entries when
    /run/crond.reboot is absent)."""
    # In the foreground, in the suite's process group: a kill of the suite takes it along.
    subprocess.Popen(
        [CRON_DAEMON, "-f"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if not wait_for(lambda: cron_pid() is not None, timeout=5):
        skip_or_fail("the cron daemon did not start")


@pytest.fixture
def cron_daemon(sandbox):
    """The sandbox's running cron daemon."""
    if not os.path.exists(CRON_DAEMON):
        skip_or_fail("no cron daemon installed (Debian: apt-get install cron)")
    if cron_pid() is None:
        start_cron()


@pytest.fixture
def cron_crontab(cron_daemon, real_crontab: str) -> str:
    """`real_crontab` under a running cron daemon that will notice the next write. Cron compares a
    crontab's modification time in whole seconds with the one it last read (at its start and at
    each minute's start): a write in the second of the fixture's own write, after cron read that
    one, would go unseen. The wait moves the test's writes into a later second."""
    import time

    time.sleep(1.05 - time.time() % 1)
    return real_crontab


# The HOME the test run started with: a systemd user manager started by
# scripts/with-systemd-user.sh reads its units from there, whatever HOME a test sets later.
MANAGER_HOME = os.environ.get("HOME", "/root")


def user_manager_answers() -> bool:
    try:
        result = subprocess.run(
            ["systemctl", "--user", "is-system-running"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.stdout.strip() in ("running", "degraded")


@pytest.fixture
def systemd_user(sandbox, state_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A real systemd user manager (the one scripts/with-systemd-user.sh started) and its unit
    folder; our units left behind by a failing test are removed afterwards."""
    if not user_manager_answers():
        skip_or_fail(
            "no systemd user manager answers; run the tests through scripts/test.sh,"
            " which starts one with scripts/with-systemd-user.sh"
        )
    monkeypatch.setenv("XDG_CONFIG_HOME", os.path.join(MANAGER_HOME, ".config"))
    unit_dir = Path(MANAGER_HOME) / ".config" / "systemd" / "user"
    before = set(unit_dir.glob("orchestration-*")) if unit_dir.is_dir() else set()
    yield unit_dir
    leftovers = [p for p in unit_dir.glob("orchestration-*") if p not in before] if unit_dir.is_dir() else []
    timers = [p.name for p in leftovers if p.suffix == ".timer"]
    if timers:
        subprocess.run(["systemctl", "--user", "disable", "--now", *timers], capture_output=True)
    for path in leftovers:
        path.unlink()
    if leftovers:
        subprocess.run(["systemctl", "--user", "daemon-reload"], capture_output=True)
