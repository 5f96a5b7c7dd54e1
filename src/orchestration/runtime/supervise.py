"""Running one script under supervision: its own session and process group, its output copied as
it comes, a time limit that stops the whole group (SIGTERM, then SIGKILL after a grace period),
and the signals the shim receives passed on to the group.

This runs on every firing: os.posix_spawn and a pidfd, rather than subprocess and its imports.
Standard library only.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable
from types import FrameType

from ..rules.policy import KILL_GRACE_SECONDS as DEFAULT_KILL_GRACE

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

KILL_GRACE_SECONDS = float(os.environ.get("ORCHESTRATION_KILL_GRACE", DEFAULT_KILL_GRACE))
READ_CHUNK = 65536
# Once the script's process group is gone, output still in the pipe is read for this long at
# most: a process that left the group (a `setsid` daemon) may hold the pipe open for ever.
DRAIN_SECONDS = 0.5
GROUP_CHECK_SECONDS = 0.05  # how often a group whose leader ended is looked at
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Reset in the script: ours, and those Python itself ignores (a script must see SIGPIPE).
DEFAULT_IN_SCRIPT = (*HANDLED_SIGNALS, signal.SIGPIPE, signal.SIGXFSZ)


class SpawnError(OSError):
    """The script could not be started (missing interpreter, no permission, ...)."""


class Interrupted(BaseException):
    """A signal ended the run while no script was running (waiting, sleeping between scripts,
    running a condition or dynamic value). A BaseException, so that user code that catches
    Exception cannot swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class TimeUp(BaseException):
    """The run's time limit passed while its own code ran (a condition, a dynamic value)."""


