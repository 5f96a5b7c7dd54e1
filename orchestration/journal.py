"""The run journal: one SQLite file in the state directory, a row per run and per script step.

A run costs two short transactions: one when it starts, one when it ends (which also prunes the
task's old runs). WAL mode and a busy timeout let many shims finish at once. The schema carries a
version (PRAGMA user_version) and migrates forward.

A run is never lost silently: when the journal cannot be written (read-only, locked beyond the
timeout, damaged), the record goes to a fallback file that `history` reads and the next run that
can write the journal folds in.

Standard library only, and no dataclasses or pathlib: the shim imports this on every run.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time

JOURNAL_NAME = "journal.sqlite3"
FALLBACK_NAME = "journal-fallback.jsonl"
BUSY_TIMEOUT_SECONDS = float(os.environ.get("ORCHESTRATION_JOURNAL_TIMEOUT", "10"))
FAILURE_STATUSES = ("failed", "error", "timeout", "killed")
STALE_REASON = "ended without a record: killed outright (SIGKILL, out of memory, a reboot)"

# Each entry upgrades the schema by one version; never edit a released one, append a new one.
MIGRATIONS = (
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        task TEXT NOT NULL,
        trigger TEXT NOT NULL,
        scheduled_time REAL,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        reason TEXT,
        log_path TEXT,
        parameters TEXT,
        warnings TEXT,
        pid INTEGER
    );
    CREATE INDEX runs_by_task ON runs (namespace, task, started_at);
    CREATE INDEX runs_by_start ON runs (started_at);
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        script TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        PRIMARY KEY (run_id, position)
    )
    """,
    # 2: retries record each attempt of a run as a run of its own.
    """
    ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

RUN_FIELDS = (
    "run_id", "namespace", "task", "trigger", "scheduled_time", "started_at", "finished_at",
    "status", "exit_code", "reason", "log_path", "parameters", "warnings", "pid", "attempt",
)
STEP_FIELDS = ("position", "script", "started_at", "finished_at", "status", "exit_code")
_JSON_FIELDS = ("parameters", "warnings")


class StepRecord:
    """One script run inside a run."""

    __slots__ = STEP_FIELDS

    def __init__(self, position, script, started_at, finished_at=None, status="running", exit_code=None):
        self.position, self.script, self.started_at = position, script, started_at
        self.finished_at, self.status, self.exit_code = finished_at, status, exit_code

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in STEP_FIELDS}


class RunRecord:
    """One run of one task, as the journal keeps it."""

    __slots__ = RUN_FIELDS + ("steps",)

    def __init__(self, run_id, namespace, task, trigger, started_at, status="running",
                 scheduled_time=None, finished_at=None, exit_code=None, reason=None,
                 log_path=None, parameters=None, warnings=None, pid=None, steps=None, attempt=1):
        self.run_id, self.namespace, self.task, self.trigger = run_id, namespace, task, trigger
        self.started_at, self.status, self.scheduled_time = started_at, status, scheduled_time
        self.finished_at, self.exit_code, self.reason = finished_at, exit_code, reason
        self.log_path, self.pid, self.attempt = log_path, pid, attempt
        self.parameters = parameters if parameters is not None else []
        self.warnings = warnings if warnings is not None else []
        self.steps = steps if steps is not None else []

    @property
    def reference(self) -> str:
        return f"{self.namespace}/{self.task}"

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    def to_dict(self) -> dict:
        """Everything, as stored (times are timestamps)."""
        data = {name: getattr(self, name) for name in RUN_FIELDS}
        data["steps"] = [step.to_dict() for step in self.steps]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "RunRecord":
        steps = [StepRecord(**step) for step in data.get("steps", [])]
        return cls(**{**{k: v for k, v in data.items() if k in RUN_FIELDS}, "steps": steps})

    def to_json(self) -> dict:
        """For people and scripts: times as ISO 8601 with offset, plus the duration."""
        data = self.to_dict()
        for record in [data, *data["steps"]]:
            for key in ("scheduled_time", "started_at", "finished_at"):
                if record.get(key) is not None:
                    record[key] = _iso(record[key])
        data["duration"] = self.duration
        return data


def json_text(value) -> str:
    """JSON for the journal's text columns and the fallback file: strings, numbers, booleans,
    None, lists and dicts. Written here because importing json (and re with it) costs the shim
    milliseconds on every firing; reading it back is json.loads, off the shim's path."""
    if isinstance(value, str):
        return '"' + value.translate(_JSON_ESCAPES) + '"'
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json_text(str(key))}: {json_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(json_text(item) for item in value) + "]"
    return json_text(str(value))


_JSON_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)} | {ord('"'): '\\"', ord("\\"): "\\\\",
                                                          8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}


def _loads(text):
    import json  # noqa: PLC0415 - only readers need it

    return json.loads(text)


def _iso(timestamp: float) -> str:
    from datetime import datetime  # noqa: PLC0415 - only the CLI prints JSON

    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")


