"""What a run says: its scripts' output and the shim's own lines, copied to stdout (cron mails it,
systemd's journal keeps it) and to the run's log, capped at `max_log_bytes`. Neither a closed
stdout nor a full disk stops the run: what cannot be written is noted in the run's warnings.

While a run runs, its log is a file of its own (`logs/NS/TASK/RUN_ID.log`), which `orchestration
logs --follow` reads as it grows. When it ends, the log is appended to its task's log
(`logs/NS/TASK/runs.N.log`) and the run's record says where (offset and length): a small run
costs bytes, not a file-system block. When most of a task's log belongs to runs that retention
deleted, the next run copies what is left into `runs.N+1.log` and drops the old one.

A quiet transcript (the default; `verbose=True` turns it off) holds the shim's own lines back from
stdout until there is something to read: a script's output, or an end that is not ok or skipped.
So a run that prints nothing and ends well prints nothing, and cron mails only when it should. The
log always gets every line."""

from __future__ import annotations

import fcntl
import os
import sys

from ..state import logs_dir, private_dir
from .records import RunRecord

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from types import TracebackType
    from typing import BinaryIO

    from .recorder import Recorder

# A task's log is compacted when it is at least this big and more than half of it is dead.
COMPACT_BYTES = int(os.environ.get("ORCHESTRATION_LOG_COMPACT_BYTES", str(1 << 20)))
CHUNK = 1 << 20


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

    def filing(self) -> Filing:
        """A block in which the run's log is in its task's log, under the task's log lock: the
        run's record is written inside it, so that a compaction never misses it."""
        return Filing(self)

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


class Filing:
    """Transcript.filing(): append the run's own log to its task's log on entry (the record then
    says where), remove the run's own file on exit; compact the task's log when worth it."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.lock: int | None = None
        self.own: str | None = None  # the run's own log file, to remove once filed

    def __enter__(self) -> Filing:
        transcript = self.transcript
        transcript.close()
        record = transcript.record
        own = record.log_path
        if own is None or record.log_offset is not None:
            return self
        directory = os.path.dirname(own)
        try:
            self.lock = os.open(os.path.join(directory, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.lock, fcntl.LOCK_EX)
            task_log = os.path.join(directory, f"runs.{_generation(directory)}.log")
            offset, length = _append(own, task_log)
        except OSError as error:
            transcript.warn(f"the run's log stays in {own}: it could not be added to its task's log ({error})")
            return self
        record.log_path, record.log_offset, record.log_length = task_log, offset, length
        self.own = own
        return self

    def compact(self, dead_bytes: int, recorder: Recorder) -> None:
        """Copy the live part of the task's log into the next generation when more than half of
        it is dead (`dead_bytes`, as the journal counts them)."""
        record = self.transcript.record
        path = record.log_path
        if self.own is None or path is None:
            return
        try:
            size = os.path.getsize(path)
        except OSError:
            return
        if size < COMPACT_BYTES or dead_bytes * 2 < size:
            return
        directory = os.path.dirname(path)
        newer = os.path.join(directory, f"runs.{_generation(directory) + 1}.log")
        try:
            live = recorder.call(lambda: recorder.journal.live_logs(path))
            moved = _copy_live(path, newer, live)
            recorder.call(lambda: recorder.journal.move_logs(path, newer, moved))
        except Exception:  # compaction is an economy: a failure leaves the old log in place
            try:
                os.unlink(newer)
            except OSError:
                pass
            return
        for run_id, offset in moved:
            if run_id == record.run_id:
                record.log_path, record.log_offset = newer, offset
        try:
            os.unlink(path)
        except OSError:
            pass

    def __exit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if self.own is not None:
                os.unlink(self.own)
        except OSError:
            pass
        finally:
            if self.lock is not None:
                os.close(self.lock)  # releases the lock


def _generation(directory: str) -> int:
    """The number of the task's current log (`runs.N.log`; 1 when there is none yet)."""
    numbers = [int(name[5:-4]) for name in os.listdir(directory) if name.startswith("runs.") and name[5:-4].isdigit()]
    return max(numbers, default=1)


def _append(source: str, target: str) -> tuple[int, int]:
    """Append the file `source` to `target`; (offset, length) of what was appended. A partial
    write is cut off again, so the task's log never holds half a run."""
    written = 0
    out = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        offset = os.fstat(out).st_size
        try:
            with open(source, "rb") as stream:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    while chunk:
                        count = os.write(out, chunk)
                        written += count
                        chunk = chunk[count:]
        except OSError:
            os.ftruncate(out, offset)
            raise
    finally:
        os.close(out)
    return offset, written


def _copy_live(path: str, newer: str, live: list[tuple[str, int, int]]) -> list[tuple[str, int]]:
    """Copy the runs' logs (run id, offset, length) from `path` into the new file `newer`, synced;
    each run id with its offset there."""
    moved = []
    position = 0
    with open(path, "rb") as source, open(os.open(newer, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for run_id, offset, length in live:
            source.seek(offset)
            out.write(source.read(length))
            moved.append((run_id, position))
            position += length
        out.flush()
        os.fsync(out.fileno())
    return moved
