"""What a firing does while the previous run of its task still runs: 'skip' (recorded as
'overlap'), 'queue' (wait for it), or 'allow'. A lock file per task holds the running run.

systemd never starts a unit that is still active: a timer elapse during a run is dropped without
a word. So a run started by systemd looks, when it ends, for firings it outlived, and records
them as 'overlap' (skip) or runs them now (queue): the journal reads the same on both schedulers.
Standard library only: the shim uses it.
"""

from __future__ import annotations

import fcntl
import os

from ..state import lock_path, private_dir, spare_dir, spare_path
from .supervise import Guard


class TaskLock:
    """An exclusive lock per task, naming the run that holds it."""

    def __init__(self, state: str, namespace: str, task: str) -> None:
        name = f"{namespace}.{task}.lock"
        self.path = lock_path(state, name)
        self.state, self.name = state, name
        self.descriptor: int | None = None

    def acquire(self, *, wait: bool, guard: Guard) -> str | None:
        """Take the lock; None when taken, else who holds it (only when not waiting)."""
        self.descriptor = self._open()
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                holder = os.pread(self.descriptor, 200, 0).decode(errors="replace").strip()
                self.release()
                return holder or "another run"
            guard.wait(fcntl.flock, self.descriptor, fcntl.LOCK_EX)
        return None

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            pass
        except OSError:
            return self._open_spare()
        try:
            private_dir(os.path.dirname(self.path))
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return self._open_spare()

    def _open_spare(self) -> int:
        """Where the state folder is read-only, every run of the task meets at the same spare."""
        spare_dir()
        return os.open(spare_path(self.state, self.name), os.O_RDWR | os.O_CREAT, 0o600)

    def note_holder(self, run_id: str) -> None:
        """Write who holds the lock, for the message of a firing that finds it taken."""
        assert self.descriptor is not None
        os.ftruncate(self.descriptor, 0)
        os.pwrite(self.descriptor, f"run {run_id} (pid {os.getpid()})".encode(), 0)

    def release(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None


def overlap_reason(holder: str) -> str:
    return f"the previous run is still running ({holder}); this firing was skipped"
