"""The fallback file: where a run's record goes when the journal cannot be written (read-only,
locked beyond the timeout, damaged), so that no run is lost silently. `history` reads it, and the
next run that can write the journal folds it in. JSON lines, one record each.

Standard library only: the shim uses it when the journal fails.
"""

from __future__ import annotations

import fcntl
import json
import os

from ..state import private_dir, spare_dir, spare_path
from .journal import Journal
from .records import RunRecord

FALLBACK_NAME = "journal-fallback.jsonl"


def fallback_paths(state: str | os.PathLike[str]) -> list[str]:
    """Where records go when the journal cannot be written: the state folder, else the spare
    folder (when the state folder itself is read-only)."""
    paths = [os.path.join(state, FALLBACK_NAME)]
    try:
        paths.append(spare_path(state, FALLBACK_NAME))
    except OSError:
        pass
    return paths


def _ensure_folder(path: str, spare: bool) -> None:
    if spare:
        spare_dir()
    else:
        private_dir(path)


def append(state: str | os.PathLike[str], run: RunRecord, *, spare_only: bool = False) -> str:
    """Append the record to the first fallback file that can be written; its path. With
    `spare_only`, only the spare folder's (for a state folder that is not safe to write)."""
    line = (json.dumps(run.to_dict(), ensure_ascii=False) + "\n").encode()
    last_error: OSError | None = None
    for position, path in enumerate(fallback_paths(state)):
        if spare_only and position == 0:
            continue
        try:
            _ensure_folder(os.path.dirname(path), spare=position > 0)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
            return path
        except OSError as error:
            last_error = error
    raise OSError(f"no fallback file could be written: {last_error}")


def read(state: str | os.PathLike[str]) -> list[RunRecord]:
    """Records waiting in the fallback files (the newest record of each run wins)."""
    found: dict[str, RunRecord] = {}
    for path in fallback_paths(state):
        try:
            with open(path, "rb") as stream:
                for line in stream:
                    try:
                        run = RunRecord.from_dict(json.loads(line))
                    except (ValueError, TypeError):
                        continue  # a line cut short by a crash
                    found[run.run_id] = run
        except OSError:
            continue
    return list(found.values())


def fold(journal: Journal, state: str | os.PathLike[str]) -> int:
    """Move records from the fallback files into the journal; how many."""
    folded = 0
    for path in fallback_paths(state):
        try:
            if os.path.getsize(path) == 0:
                continue
            descriptor = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            with open(descriptor, "rb", closefd=False) as stream:
                runs = []
                for line in stream:
                    try:
                        runs.append(RunRecord.from_dict(json.loads(line)))
                    except (ValueError, TypeError):
                        continue
            journal.fold(runs)
            os.ftruncate(descriptor, 0)
            folded += len(runs)
        finally:
            os.close(descriptor)
    return folded
