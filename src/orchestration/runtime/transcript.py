"""What a run says: its scripts' output and the shim's own lines, copied to stdout (cron mails it,
systemd's journal keeps it) and to the run's log, capped at `max_log_bytes`. Neither a closed
stdout nor a full disk stops the run: what cannot be written is noted in the run's warnings.

A quiet transcript (the default; `verbose=True` turns it off) holds the shim's own lines back from
stdout until there is something to read: a script's output, or an end that is not ok or skipped.
So a run that prints nothing and ends well prints nothing, and cron mails only when it should. The
log always gets every line."""

from __future__ import annotations

import os
import sys

from ..state import logs_dir, private_dir
from .records import RunRecord

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import BinaryIO


# How an attempt may end and still print nothing (an overlap is a firing the running run covers).
QUIET_STATUSES = ("ok", "skipped", "overlap")


class Transcript:
    """The output of one attempt of a run."""

    def __init__(self, state: str, record: RunRecord, max_log_bytes: int, quiet: bool = True) -> None:
        self.state, self.record, self.max_log_bytes = state, record, max_log_bytes
        self.log: BinaryIO | None = None
        self.room = 0
        self.stdout_broken = sys.stdout is None
        self.held: list[bytes] | None = [] if quiet else None  # our lines not yet on stdout
        self.spoke = False  # something went to stdout

    def open(self) -> None:
        """Open the run's log; if it cannot be written the run goes on with stdout only."""
        directory = logs_dir(self.state, self.record.namespace, self.record.task)
        path = os.path.join(directory, f"{self.record.run_id}.log")
        try:
            if not os.path.isdir(directory):
                private_dir(directory)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as error:
            self.warn(f"the run's log cannot be written ({error}); its output goes to stdout only")
            return
        self.log = os.fdopen(descriptor, "wb", buffering=0)
        self.room = self.max_log_bytes
        self.record.log_path = path

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def discard(self) -> None:
        """Close and delete the log: the run it was for does not take place."""
        self.close()
        if self.record.log_path:
            try:
                os.unlink(self.record.log_path)
            except OSError:
                pass

    def copy(self, chunk: bytes) -> None:
        """Script output: to stdout and the log."""
        self.speak()
        self._to_stdout(chunk)
        self._to_log(chunk)

    def say(self, message: str) -> None:
        """A line of the shim's own about the run, to the log, and to stdout unless held back."""
        line = f"orchestration {self.record.reference}: {message}\n".encode()
        if self.held is None:
            self._to_stdout(line)
        else:
            self.held.append(line)
        self._to_log(line)

    def speak(self) -> None:
        """From now on everything goes to stdout, the lines held back first."""
        if self.held is not None:
            held, self.held = self.held, None
            self._to_stdout(b"".join(held))

    def end(self, status: str) -> None:
        """The attempt ended: the lines held back go to stdout unless it ended well."""
        if status not in QUIET_STATUSES:
            self.speak()

    def warn(self, message: str) -> None:
        """Something wrong that does not stop the run: kept in its record, said on stderr."""
        self.record.warnings.append(message)
        try:
            print(f"orchestration {self.record.reference}: warning: {message}", file=sys.stderr, flush=True)
        except (OSError, AttributeError):
            pass  # no stderr: the warning is in the record

    def _to_stdout(self, data: bytes) -> None:
        if self.stdout_broken or not data:
            return
        self.spoke = True
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except (OSError, ValueError, AttributeError) as error:
            self.stdout_broken = True
            self.record.warnings.append(f"stdout could not be written ({error}); output went to the log only")

    def _to_log(self, chunk: bytes) -> None:
        """Write to the log up to its size cap; say once where it was cut."""
        if self.log is None or self.room <= 0:
            return
        if len(chunk) >= self.room:
            cut = f"\n[log cut at {self.max_log_bytes} bytes; the rest went to stdout only]\n"
            chunk = chunk[: self.room] + cut.encode()
            self.room = 0
        else:
            self.room -= len(chunk)
        try:
            self.log.write(chunk)
        except OSError as error:  # a full disk: the run goes on, with stdout only
            self.room = 0
            self.record.warnings.append(f"the log could not be written ({error}); it ends here")
