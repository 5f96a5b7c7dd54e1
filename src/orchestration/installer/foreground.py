"""The foreground scheduler: where no scheduler runs (a container, a machine without cron or a
user manager), `orchestration run-scheduler tasks.py` and `execute_tasks()` run the schedule
themselves, with a real cron daemon as the engine, started and stopped with the command.

Our entries live in a crontab of our own in the state directory (`foreground/crontab`), which
`ForegroundScheduler` writes like the crontab scheduler writes yours; the engine copies it into
the spool of a `cron -f` it starts. The entries send their output into a pipe
(`foreground/output`) that the engine copies to its stdout, next to a line per run.

Debian's cron reads /var/spool/cron/crontabs, /etc/crontab and /etc/cron.d, and keeps its pid
file in /run. So the engine first tries a private mount namespace, where the spool, /run and the
system crontabs are private and empty: nothing of the machine's cron is seen or disturbed. Where
that cannot be had (a container without CAP_SYS_ADMIN, as Docker starts them), the container is
private already: with no other cron daemon running, the engine writes root's crontab in the real
spool, keeping what was there, and puts it back when it stops.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import SchedulerUnavailableError
from ..state import private_dir, remove_file, state_dir, write_private
from ..targets import Rendered
from ..targets.crontab import file_name, find_block, merge
from ..targets.foreground import NAME, engine_dir, output_path

CRON = "/usr/sbin/cron"
SPOOL = "/var/spool/cron/crontabs"
CLONE_NEWNS = 0x00020000
PR_SET_PDEATHSIG = 1
GET_CRON = (
    "Install Debian's cron package: `apt-get install cron` (in a Dockerfile: `RUN apt-get update &&"
    " apt-get install -y --no-install-recommends cron`). Or install the tasks into a scheduler that"
    " runs: `orchestration install TASKS_FILE` (crontab with a running cron daemon, or systemd)."
)
STOP_GRACE_SECONDS = 10


def crontab_file(state: Path) -> Path:
    return engine_dir(state) / "crontab"


def lock_file(state: Path) -> Path:
    return engine_dir(state) / "lock"


class ForegroundScheduler:
    """The namespaces the foreground engine runs: blocks in a crontab file of our own."""

    name = NAME

    def __init__(self, state: Path | None = None) -> None:
        self.path = crontab_file(state or state_dir())

    def _text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def installed(self, namespace: str) -> Rendered | None:
        block = find_block(self._text(), namespace)
        return None if block is None else {file_name(namespace): block}

    def apply(self, namespace: str, rendered: Rendered | None) -> bool:
        text = self._text()
        updated = merge(text, namespace, None if rendered is None else rendered[file_name(namespace)])
        if updated == text:
            return False
        write_private(self.path, updated)
        return True


def engine_running(state: Path) -> bool:
    """Whether a foreground engine runs on this state directory now (it holds the lock)."""
    try:
        descriptor = os.open(lock_file(state), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def check_can_run() -> None:
    """SchedulerUnavailableError saying what is missing for a foreground engine, and how to get it."""
    if not sys.platform.startswith("linux"):
        raise SchedulerUnavailableError("the foreground scheduler runs Debian's cron daemon, on Linux only")
    if not os.access(CRON, os.X_OK) or not os.path.isdir(SPOOL):
        raise SchedulerUnavailableError(
            f"no cron daemon is installed here ({CRON} and its spool {SPOOL} are missing), and the"
            " foreground scheduler runs one",
            hint=GET_CRON,
        )
    if os.geteuid() != 0:
        raise SchedulerUnavailableError(
            "the foreground scheduler starts a cron daemon of its own, which must run as root (as a"
            " container's entry point does)",
            hint="Run it as root, or as this user install the tasks into the machine's scheduler with"
            " `orchestration install TASKS_FILE`.",
        )


class Engine:
    """A `cron -f` of our own, with our crontab in its spool, its jobs' output on `write`."""

    def __init__(self, state: Path, write: Callable[[bytes], None]) -> None:
        self.state = state
        self.write = write
        self.private = False  # a private mount namespace (else the container's own spool)
        self.cron: int | None = None
        self.cron_status: int | None = None  # set when cron ended by itself
        self._lock: int | None = None
        self._pipe: int | None = None
        self._original: bytes | None = None  # root's spool crontab before we wrote it
        self._synced: int | None = None  # st_mtime_ns of our crontab when last copied

    # --- start ---------------------------------------------------------------------------

    def claim(self) -> None:
        """Take the state directory's engine lock: one engine per state directory."""
        private_dir(engine_dir(self.state))
        descriptor = os.open(lock_file(self.state), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise SchedulerUnavailableError(
                f"another foreground scheduler already runs on {self.state}; stop it first (SIGTERM),"
                " or give this one its own ORCHESTRATION_HOME"
            ) from None
        self._lock = descriptor

    def prepare(self) -> None:
        """Enter a private mount namespace if possible, else check that no other cron runs."""
        self.private = _private_mount_namespace(self.state)
        if not self.private and _other_cron_running():
            raise SchedulerUnavailableError(
                "a cron daemon already runs here, and no private mount namespace can be made for a"
                " second one (that needs root with CAP_SYS_ADMIN)",
                hint="Install the tasks into the running cron instead: `orchestration install TASKS_FILE`.",
            )
        pipe = output_path(self.state)
        remove_file(pipe)
        os.mkfifo(pipe, 0o600)
        self._pipe = os.open(pipe, os.O_RDWR)  # a reader and a writer: never EOF, never blocks
        threading.Thread(target=self._relay, name="orchestration-output", daemon=True).start()

    def start(self) -> None:
        """Copy our crontab into the spool, then start cron in the foreground."""
        spool_file = Path(SPOOL) / "root"
        self._original = spool_file.read_bytes() if spool_file.exists() else None
        self.sync()
        die_with_parent = _parent_death_signal()
        pid = os.fork()
        if pid == 0:  # the child: cron, which dies with us
            try:
                die_with_parent()
                os.execv(CRON, [CRON, "-f", "-L", "0"])
            finally:
                os._exit(127)
        self.cron = pid

    def sync(self) -> None:
        """Copy our crontab into root's spool file when it changed (after what was there)."""
        try:
            ours = crontab_file(self.state)
            changed = ours.stat().st_mtime_ns
            text = ours.read_bytes()
        except FileNotFoundError:
            changed, text = 0, b""
        if changed == self._synced:
            return
        _write_spool((self._original or b"") + text)
        self._synced = changed

    # --- while running -------------------------------------------------------------------

    def tick(self) -> None:
        """Called a few times a second: follow changes of our crontab, reap what ended."""
        self.sync()
        self._reap()

    def _reap(self) -> None:
        """Collect ended children (as PID 1, every orphan of the container is one)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.cron:
                self.cron, self.cron_status = None, os.waitstatus_to_exitcode(status)

    def _relay(self) -> None:
        assert self._pipe is not None
        while True:
            try:
                chunk = os.read(self._pipe, 65536)
            except OSError:
                return
            if chunk:
                self.write(chunk)

    # --- stop --------------------------------------------------------------------------

    def stop(self, running_shims: Callable[[], list[int]]) -> None:
        """Stop cron (no new firings), then the runs still going (they record themselves as
        killed), then put the spool back as it was."""
        if self.cron is not None:
            _signal(self.cron, signal.SIGTERM)
            _wait_for(lambda: self._gone(self.cron), STOP_GRACE_SECONDS)
            if self.cron is not None:
                _signal(self.cron, signal.SIGKILL)
                _wait_for(lambda: self._gone(self.cron), 2)
        shims = running_shims()
        for pid in shims:
            _signal(pid, signal.SIGTERM)
        _wait_for(lambda: all(self._gone(pid) for pid in shims), STOP_GRACE_SECONDS)
        try:
            spool_file = Path(SPOOL) / "root"
            if self._original is None:
                remove_file(spool_file)
            else:
                _write_spool(self._original)
        except OSError:
            pass
        time.sleep(0.1)  # let the relay copy what the last runs wrote
        remove_file(output_path(self.state))
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _gone(self, pid: int | None) -> bool:
        if pid is None:
            return True
        self._reap()
        try:
            with open(f"/proc/{pid}/stat", "rb") as stream:
                return stream.read().rsplit(b")", 1)[1].split()[0] == b"Z"  # a zombie: ended
        except OSError:
            return True


def _private_mount_namespace(state: Path) -> bool:
    """Whether this process now has a private mount namespace with an empty spool, /run and
    system crontabs; False where none can be made (no CAP_SYS_ADMIN)."""
    try:
        _unshare_mounts()
    except OSError as error:
        if error.errno in (errno.EPERM, errno.EINVAL, errno.ENOSYS):
            return False
        raise
    _mount("--make-rprivate", "/")
    _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    os.mkdir("/run/lock", 0o1777)
    os.chmod("/run/lock", 0o1777)
    _mount("-t", "tmpfs", "-o", "mode=1730", "tmpfs", SPOOL)
    if os.path.isfile("/etc/crontab"):
        empty = engine_dir(state) / "empty"
        write_private(empty, "")
        _mount("--bind", str(empty), "/etc/crontab")
    if os.path.isdir("/etc/cron.d"):
        _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/etc/cron.d")
    return True


def _unshare_mounts() -> None:
    unshare = getattr(os, "unshare", None)  # Python 3.12 and later
    if unshare is not None:
        unshare(CLONE_NEWNS)
        return
    import ctypes  # only here: Python 3.10 and 3.11 have no os.unshare

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def _parent_death_signal() -> Callable[[], None]:
    """What the child calls before exec, so that cron gets SIGTERM when the engine dies, however
    it dies (prepared before the fork: nothing is imported in the child)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _mount(*arguments: str) -> None:
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise SchedulerUnavailableError(
            f"`mount {' '.join(arguments)}` failed: {result.stderr.strip()}; the foreground scheduler"
            " needs its own crontab spool"
        )


def _other_cron_running() -> bool:
    from .schedulers import cron_daemon_running

    return cron_daemon_running()


def _write_spool(text: bytes) -> None:
    """root's crontab in the spool, as the crontab command leaves it: 0600, renamed into place
    (which also changes the folder's time, so cron reads it again)."""
    path = Path(SPOOL) / "root"
    temporary = Path(SPOOL) / ".orchestration-root.new"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(text)
    os.replace(temporary, path)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
