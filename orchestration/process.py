"""Running one script under supervision: its own process group, its output copied as it comes,
a time limit that stops the whole group (SIGTERM, then SIGKILL after a grace period), and the
signals the shim receives passed on to the group. Standard library only: the shim uses it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
TYPE_CHECKING = False  # typing itself costs start-up time on every firing
if TYPE_CHECKING:
    from typing import Callable

KILL_GRACE_SECONDS = float(os.environ.get("ORCHESTRATION_KILL_GRACE", "5"))
READ_CHUNK = 65536
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(Exception):
    """A signal ended the run while no script was running (waiting, sleeping between scripts)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Guard:
    """The shim's signal handling: while a script runs, a signal is passed to its process group
    and the run ends as 'killed' once the script is gone; otherwise it interrupts the wait."""

    def __init__(self) -> None:
        self.child: int | None = None  # process group of the running script
        self.received: int | None = None
        self.interruptible = False  # True while waiting or sleeping: raise at once

    def install(self) -> None:
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame) -> None:
        self.received = self.received or signum
        if self.child is not None:
            _signal_group(self.child, signum)
        elif self.interruptible:
            raise Interrupted(signum)

    def sleep(self, seconds: float) -> None:
        """Sleep, ending early with Interrupted when a signal arrives."""
        self.raise_if_received()
        self.interruptible = True
        try:
            time.sleep(seconds)
        finally:
            self.interruptible = False

    def raise_if_received(self) -> None:
        if self.received is not None:
            raise Interrupted(self.received)


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
) -> Outcome:
    """Run `argv` to its end (or its deadline, on time.monotonic()); OSError if it cannot start."""
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    guard.child = process.pid
    if guard.received is not None:  # arrived while the script was being started
        _signal_group(process.pid, guard.received)
    try:
        timed_out = _supervise(process, write, deadline)
    finally:
        guard.child = None
    code = process.returncode
    return Outcome(128 - code if code < 0 else code, timed_out)


def _supervise(process: subprocess.Popen, write: Callable[[bytes], None], deadline: float | None) -> bool:
    """Copy output until the pipe closes and the script has ended; enforce the deadline."""
    descriptor = process.stdout.fileno()
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLHUP)
    limit = _Limit(process.pid, deadline)
    pipe_open = True
    while pipe_open or process.poll() is None:
        wait = limit.seconds_left()
        if pipe_open:
            if poller.poll(None if wait is None else max(wait, 0) * 1000):
                chunk = os.read(descriptor, READ_CHUNK)
                if chunk:
                    write(chunk)
                else:
                    pipe_open = False
        else:
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        limit.enforce()
    process.stdout.close()
    if limit.expired:
        _signal_group(process.pid, signal.SIGKILL)  # whatever of the group is left
    return limit.expired


class _Limit:
    """SIGTERM to the group at the deadline, SIGKILL after the grace period."""

    def __init__(self, group: int, deadline: float | None) -> None:
        self.group, self.deadline = group, deadline
        self.kill_at: float | None = None
        self.expired = False

    def seconds_left(self) -> float | None:
        due = self.kill_at if self.expired else self.deadline
        return None if due is None else due - time.monotonic()

    def enforce(self) -> None:
        now = time.monotonic()
        if self.deadline is not None and not self.expired and now >= self.deadline:
            self.expired = True
            self.kill_at = now + KILL_GRACE_SECONDS
            _signal_group(self.group, signal.SIGTERM)
        elif self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            _signal_group(self.group, signal.SIGKILL)


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass
