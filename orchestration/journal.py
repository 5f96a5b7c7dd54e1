"""The run journal: one SQLite file in the state directory, a row per run and per script step.

A run costs two short transactions: one when it starts, one when it ends. WAL mode and a busy
timeout let many shims finish at once. The schema carries a version (PRAGMA user_version) and
migrates forward. Standard library only: the shim writes here on every run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .state import private_dir

JOURNAL_NAME = "journal.sqlite3"
BUSY_TIMEOUT_SECONDS = 10.0

# Each entry upgrades the schema by one version; never edit a released one, append a new one.
MIGRATIONS: tuple[str, ...] = (
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
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class StepRecord:
    position: int
    script: str
    started_at: float
    finished_at: float | None = None
    status: str = "running"
    exit_code: int | None = None


@dataclass
class RunRecord:
    run_id: str
    namespace: str
    task: str
    trigger: str
    started_at: float
    status: str = "running"
    scheduled_time: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    log_path: str | None = None
    parameters: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pid: int | None = None
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return f"{self.namespace}/{self.task}"

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    def to_json(self) -> dict[str, Any]:
        """For people and scripts: times as ISO 8601 with offset, plus the duration."""
        data = asdict(self)
        for record in [data, *data["steps"]]:
            for key in ("scheduled_time", "started_at", "finished_at"):
                if record.get(key) is not None:
                    record[key] = _iso(record[key])
        data["duration"] = self.duration
        return data


def _iso(timestamp: float) -> str:
    from datetime import datetime  # noqa: PLC0415 - only the CLI prints JSON

    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")


_RUN_COLUMNS = (
    "run_id, namespace, task, trigger, scheduled_time, started_at, finished_at, status,"
    " exit_code, reason, log_path, parameters, warnings, pid"
)


def journal_path(state: Path) -> Path:
    return state / JOURNAL_NAME


class Journal:
    """The run journal of one state directory."""

    def __init__(self, path: Path, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.timeout = timeout
        self._connection: sqlite3.Connection | None = None

    def connect(self) -> sqlite3.Connection:
        if self._connection is None:
            if not self.path.exists():
                private_dir(self.path.parent)
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            connection.execute("PRAGMA foreign_keys = ON")
            if connection.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                _migrate(connection)
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def record_start(self, run: RunRecord) -> None:
        """One transaction: the run exists, status 'running'."""
        with _transaction(self.connect()) as connection:
            _insert_run(connection, run)

    def record_finish(self, run: RunRecord) -> None:
        """One transaction: the run's outcome and its steps."""
        with _transaction(self.connect()) as connection:
            connection.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, reason = ?,"
                " parameters = ?, warnings = ? WHERE run_id = ?",
                (
                    run.finished_at,
                    run.status,
                    run.exit_code,
                    run.reason,
                    json.dumps(run.parameters),
                    json.dumps(run.warnings),
                    run.run_id,
                ),
            )
            if connection.execute("SELECT changes()").fetchone()[0] == 0:
                _insert_run(connection, run)
            _insert_steps(connection, run)

    def record_whole(self, runs: Iterable[RunRecord]) -> None:
        """Write finished runs in one transaction (folding in records kept aside)."""
        with _transaction(self.connect()) as connection:
            for run in runs:
                connection.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
                _insert_run(connection, run)
                _insert_steps(connection, run)

    def runs(
        self,
        *,
        namespace: str | None = None,
        task: str | None = None,
        status: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
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
        query = f"SELECT {_RUN_COLUMNS} FROM runs{where} ORDER BY started_at DESC, run_id DESC{suffix}"
        connection = self.connect()
        records = [_run_from_row(row) for row in connection.execute(query, values)]
        _attach_steps(connection, records)
        return records

    def run(self, run_id: str) -> RunRecord | None:
        connection = self.connect()
        row = connection.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        record = _run_from_row(row)
        _attach_steps(connection, [record])
        return record

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap test before re-reading."""
        return self.connect().execute("PRAGMA data_version").fetchone()[0]

    def delete_runs(self, run_ids: Iterable[str]) -> None:
        with _transaction(self.connect()) as connection:
            connection.executemany("DELETE FROM runs WHERE run_id = ?", [(run_id,) for run_id in run_ids])


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, error_type, error, traceback) -> None:
        self.connection.execute("COMMIT" if error_type is None else "ROLLBACK")


def _migrate(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    with _transaction(connection):
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for migration in MIGRATIONS[version:]:
            for statement in migration.split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _insert_run(connection: sqlite3.Connection, run: RunRecord) -> None:
    connection.execute(
        f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run.run_id,
            run.namespace,
            run.task,
            run.trigger,
            run.scheduled_time,
            run.started_at,
            run.finished_at,
            run.status,
            run.exit_code,
            run.reason,
            run.log_path,
            json.dumps(run.parameters),
            json.dumps(run.warnings),
            run.pid,
        ),
    )


def _insert_steps(connection: sqlite3.Connection, run: RunRecord) -> None:
    connection.executemany(
        "INSERT OR REPLACE INTO steps (run_id, position, script, started_at, finished_at, status,"
        " exit_code) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (run.run_id, s.position, s.script, s.started_at, s.finished_at, s.status, s.exit_code)
            for s in run.steps
        ],
    )


def _run_from_row(row: tuple[Any, ...]) -> RunRecord:
    (run_id, namespace, task, trigger, scheduled, started, finished, status, code, reason, log,
     parameters, warnings, pid) = row
    return RunRecord(
        run_id=run_id,
        namespace=namespace,
        task=task,
        trigger=trigger,
        scheduled_time=scheduled,
        started_at=started,
        finished_at=finished,
        status=status,
        exit_code=code,
        reason=reason,
        log_path=log,
        parameters=json.loads(parameters) if parameters else [],
        warnings=json.loads(warnings) if warnings else [],
        pid=pid,
    )


def _attach_steps(connection: sqlite3.Connection, records: list[RunRecord]) -> None:
    by_id = {record.run_id: record for record in records}
    if not by_id:
        return
    marks = ",".join("?" * len(by_id))
    rows = connection.execute(
        "SELECT run_id, position, script, started_at, finished_at, status, exit_code FROM steps"
        f" WHERE run_id IN ({marks}) ORDER BY run_id, position",
        list(by_id),
    )
    for run_id, *values in rows:
        by_id[run_id].steps.append(StepRecord(*values))


def follow(journal: Journal, *, since: float, poll: float = 0.25) -> Iterator[RunRecord]:
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