def journal_path(state) -> str:
    return os.path.join(state, JOURNAL_NAME)


class JournalUnavailable(Exception):
    """The journal cannot be written now; the record goes to the fallback file."""


class Journal:
    """The run journal of one state directory."""

    def __init__(self, path, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._connection: sqlite3.Connection | None = None

    @property
    def exists(self) -> bool:
        return os.path.exists(self.path)

    def connect(self) -> sqlite3.Connection:
        if self._connection is None:
            if not os.path.exists(self.path):
                _private_dirs(os.path.dirname(self.path))
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            try:
                connection.execute("PRAGMA foreign_keys = ON")
                if connection.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    _migrate(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def record_start(self, run: RunRecord) -> None:
        """One transaction: the run exists, status 'running'."""
        with _Transaction(self.connect()) as connection:
            _insert_run(connection, run)

    def record_finish(self, run: RunRecord, keep_runs: int | None = None, keep_days: float | None = None,
                      sole: bool = False) -> list[str]:
        """One transaction: the run's outcome, its steps, and pruning; the logs to delete.
        `sole`: this run held the task's lock, so no other run of the task can be running, and
        rows that still say so belong to runs killed outright (SIGKILL, out of memory, a reboot)."""
        with _Transaction(self.connect()) as connection:
            connection.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
            _insert_run(connection, run)
            _insert_steps(connection, run)
            if sole:
                connection.execute(
                    "UPDATE runs SET status = 'killed', reason = ? WHERE namespace = ? AND task = ?"
                    " AND status = 'running' AND run_id != ?",
                    (STALE_REASON, run.namespace, run.task, run.run_id),
                )
            if keep_runs is None:
                return []
            return _prune(connection, run, keep_runs, keep_days)

    def fold(self, runs: list[RunRecord]) -> None:
        """Write records kept aside in the fallback file, in one transaction."""
        with _Transaction(self.connect()) as connection:
            for run in runs:
                connection.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
                _insert_run(connection, run)
                _insert_steps(connection, run)

    def runs(self, *, namespace=None, task=None, status=None, since=None, limit=None) -> list[RunRecord]:
        """Runs, newest first."""
        clauses, values = [], []
        for column, value in (("namespace", namespace), ("task", task), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        if since is not None:
            clauses.append("started_at >= ?")
            values.append(since)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        suffix = f" LIMIT {int(limit)}" if limit is not None else ""
        columns = ", ".join(RUN_FIELDS)
        query = f"SELECT {columns} FROM runs{where} ORDER BY started_at DESC, run_id DESC{suffix}"
        connection = self.connect()
        records = [_run_from_row(row) for row in connection.execute(query, values)]
        _attach_steps(connection, records)
        return records

    def earlier_runs(self, namespace: str, task: str, before: float, run_id: str | None = None) -> tuple:
        """(status, start) of the task's newest run started before `before`, whatever its status,
        and the start of its newest success before then: one query on the task's index."""
        row = self.connect().execute(
            "SELECT status, started_at, (SELECT MAX(started_at) FROM runs WHERE namespace = :ns AND"
            " task = :task AND started_at < :before AND run_id != :run AND status = 'ok')"
            " FROM runs WHERE namespace = :ns AND task = :task AND started_at < :before AND"
            " run_id != :run ORDER BY started_at DESC LIMIT 1",
            {"ns": namespace, "task": task, "before": before, "run": run_id or ""},
        ).fetchone()
        return tuple(row) if row else (None, None, None)

    def latest_scheduled(self, namespace: str, task: str) -> float | None:
        """The newest scheduled time of any run of the task, whatever its status."""
        row = self.connect().execute(
            "SELECT MAX(scheduled_time) FROM runs WHERE namespace = ? AND task = ?", (namespace, task)
        ).fetchone()
        return row[0] if row else None

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap test before re-reading."""
        return self.connect().execute("PRAGMA data_version").fetchone()[0]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is None:
            self.connection.execute("COMMIT")
        elif self.connection.in_transaction:
            try:
                self.connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may have rolled back itself; the first error is the one to see


def _migrate(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    with _Transaction(connection):
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for migration in MIGRATIONS[version:]:
            for statement in migration.split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _insert_run(connection: sqlite3.Connection, run: RunRecord) -> None:
    values = [getattr(run, name) for name in RUN_FIELDS]
    for name in _JSON_FIELDS:
        values[RUN_FIELDS.index(name)] = json_text(getattr(run, name))
    marks = ", ".join("?" * len(RUN_FIELDS))
    connection.execute(f"INSERT INTO runs ({', '.join(RUN_FIELDS)}) VALUES ({marks})", values)


def _insert_steps(connection: sqlite3.Connection, run: RunRecord) -> None:
    connection.executemany(
        f"INSERT OR REPLACE INTO steps (run_id, {', '.join(STEP_FIELDS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(run.run_id, *(getattr(step, name) for name in STEP_FIELDS)) for step in run.steps],
    )


def _prune(connection: sqlite3.Connection, run: RunRecord, keep_runs: int, keep_days: float | None) -> list[str]:
    """Delete the task's runs beyond the newest `keep_runs` or older than `keep_days`."""
    oldest = time.time() - keep_days * 86400 if keep_days else 0
    rows = connection.execute(
        "SELECT run_id, log_path FROM runs WHERE namespace = ? AND task = ? AND run_id != ? AND"
        " status != 'running' AND (started_at < ? OR run_id NOT IN (SELECT run_id FROM runs WHERE namespace = ? AND"
        " task = ? ORDER BY started_at DESC LIMIT ?))",
        (run.namespace, run.task, run.run_id, oldest, run.namespace, run.task, keep_runs),
    ).fetchall()
    connection.executemany("DELETE FROM runs WHERE run_id = ?", [(run_id,) for run_id, _ in rows])
    return [log for _, log in rows if log]


def _run_from_row(row) -> RunRecord:
    data = dict(zip(RUN_FIELDS, row))
    for name in _JSON_FIELDS:
        data[name] = _loads(data[name]) if data[name] else []
    return RunRecord(**data)


def _attach_steps(connection: sqlite3.Connection, records: list[RunRecord]) -> None:
    by_id = {record.run_id: record for record in records}
    if not by_id:
        return
    marks = ",".join("?" * len(by_id))
    rows = connection.execute(
        f"SELECT run_id, {', '.join(STEP_FIELDS)} FROM steps WHERE run_id IN ({marks})"
        " ORDER BY run_id, position",
        list(by_id),
    )
    for run_id, *values in rows:
        by_id[run_id].steps.append(StepRecord(*values))


def _private_dirs(path: str) -> None:
    from .state import private_dir  # noqa: PLC0415 - only the first run creates the folder

    private_dir(path)


# --- the fallback file -----------------------------------------------------------------------------


def fallback_paths(state) -> list[str]:
    """Where records go when the journal cannot be written: the state folder, else the spare
    folder (when the state folder itself is read-only)."""
    paths = [os.path.join(state, FALLBACK_NAME)]
    try:
        from .spare import spare_path  # noqa: PLC0415 - small, standard library only

        paths.append(spare_path(state, FALLBACK_NAME))
    except OSError:
        pass
    return paths


def _ensure_folder(path: str, spare: bool) -> None:
    from .spare import spare_dir  # noqa: PLC0415 - only on the fault path
    from .state import private_dir  # noqa: PLC0415

    spare_dir() if spare else private_dir(path)


def append_fallback(state, run: RunRecord) -> str:
    """Append the record to the first fallback file that can be written; its path."""
    line = (json_text(run.to_dict()) + "\n").encode()
    last_error: OSError | None = None
    for position, path in enumerate(fallback_paths(state)):
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


def read_fallback(state) -> list[RunRecord]:
    """Records waiting in the fallback files (the newest record of each run wins)."""
    found: dict[str, RunRecord] = {}
    for path in fallback_paths(state):
        try:
            with open(path, "rb") as stream:
                for line in stream:
                    try:
                        run = RunRecord.from_dict(_loads(line))
                    except (ValueError, TypeError):
                        continue  # a line cut short by a crash
                    found[run.run_id] = run
        except OSError:
            continue
    return list(found.values())


def fold_fallback(journal: Journal, state) -> int:
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
                        runs.append(RunRecord.from_dict(_loads(line)))
                    except (ValueError, TypeError):
                        continue
            journal.fold(runs)
            os.ftruncate(descriptor, 0)
            folded += len(runs)
        finally:
            os.close(descriptor)
    return folded


def quarantine(path) -> str:
    """Move a damaged journal aside (kept for inspection); the new name."""
    aside = f"{os.fspath(path)}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(os.fspath(path) + suffix):
            os.replace(os.fspath(path) + suffix, aside + suffix)
    return aside


def is_damaged(error: Exception) -> bool:
    """Whether a database error means the file is not a usable journal (not merely busy)."""
    text = str(error).lower()
    return isinstance(error, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    )


def consecutive_failures(runs: list[RunRecord]) -> int:
    """Failures since the last success, newest first; skipped and running runs do not count."""
    count = 0
    for run in runs:
        if run.status == "ok":
            break
        if run.status in FAILURE_STATUSES:
            count += 1
    return count


def follow(journal: Journal, *, since: float, poll: float = 0.25):
    """Yield each run when it starts and again when it finishes, from `since` on, forever."""
    shown: dict[str, str] = {}
    version = None
    while True:
        current = journal.data_version()
        if current != version:
            version = current
            for record in reversed(journal.runs(since=since)):
                if shown.get(record.run_id) != record.status:
                    shown[record.run_id] = record.status
                    yield record
        time.sleep(poll)
