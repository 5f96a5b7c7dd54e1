"""Recording runs: the journal when it can be written, the fallback file when it cannot, so that
no run is lost silently. A damaged journal is moved aside once and a new one started."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable

from ..rules.policy import Retention
from ..state import journal_path
from . import fallback
from .journal import Journal, JournalUnavailable, is_damaged, quarantine
from .records import RunRecord

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


class Recorder:
    """The journal of one state directory, as the shim uses it."""

    def __init__(self, state: str, warn: Callable[[str], None]) -> None:
        self.state = state
        self.journal = Journal(journal_path(state))
        self.warn = warn  # where a moved-aside journal is reported

    def call(self, action: Callable[[], T]) -> T:
        """Run a journal action; a damaged file is moved aside once and a new one started.
        JournalUnavailable when it cannot be done."""
        for attempt in (1, 2):
            try:
                return action()
            except (sqlite3.Error, UnicodeDecodeError) as error:
                self.journal.close()
                if attempt == 1 and is_damaged(error) and os.path.exists(self.journal.path):
                    try:
                        aside = quarantine(self.journal.path)
                    except OSError:
                        raise JournalUnavailable(str(error)) from None
                    self.warn(f"the run journal was damaged ({error}); it was moved to {aside} and a new one started")
                    continue
                raise JournalUnavailable(str(error)) from None
            except OSError as error:
                self.journal.close()
                raise JournalUnavailable(str(error)) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.journal.close()

    def start(self, record: RunRecord) -> None:
        """The run exists, status 'running' (records left in the fallback file go in first)."""
        self.claim(record, once=False)

    def claim(self, record: RunRecord, once: bool = True, several_entries: bool = False) -> str | None:
        """Record the start of the run as the firing of its scheduled time, unless systemd
        started it and that firing already has a run (a timer elapsed again for a time it had
        elapsed for: restarted, or the clock set back): then nothing is recorded and the
        earlier run's id is returned. cron fires an entry's minute once, but a task of
        `several_entries` (several schedules) has an entry per schedule, which may share a
        minute: the same holds for it. `orchestration run` is a run of its own. When the
        journal cannot be read the run goes on."""

        def fold_then_start() -> str | None:
            fallback.fold(self.journal, self.state)
            scheduler = record.trigger in ("systemd", "catch-up") or (several_entries and record.trigger == "cron")
            return self.journal.record_start(record, once_per_firing=once and scheduler)

        try:
            return self.call(fold_then_start)
        except JournalUnavailable as error:
            self.warn(f"the run journal cannot be written ({error}); this run is kept in a fallback file")
            return None

    def finish(self, record: RunRecord, retention: Retention | None, sole: bool) -> int:
        """The run's outcome, and the task's runs beyond its retention pruned with their logs;
        the bytes of the run's task log that no run refers to any more (0 if unknown).
        `sole`: the run held the task's lock, so rows of the task still 'running' are stale."""
        keep_runs = retention.keep_runs if retention else None
        keep_days = retention.keep_days if retention else None
        try:
            pruned = self.call(lambda: self.journal.record_finish(record, keep_runs, keep_days, sole=sole))
        except JournalUnavailable as error:
            self._keep_aside(record, error)
            return 0
        for path in pruned.files:
            try:
                os.unlink(path)
            except OSError:
                pass
        return pruned.dead_bytes

    def _keep_aside(self, record: RunRecord, error: JournalUnavailable) -> None:
        try:
            path = fallback.append(self.state, record)
        except OSError as fallback_error:
            _stderr(f"orchestration-exec: this run could not be recorded: {error}; {fallback_error}")
            return
        _stderr(
            f"orchestration-exec: the run journal {self.journal.path} cannot be written ({error});"
            f" the run was recorded in {path}, and the next run folds it in"
        )

    def save_all(self, records: list[RunRecord]) -> None:
        """Records of firings that never ran (overlaps), in one transaction, else aside."""
        try:
            self.call(lambda: self.journal.fold(records))
        except JournalUnavailable:
            for record in records:
                fallback.append(self.state, record)
        finally:
            self.journal.close()

    def latest_scheduled(self, namespace: str, task: str) -> float | None:
        """The newest scheduled time among the task's runs, runs in the fallback file included."""

        def latest() -> float | None:
            fallback.fold(self.journal, self.state)
            return self.journal.latest_scheduled(namespace, task)

        return self.call(latest)

    def earlier_runs(self, record: RunRecord) -> tuple[str | None, float | None, float | None]:
        """(status, start) of the task's run before `record`, and the start of its last success."""
        return self.call(
            lambda: self.journal.earlier_runs(record.namespace, record.task, record.started_at, record.run_id)
        )


def _stderr(message: str) -> None:
    try:
        print(message, file=sys.stderr)
    except (OSError, AttributeError):
        pass
