"""Reading what ran: run history and per-run logs, for `history`, `logs` and `status`."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import NotInstalledError, UsageError
from ..runtime import fallback
from ..runtime.journal import Journal
from ..runtime.records import FAILURE_STATUSES, STATUSES, RunRecord
from ..state import journal_path


def split_reference(reference: str | None, *, task_required: bool = False) -> tuple[str | None, str | None]:
    """'NAMESPACE/TASK' or 'NAMESPACE' (with `task_required`, only the first) to (namespace,
    task); None to (None, None), every task. UsageError for a reference no task can have."""
    if reference is None:
        return None, None
    from ..define.checks import NAME_PATTERN  # only for a reference: `status` does without
    from ..installer import manifests, pausing

    namespace, task = manifests.split_reference(reference) if task_required else pausing.split(reference)
    if not all(NAME_PATTERN.fullmatch(name) for name in (namespace, task) if name is not None):
        raise UsageError(
            f"'{reference}' is not a task's name: names are 1-64 letters, digits, '-' or '_';"
            " `orchestration list` shows them"
        )
    return namespace, task


class RunHistory(list[RunRecord]):
    """Runs, newest first, plus what could not be read (shown as warnings)."""

    def __init__(self, runs: list[RunRecord], warnings: list[str]) -> None:
        super().__init__(runs)
        self.warnings = warnings


def history(
    state: Path,
    reference: str | None = None,
    *,
    status: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> RunHistory:
    """Runs from the journal and the fallback file, newest first, filtered."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status '{status}'; use one of {', '.join(STATUSES)}")
    namespace, task = split_reference(reference)
    runs, warnings = _journal_runs(state, namespace, task, status, since, limit)
    known = {run.run_id for run in runs}
    for run in fallback.read(state):
        if run.run_id not in known and _matches(run, namespace, task, status, since):
            runs.append(run)
    runs.sort(key=lambda run: (run.started_at, run.run_id), reverse=True)
    return RunHistory(runs[:limit] if limit else runs, warnings)


def require_known(state: Path, reference: str) -> None:
    """UsageError, in the words of `orchestration run`, unless the namespace or task is installed
    or has a recorded run (a misspelt name): runs outlive an uninstall, and stay readable."""
    namespace, task = split_reference(reference)
    if namespace is None or history(state, reference, limit=1):
        return
    from ..installer import manifests

    installed = bool(manifests.candidates(state, namespace))
    if task is None and not installed:
        raise NotInstalledError(
            f"namespace '{namespace}' is not installed and has no recorded runs; `orchestration list` shows what is"
        )
    if task is not None:
        try:
            manifests.find_task(state, f"{namespace}/{task}")
        except NotInstalledError as error:
            if not installed and history(state, namespace, limit=1):
                error.hint = f"`orchestration history {namespace}` lists the runs recorded of its tasks."
            raise


def _journal_runs(
    state: Path, namespace: str | None, task: str | None, status: str | None, since: float | None, limit: int | None
) -> tuple[list[RunRecord], list[str]]:
    journal = Journal(journal_path(state))
    if not journal.exists:
        return [], []
    try:
        return journal.runs(namespace=namespace, task=task, status=status, since=since, limit=limit), []
    except (sqlite3.Error, UnicodeDecodeError) as error:
        return [], [
            f"the run journal {journal.path} cannot be read ({error}); showing only the runs kept in the fallback file"
        ]
    finally:
        journal.close()


def _matches(run: RunRecord, namespace: str | None, task: str | None, status: str | None, since: float | None) -> bool:
    return (
        (namespace is None or run.namespace == namespace)
        and (task is None or run.task == task)
        and (status is None or run.status == status)
        and (since is None or run.started_at >= since)
    )


def find_run(state: Path, reference: str, run_id: str | None = None) -> RunRecord:
    """The run `run_id` of a task, or its newest run."""
    split_reference(reference, task_required=True)  # a namespace alone would pick one of its tasks
    found = history(state, reference, limit=None if run_id else 1)
    if not found and not found.warnings:  # an unreadable journal proves nothing
        require_known(state, reference)
    runs: list[RunRecord] = found
    if run_id:
        runs = [run for run in runs if run.run_id == run_id]
    if not runs:
        what = f"has no run '{run_id}'" if run_id else "has no runs yet"
        raise UsageError(f"{reference} {what}; `orchestration history {reference}` lists its runs")
    return runs[0]