class TimedOut(Exception):
    """The run's time limit passed in a skip condition; `how` ends the run's reason."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Guard:
    """The shim's signal handling: while a script runs, a signal is passed to its process group
    and the run ends as 'killed' once the script is gone; otherwise it interrupts the wait."""

    def __init__(self) -> None:
        self.child: int | None = None  # process group of the running script
        self.received: int | None = None
        self.received_at: float | None = None  # time.monotonic() of the first signal
        self.interruptible = False  # True while waiting or sleeping: raise at once
        self.wakeup: int | None = None  # readable when a signal arrived

    def install(self) -> None:
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, self._handle)
        # A signal also writes a byte here, so a wait on the script's output wakes up for it.
        self.wakeup, writer = os.pipe()
        os.set_blocking(writer, False)
        signal.set_wakeup_fd(writer)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received, self.received_at = signum, time.monotonic()
        if self.child is not None:
            _signal_group(self.child, signum)
        elif self.interruptible:
            raise Interrupted(signum)

    def sleep(self, seconds: float) -> None:
        """Sleep, ending early with Interrupted when a signal arrives."""
        self.wait(time.sleep, seconds)

    def wait(self, blocking: Callable[..., Any], *arguments: Any) -> None:
        """Call `blocking(*arguments)` (a sleep, a lock), ending early with Interrupted when a
        signal arrives."""
        with self.stoppable():
            blocking(*arguments)

    def stoppable(self, deadline: float | None = None) -> _Stoppable:
        """A block that a signal ends at once with Interrupted, and that ends with TimeUp at
        `deadline` (on time.monotonic()): for waits, and for user code that may hang."""
        return _Stoppable(self, deadline)

    def raise_if_received(self) -> None:
        if self.received is not None:
            raise Interrupted(self.received)

    def _time_up(self, signum: int, frame: FrameType | None) -> None:
        if self.interruptible:  # an alarm that comes after the block ended is ignored
            raise TimeUp()


class _Stoppable:
    """Guard.stoppable(): the deadline is a SIGALRM timer, so it also ends a blocking call. The
    block is interruptible before the timer is armed and the signal checked, so that neither an
    early alarm nor a signal in between is lost. The timer repeats every second: user code that
    swallows a TimeUp gets another until it lets go. Guard._time_up stays the SIGALRM handler
    afterwards, and ignores an alarm outside a block."""

    __slots__ = ("deadline", "guard")

    def __init__(self, guard: Guard, deadline: float | None) -> None:
        self.guard, self.deadline = guard, deadline

    def __enter__(self) -> None:
        guard = self.guard
        guard.interruptible = True
        try:
            guard.raise_if_received()
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise TimeUp()
                signal.signal(signal.SIGALRM, guard._time_up)
                signal.setitimer(signal.ITIMER_REAL, left, 1.0)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exception: object) -> None:
        self.guard.interruptible = False
        if self.deadline is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)


class Outcome:
    """How a script ended: its exit code (128+N if killed by signal N) and whether it timed out."""

    __slots__ = ("code", "timed_out")

    def __init__(self, code: int, timed_out: bool) -> None:
        self.code, self.timed_out = code, timed_out


def run_script(
    argv: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    write: Callable[[bytes], None],
    deadline: float | None,
    guard: Guard,
    keeper: str | None = None,
) -> Outcome:
    """Run `argv` to its end (or its deadline, on time.monotonic()); OSError if it cannot start.
    With `keeper` (the run's id, which the script's environment carries), a keeper process
    stands by: if the shim is killed outright, it holds what the shim held (the task's lock)
    while the script's process group lives, and ends the group at the deadline."""
    watch = Keeper(keeper, deadline) if keeper is not None else None
    try:
        try:
            pid, output = _spawn(argv, cwd, env)
        except OSError as error:
            raise SpawnError(error.errno, error.strerror, error.filename) from None
        if watch is not None:
            watch.started(pid)
        guard.child = pid
        if guard.received is not None:  # arrived while the script was being started
            _signal_group(pid, guard.received)
        try:
            status, timed_out = _supervise(pid, output, write, deadline, guard)
        finally:
            guard.child = None
    finally:
        if watch is not None:
            watch.dismiss()
    code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    return Outcome(code, timed_out)


class Keeper:
    """A process forked before the script starts that outlives a shim killed outright (SIGKILL):
    it keeps the descriptors the shim had (so the task's lock stays held while the run's
    processes live, and the next firing sees the run as still running), and stops the script's
    process group at the deadline, SIGKILL after the grace period. While the shim lives it only
    waits, and the shim dismisses it when the script has ended."""

    def __init__(self, run_id: str, deadline: float | None) -> None:
        reader, self.writer = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the keeper
            try:
                os.close(self.writer)
                _keep(reader, run_id, deadline)
            finally:
                os._exit(0)
        os.close(reader)

    def started(self, group: int) -> None:
        """Tell the keeper the script's process group."""
        try:
            os.write(self.writer, f"{group}\n".encode())
        except OSError:
            pass  # the keeper is gone: nothing to keep

    def dismiss(self) -> None:
        _signal_pid(self.pid, signal.SIGKILL)
        os.close(self.writer)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _keep(reader: int, run_id: str, deadline: float | None) -> None:
    """The keeper's life: wait while the shim lives (it holds the other end of `reader`); if it
    dies, stay while the script's process group lives, and stop it at the deadline."""
    for signum in (*HANDLED_SIGNALS, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):  # never hold cron's mail pipe or a terminal
        os.dup2(null, descriptor)
    said = b""
    while True:
        chunk = os.read(reader, 64)
        if not chunk:
            break  # the shim is gone
        said += chunk
    group = int(said.split()[0]) if said.split() else _find_script(run_id)
    if group is None:
        return
    term_sent = False
    while _group_alive(group):
        now = time.monotonic()
        if deadline is not None and now >= deadline + KILL_GRACE_SECONDS:
            _signal_group(group, signal.SIGKILL)
        elif deadline is not None and now >= deadline and not term_sent:
            _signal_group(group, signal.SIGTERM)
            term_sent = True
        time.sleep(GROUP_CHECK_SECONDS * 2)


def _find_script(run_id: str) -> int | None:
    """The script of run `run_id`, when the shim died before it could say which it started: the
    session leader whose environment names the run."""
    marker = f"ORCHESTRATION_RUN_ID={run_id}\0".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as stream:
                if marker not in stream.read():
                    continue
            if os.getsid(int(entry)) == int(entry):
                return int(entry)
        except OSError:
            continue
    return None


def _group_alive(group: int) -> bool:
    """Whether a process of the group `group` still runs (zombies waiting to be reaped, by an
    init that may take its time, do not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stream:
                    fields = stream.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 2 and fields[2] == str(group).encode() and fields[0] not in (b"Z", b"X"):
                return True
    return False


def _spawn(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[int, int]:
    """Start the script in a new session, stdin from /dev/null, stdout and stderr into a pipe."""
    reader, writer = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    here = os.getcwd()
    try:
        os.chdir(cwd)  # posix_spawn has no working directory of its own before Python 3.13
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0),
                (os.POSIX_SPAWN_DUP2, writer, 1),
                (os.POSIX_SPAWN_DUP2, writer, 2),
            ],
            setsid=True,
            setsigdef=DEFAULT_IN_SCRIPT,
        )
    except BaseException:
        os.close(reader)
        raise
    finally:
        os.chdir(here)
        os.close(writer)
        os.close(null)
    return pid, reader


def _supervise(
    pid: int, output: int, write: Callable[[bytes], None], deadline: float | None, guard: Guard
) -> tuple[int, bool]:
    """Copy output until the script has ended and either the pipe is closed or no process of
    its group is left (a process that left the group, such as a `setsid` daemon, may hold the
    pipe for ever: what it wrote by then is read, the rest is not waited for); enforce the
    deadline, and a signal passed on to the script that it did not obey within the grace
    period."""
    ended = _pidfd(pid)
    poller = select.poll()
    poller.register(output, select.POLLIN | select.POLLHUP)
    if ended is not None:
        poller.register(ended, select.POLLIN)
    if guard.wakeup is not None:
        poller.register(guard.wakeup, select.POLLIN)
    limit = _Limit(pid, deadline, guard)
    pipe_open = True
    status: int | None = None
    try:
        while status is None or (pipe_open and _group_alive(pid)):
            wait = limit.seconds_left()
            if status is not None or (ended is None and not pipe_open):
                # The leader ended (or, without a pidfd, may have): look again every 50 ms.
                wait = GROUP_CHECK_SECONDS if wait is None else min(wait, GROUP_CHECK_SECONDS)
            for descriptor, _ in poller.poll(None if wait is None else max(wait, 0) * 1000):
                if descriptor == guard.wakeup:
                    os.read(guard.wakeup, 64)  # a signal: look at the limits again
                elif descriptor == output:
                    chunk = os.read(output, READ_CHUNK)
                    if chunk:
                        write(chunk)
                    else:
                        pipe_open = False
                        poller.unregister(output)
                elif status is None and ended is not None:
                    status = os.waitpid(pid, 0)[1]
                    poller.unregister(ended)
            if ended is None and status is None:
                finished, found = os.waitpid(pid, os.WNOHANG)
                status = found if finished else None
            limit.enforce()
        if pipe_open:
            _drain(output, write)
    finally:
        os.close(output)
        if ended is not None:
            os.close(ended)
    if limit.expired:
        _signal_group(pid, signal.SIGKILL)  # whatever of the group is left
    assert status is not None  # the loop ends only once the script has ended
    return status, limit.expired


def _drain(output: int, write: Callable[[bytes], None]) -> None:
    """Read what is waiting in the pipe, for DRAIN_SECONDS at most."""
    until = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < until and select.select([output], [], [], 0)[0]:
        chunk = os.read(output, READ_CHUNK)
        if not chunk:
            return
        write(chunk)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when `pid` ends (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class _Limit:
    """SIGTERM to the group at the deadline; SIGKILL when the grace period after that SIGTERM,
    or after a signal passed on to the group, has run out."""

    def __init__(self, group: int, deadline: float | None, guard: Guard) -> None:
        self.group, self.deadline, self.guard = group, deadline, guard
        self.kill_at: float | None = None
        self.expired = False
        self.killed = False

    def seconds_left(self) -> float | None:
        if self.guard.received_at is not None and self.kill_at is None and not self.killed:
            self.kill_at = self.guard.received_at + KILL_GRACE_SECONDS
        due = self.kill_at if self.kill_at is not None else None if self.expired else self.deadline
        return None if due is None else due - time.monotonic()

    def enforce(self) -> None:
        now = time.monotonic()
        if self.deadline is not None and not self.expired and now >= self.deadline:
            self.expired = True
            self.kill_at = min(self.kill_at or now + KILL_GRACE_SECONDS, now + KILL_GRACE_SECONDS)
            _signal_group(self.group, signal.SIGTERM)
        elif self.kill_at is not None and now >= self.kill_at:
            self.kill_at, self.killed = None, True
            _signal_group(self.group, signal.SIGKILL)


def _signal_pid(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass
