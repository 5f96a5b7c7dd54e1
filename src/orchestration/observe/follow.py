"""Printing runs from the journal as they start and finish (execute_tasks, history --follow)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from pathlib import Path

from ..runtime.journal import Journal
from ..runtime.records import RunRecord
from ..state import journal_path


def format_run(record: RunRecord) -> str:
    """One line for a run: when, which task, its run id, status, duration and exit code."""
    started = datetime.fromtimestamp(record.started_at).astimezone().strftime("%Y-%m-%d %H:%M:%S%z")
    line = f"{started}  {record.reference}  {record.run_id}  {record.status}"
    if record.status != "running":
        duration = record.duration or 0.0
        line += f"  {duration:.2f}s"
        if record.exit_code is not None:
            line += f"  exit {record.exit_code}"
    if record.reason:
        line += f"  ({record.reason})"
    return line


def follow_runs(
    state: Path,
    *,
    namespace: str | None = None,
    task: str | None = None,
    report: Callable[[str], None] = print,
    since: float | None = None,
    namespaces: Collection[str] | None = None,
    on_poll: Callable[[], None] | None = None,
) -> None:
    """Report each run of `namespace` (or of `namespaces`; and `task`) as it starts and finishes;
    until interrupted. `on_poll` is called at every look at the journal."""
    journal = Journal(journal_path(state))
    for record in changes(journal, since=time.time() if since is None else since, on_poll=on_poll):
        if (namespace and record.namespace != namespace) or (task and record.task != task):
            continue
        if namespaces is not None and record.namespace not in namespaces:
            continue
        report(format_run(record))


def changes(
    journal: Journal, *, since: float, poll: float = 0.25, on_poll: Callable[[], None] | None = None
) -> Iterator[RunRecord]:
    """Each run when it starts and again when it finishes, from `since` on, forever."""
    shown: dict[str, str] = {}
    version = None
    while True:
        if on_poll is not None:
            on_poll()
        current = journal.data_version()
        if current != version:
            version = current
            for record in reversed(journal.runs(since=since)):
                if shown.get(record.run_id) != record.status:
                    shown[record.run_id] = record.status
                    yield record
        time.sleep(poll)