def log_chunks(
    state: Path, reference: str, run_id: str | None = None, *, follow: bool = False, poll: float = 0.25
) -> Iterator[bytes]:
    """The bytes of a run's log; with `follow`, keep streaming it and each later run of the task."""
    run = find_run(state, reference, run_id)
    while True:
        yield from _stream_file(state, run, follow=follow, poll=poll)
        if not follow:
            return
        newer = _wait_for_newer_run(state, reference, run, poll)
        yield f"--- run {newer.run_id} ---\n".encode()
        run = newer


def _stream_file(state: Path, run: RunRecord, *, follow: bool, poll: float) -> Iterator[bytes]:
    if run.log_path and run.log_offset is not None:  # a finished run: its part of its task's log
        yield from _read_part(run.log_path, run.log_offset, run.log_length or 0)
        return
    path = Path(run.log_path) if run.log_path else None  # a running run: its own file
    offset = 0
    while True:
        if path is not None and path.exists():
            try:
                with open(path, "rb") as stream:
                    stream.seek(offset)
                    chunk = stream.read()
            except FileNotFoundError:
                chunk = b""  # it just ended: its log moved into its task's log
            if chunk:
                offset += len(chunk)
                yield chunk
                continue
        ended = _ended(state, run)
        if not follow or ended is not None or path is None:
            if ended is not None and ended.log_path and ended.log_offset is not None:
                # What was not read from the run's own file before it was filed away.
                yield from _read_part(ended.log_path, ended.log_offset + offset, (ended.log_length or 0) - offset)
            return
        time.sleep(poll)


def _read_part(path: str, offset: int, length: int) -> Iterator[bytes]:
    """`length` bytes of the file `path` from `offset` (what is there of them)."""
    if length <= 0:
        return
    try:
        with open(path, "rb") as stream:
            stream.seek(offset)
            while length > 0:
                chunk = stream.read(min(length, 1 << 20))
                if not chunk:
                    return
                length -= len(chunk)
                yield chunk
    except FileNotFoundError:
        return


def _ended(state: Path, run: RunRecord) -> RunRecord | None:
    """The run's record once it has ended, else None."""
    current = history(state, run.reference, limit=50)
    return next((r for r in current if r.run_id == run.run_id and r.status != "running"), None)


def _wait_for_newer_run(state: Path, reference: str, run: RunRecord, poll: float) -> RunRecord:
    while True:
        newest = history(state, reference, limit=1)
        if newest and newest[0].run_id != run.run_id and newest[0].started_at >= run.started_at:
            return newest[0]
        time.sleep(poll)


def latest_runs(state: Path) -> dict[tuple[str, str], tuple[RunRecord, int]]:
    """Per (namespace, task): its newest run and its failures since its newest success, from one
    query of the journal, with the runs kept in the fallback file."""
    found: dict[tuple[str, str], tuple[RunRecord, int]] = {}
    journal = Journal(journal_path(state))
    if journal.exists:
        try:
            found = journal.latest_per_task()
        except (sqlite3.Error, UnicodeDecodeError):
            found = {}  # `history` says why; the status goes on without runs
        finally:
            journal.close()
    for run in sorted(fallback.read(state), key=lambda run: run.started_at):
        key = (run.namespace, run.task)
        last, failures = found.get(key, (None, 0))
        if last is None or run.started_at >= last.started_at:
            found[key] = (run, 0 if run.status == "ok" else failures + (run.status in FAILURE_STATUSES))
    return found


def consecutive_failures(runs: list[RunRecord]) -> int:
    """Failed firings since the last success, of runs newest first: a firing retried counts once
    (by its first attempt); skipped and running runs do not count."""
    count = 0
    for run in runs:
        if run.status == "ok":
            break
        if run.status in FAILURE_STATUSES and run.attempt == 1:
            count += 1
    return count
