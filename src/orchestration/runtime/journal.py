"""The run journal: one SQLite file in the state directory, a row per run and per script step.

A run costs two short transactions: one when it starts, one when it ends (which also prunes the
task's old runs). WAL mode and a busy timeout let many shims finish at once. The schema carries a
version (PRAGMA user_version) and migrates forward. When the journal cannot be written, the run is
kept in a fallback file instead (`runtime.fallback`).

Standard library only: the shim imports this on every run.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from types import TracebackType

from ..state import private_dir
from .records import FAILURE_STATUSES, RUN_FIELDS, STEP_FIELDS, RunRecord, StepRecord

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

BUSY_TIMEOUT_SECONDS = float(os.environ.get("ORCHESTRATION_JOURNAL_TIMEOUT", "10"))
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
    # 3: what each notification of a run did; and run counts per status that pruning does not
    # lower (Prometheus counters), with the last start and end of each status.
    """
    ALTER TABLE runs ADD COLUMN deliveries TEXT;
    CREATE TABLE totals (
        namespace TEXT NOT NULL,
        task TEXT NOT NULL,
        status TEXT NOT NULL,
        runs INTEGER NOT NULL,
        last_started REAL,
        last_finished REAL,
        PRIMARY KEY (namespace, task, status)
    );
    INSERT INTO totals SELECT namespace, task, status, COUNT(*), MAX(started_at), MAX(finished_at)
        FROM runs WHERE status != 'running' GROUP BY namespace, task, status
    """,
    # 4: a run number per task, so that retention deletes a range of an index whatever keep_runs
    # is; where a finished run's log lies in its task's log; an index for the newest success and
    # the failures after it; the bytes of each task's log that no run refers to any more.
    """
    ALTER TABLE runs ADD COLUMN seq INTEGER;
    ALTER TABLE runs ADD COLUMN log_offset INTEGER;
    ALTER TABLE runs ADD COLUMN log_length INTEGER;
    UPDATE runs SET seq = (SELECT COUNT(*) FROM runs AS earlier WHERE earlier.namespace = runs.namespace
        AND earlier.task = runs.task AND (earlier.started_at < runs.started_at
        OR (earlier.started_at = runs.started_at AND earlier.run_id <= runs.run_id)));
    CREATE INDEX runs_by_seq ON runs (namespace, task, seq);
    CREATE INDEX runs_by_status ON runs (namespace, task, status, started_at);
    CREATE TABLE task_logs (
        path TEXT PRIMARY KEY,
        dead_bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tasks (
        namespace TEXT NOT NULL,
        task TEXT NOT NULL,
        newest TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (namespace, task)
    );
    INSERT INTO tasks (namespace, task) SELECT DISTINCT namespace, task FROM runs;
    UPDATE tasks SET newest = (SELECT run_id FROM runs WHERE runs.namespace = tasks.namespace
        AND runs.task = tasks.task ORDER BY started_at DESC, run_id DESC LIMIT 1),
        failures = (SELECT COUNT(*) FROM runs WHERE runs.namespace = tasks.namespace AND runs.task = tasks.task
        AND status IN ('failed', 'error', 'timeout', 'killed') AND started_at > IFNULL((SELECT MAX(started_at)
        FROM runs AS ok WHERE ok.namespace = tasks.namespace AND ok.task = tasks.task AND ok.status = 'ok'), -1))
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_JSON_FIELDS = ("parameters", "warnings", "deliveries")
# What `status` and `list` show of a task's newest run.
_LATEST = (
    *("run_id", "namespace", "task", "trigger", "scheduled_time", "started_at", "finished_at", "status"),
    *("exit_code", "reason", "attempt"),
)


class JournalUnavailable(Exception):
    """The journal cannot be written now; the record goes to the fallback file."""


class Journal:
    """The run journal of one state directory."""

    def __init__(self, path: str | os.PathLike[str], timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._connection: sqlite3.Connection | None = None

    @property
    def exists(self) -> bool:
        return os.path.exists(self.path)

    def connect(self) -> sqlite3.Connection:
        if self._connection is None:
            if not os.path.exists(self.path):
                private_dir(os.path.dirname(self.path))
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            # The first runs of a new journal race to give it its schema and switch it to WAL,
            # and SQLite answers a connection caught in that switch with "database is locked"
            # or "disk I/O error" at once, busy timeout or not: such a run would go to the
            # fallback file, blind to a run of the same firing. A lock on the journal's folder
            # orders them: reading the version shares it, migrating holds it alone. (Not a
            # lock on the journal itself: closing a descriptor of that file would drop
            # SQLite's own locks on it.)
            folder = _locked_folder(os.path.dirname(self.path) or ".")
            try:
                self._connection = self._open(folder)
            finally:
                if folder is not None:
                    os.close(folder)
        return self._connection

    def _open(self, folder: int | None) -> sqlite3.Connection:
        """A connection to a journal of the current schema; `folder` holds a shared lock."""
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            if connection.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                if folder is not None:
                    fcntl.flock(folder, fcntl.LOCK_EX)  # the shared lock is given up first: no deadlock
                _migrate(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def record_start(self, run: RunRecord, *, once_per_firing: bool = False) -> str | None:
        """One transaction: the run exists, status 'running'. With `once_per_firing`, unless a
        run of the task already has its scheduled time (started by the scheduler, not by hand):
        then nothing is written, and that run's id is returned."""
        with _Transaction(self.connect()) as connection:
            if once_per_firing and run.scheduled_time is not None:
                # A firing's runs start at or after its time: the bound keeps the look-up on
                # the task's newest rows of the index, however many runs are kept.
                row = connection.execute(
                    "SELECT run_id FROM runs WHERE namespace = ? AND task = ? AND started_at >= ?"
                    " AND scheduled_time = ? AND trigger != 'manual' LIMIT 1",
                    (run.namespace, run.task, run.scheduled_time - 60, run.scheduled_time),
                ).fetchone()
                if row:
                    return str(row[0])
            _insert_run(connection, run)
            _summarize(connection, run.namespace, run.task)
        return None

    def record_finish(
        self, run: RunRecord, keep_runs: int | None = None, keep_days: float | None = None, sole: bool = False
    ) -> Pruned:
        """One transaction: the run's outcome, its steps, and pruning; the logs to delete, and
        how many bytes of the run's task log no run refers to any more.
        `sole`: this run held the task's lock, so no other run of the task can be running, and
        rows that still say so belong to runs killed outright (SIGKILL, out of memory, a reboot)."""
        with _Transaction(self.connect()) as connection:
            _replace_run(connection, run)
            if sole:
                stale = connection.execute(
                    "SELECT started_at FROM runs WHERE namespace = ? AND task = ? AND status = 'running' AND run_id != ?",
                    (run.namespace, run.task, run.run_id),
                ).fetchall()
                connection.execute(
                    "UPDATE runs SET status = 'killed', reason = ? WHERE namespace = ? AND task = ?"
                    " AND status = 'running' AND run_id != ?",
                    (STALE_REASON, run.namespace, run.task, run.run_id),
                )
                for (started,) in stale:
                    _count(connection, run.namespace, run.task, "killed", started, None)
            else:  # runs may overlap: a row still 'running' is stale when its shim is gone
                rows = connection.execute(
                    "SELECT run_id, pid, started_at FROM runs WHERE namespace = ? AND task = ?"
                    " AND status = 'running' AND run_id != ?",
                    (run.namespace, run.task, run.run_id),
                ).fetchall()
                gone = [(run_id, started) for run_id, pid, started in rows if not process_alive(pid, started)]
                connection.executemany(
                    "UPDATE runs SET status = 'killed', reason = ? WHERE run_id = ?",
                    [(STALE_REASON, run_id) for run_id, _ in gone],
                )
                for _, started in gone:
                    _count(connection, run.namespace, run.task, "killed", started, None)
            pruned = Pruned([], 0) if keep_runs is None else _prune(connection, run, keep_runs, keep_days)
            _summarize(connection, run.namespace, run.task)
            return pruned

    def fold(self, runs: list[RunRecord]) -> None:
        """Write records kept aside in the fallback file, in one transaction."""
        with _Transaction(self.connect()) as connection:
            for run in runs:
                _replace_run(connection, run)
            for namespace, task in {(run.namespace, run.task) for run in runs}:
                _summarize(connection, namespace, task)

    def record_deliveries(self, run: RunRecord) -> bool:
        """One transaction: what the run's notifications did; False if the run is not here (it
        was kept in the fallback file)."""
        with _Transaction(self.connect()) as connection:
            text = json.dumps(run.deliveries, ensure_ascii=False)
            cursor = connection.execute("UPDATE runs SET deliveries = ? WHERE run_id = ?", (text, run.run_id))
            return cursor.rowcount == 1

    def previous_outcome(self, namespace: str, task: str, before: float, statuses: tuple[str, ...]) -> str | None:
        """The status of the task's newest run started before `before` among `statuses`."""
        marks = ",".join("?" * len(statuses))
        row = (
            self.connect()
            .execute(
                f"SELECT status FROM runs WHERE namespace = ? AND task = ? AND started_at < ? AND status IN ({marks})"
                " ORDER BY started_at DESC, run_id DESC LIMIT 1",
                (namespace, task, before, *statuses),
            )
            .fetchone()
        )
        return str(row[0]) if row else None

    def last_duration(self, namespace: str, task: str) -> float | None:
        """The duration of the task's newest run that ran (not skipped, not an overlap)."""
        row = (
            self.connect()
            .execute(
                "SELECT finished_at - started_at FROM runs WHERE namespace = ? AND task = ? AND finished_at IS NOT"
                " NULL AND status NOT IN ('running', 'skipped', 'overlap') ORDER BY started_at DESC LIMIT 1",
                (namespace, task),
            )
            .fetchone()
        )
        return float(row[0]) if row and row[0] is not None else None

    def totals(self) -> dict[tuple[str, str], dict[str, tuple[int, float | None, float | None]]]:
        """Per (namespace, task) and status: runs ever recorded, and the last start and end."""
        found: dict[tuple[str, str], dict[str, tuple[int, float | None, float | None]]] = {}
        for namespace, task, status, runs, started, finished in self.connect().execute(
            "SELECT namespace, task, status, runs, last_started, last_finished FROM totals"
        ):
            found.setdefault((namespace, task), {})[status] = (runs, started or None, finished or None)
        return found

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
        clauses: list[str] = []
        values: list[Any] = []
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

    def earlier_runs(
        self, namespace: str, task: str, before: float, run_id: str | None = None
    ) -> tuple[str | None, float | None, float | None]:
        """(status, start) of the task's newest run started before `before`, whatever its status,
        and the start of its newest success before then: one query on the task's index."""
        row = (
            self.connect()
            .execute(
                "SELECT status, started_at, (SELECT MAX(started_at) FROM runs WHERE namespace = :ns AND"
                " task = :task AND started_at < :before AND run_id != :run AND status = 'ok')"
                " FROM runs WHERE namespace = :ns AND task = :task AND started_at < :before AND"
                " run_id != :run ORDER BY started_at DESC LIMIT 1",
                {"ns": namespace, "task": task, "before": before, "run": run_id or ""},
            )
            .fetchone()
        )
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def latest_scheduled(self, namespace: str, task: str) -> float | None:
        """The newest scheduled time of any run of the task, whatever its status."""
        row = (
            self.connect()
            .execute("SELECT MAX(scheduled_time) FROM runs WHERE namespace = ? AND task = ?", (namespace, task))
            .fetchone()
        )
        return float(row[0]) if row and row[0] is not None else None

    def latest_per_task(self) -> dict[tuple[str, str], tuple[RunRecord, int]]:
        """Per (namespace, task): its newest run (its id, trigger, times, status, exit code and
        reason), and its failures since its newest success (skipped and running runs do not
        count), as each write of the task's runs left them: one query, a row per task."""
        query = (
            f"SELECT {', '.join(f'r.{name}' for name in _LATEST)}, t.failures FROM tasks AS t"
            " JOIN runs AS r ON r.run_id = t.newest"
        )
        found = {}
        for *values, count in self.connect().execute(query):
            record = RunRecord(**dict(zip(_LATEST, values)))
            found[record.namespace, record.task] = (record, int(count))
        return found

    def live_logs(self, path: str) -> list[tuple[str, int, int]]:
        """(run id, offset, length) of every run whose log is in the task log `path`, in order."""
        rows = self.connect().execute(
            "SELECT run_id, log_offset, log_length FROM runs WHERE log_path = ? AND log_offset IS NOT NULL"
            " ORDER BY log_offset",
            (path,),
        )
        return [(run_id, int(offset), int(length)) for run_id, offset, length in rows]

    def move_logs(self, old: str, new: str, moved: list[tuple[str, int]]) -> None:
        """One transaction: the runs' logs are now in the task log `new`, each at its offset."""
        with _Transaction(self.connect()) as connection:
            connection.executemany(
                "UPDATE runs SET log_path = ?, log_offset = ? WHERE run_id = ?",
                [(new, offset, run_id) for run_id, offset in moved],
            )
            connection.execute("DELETE FROM task_logs WHERE path = ?", (old,))

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap test before re-reading."""
        return int(self.connect().execute("PRAGMA data_version").fetchone()[0])


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error_type is None:
            self.connection.execute("COMMIT")
        elif self.connection.in_transaction:
            try:
                self.connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may have rolled back itself; the first error is the one to see


def _locked_folder(path: str) -> int | None:
    """A descriptor of the folder `path` holding a shared lock on it; None where a folder cannot
    be opened or locked (a file system without flock): the journal then opens as it would alone."""
    try:
        folder = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(folder, fcntl.LOCK_SH)
    except OSError:
        os.close(folder)
        return None
    return folder


def _migrate(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    with _Transaction(connection):
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for migration in MIGRATIONS[version:]:
            for statement in migration.split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class Pruned:
    """What pruning a task's runs freed: the runs' own log files to delete, and the bytes of the
    run's task log that no run refers to any more."""

    __slots__ = ("dead_bytes", "files")

    def __init__(self, files: list[str], dead_bytes: int) -> None:
        self.files, self.dead_bytes = files, dead_bytes


def _replace_run(connection: sqlite3.Connection, run: RunRecord) -> None:
    """Write a run's row and steps; count it once, when it first ends."""
    before = connection.execute("SELECT status FROM runs WHERE run_id = ?", (run.run_id,)).fetchone()
    connection.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
    _insert_run(connection, run)
    _insert_steps(connection, run)
    if run.status != "running" and (before is None or before[0] == "running"):
        _count(connection, run.namespace, run.task, run.status, run.started_at, run.finished_at)


def _count(
    connection: sqlite3.Connection, namespace: str, task: str, status: str, started: float, finished: float | None
) -> None:
    connection.execute(
        "INSERT INTO totals VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (namespace, task, status) DO UPDATE SET"
        " runs = runs + 1, last_started = MAX(COALESCE(last_started, 0), excluded.last_started),"
        " last_finished = MAX(COALESCE(last_finished, 0), COALESCE(excluded.last_finished, 0))",
        (namespace, task, status, started, finished),
    )


def _insert_run(connection: sqlite3.Connection, run: RunRecord) -> None:
    if run.seq is None:  # the task's next run number, from the end of its index
        row = connection.execute(
            "SELECT MAX(seq) FROM runs WHERE namespace = ? AND task = ?", (run.namespace, run.task)
        ).fetchone()
        run.seq = (row[0] or 0) + 1
    values = [getattr(run, name) for name in RUN_FIELDS]
    for name in _JSON_FIELDS:
        values[RUN_FIELDS.index(name)] = json.dumps(getattr(run, name), ensure_ascii=False)
    marks = ", ".join("?" * len(RUN_FIELDS))
    connection.execute(f"INSERT INTO runs ({', '.join(RUN_FIELDS)}) VALUES ({marks})", values)


def _insert_steps(connection: sqlite3.Connection, run: RunRecord) -> None:
    connection.executemany(
        f"INSERT OR REPLACE INTO steps (run_id, {', '.join(STEP_FIELDS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(run.run_id, *(getattr(step, name) for name in STEP_FIELDS)) for step in run.steps],
    )


def _summarize(connection: sqlite3.Connection, namespace: str, task: str) -> None:
    """The task's row of `tasks`: its newest run and its failed firings since its newest success
    (a firing retried counts once, by its first attempt), from the indexes (a few rows each),
    after a write of its runs."""
    newest = connection.execute(
        "SELECT run_id FROM runs WHERE namespace = ? AND task = ? ORDER BY started_at DESC, run_id DESC LIMIT 1",
        (namespace, task),
    ).fetchone()
    success = connection.execute(
        "SELECT MAX(started_at) FROM runs WHERE namespace = ? AND task = ? AND status = 'ok'", (namespace, task)
    ).fetchone()[0]
    marks = ", ".join("?" * len(FAILURE_STATUSES))
    failures = connection.execute(
        f"SELECT COUNT(*) FROM runs WHERE namespace = ? AND task = ? AND status IN ({marks}) AND started_at > ?"
        " AND attempt = 1",
        (namespace, task, *FAILURE_STATUSES, -1 if success is None else success),
    ).fetchone()[0]
    connection.execute(
        "INSERT INTO tasks (namespace, task, newest, failures) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, task)"
        " DO UPDATE SET newest = excluded.newest, failures = excluded.failures",
        (namespace, task, newest[0] if newest else None, failures),
    )


def _prune(connection: sqlite3.Connection, run: RunRecord, keep_runs: int, keep_days: float | None) -> Pruned:
    """Delete the task's runs beyond the newest `keep_runs` or older than `keep_days`: two ranges
    of the task's indexes (run numbers, start times), however many runs are kept."""
    oldest = time.time() - keep_days * 86400 if keep_days else 0
    newest = connection.execute(
        "SELECT MAX(seq) FROM runs WHERE namespace = ? AND task = ?", (run.namespace, run.task)
    ).fetchone()[0]
    found: dict[str, tuple[str | None, int | None, int | None]] = {}
    for condition, bound in (("seq <= ?", (newest or 0) - keep_runs), ("started_at < ?", oldest)):
        rows = connection.execute(
            "SELECT run_id, log_path, log_offset, log_length FROM runs WHERE namespace = ? AND task = ?"
            f" AND {condition} AND run_id != ? AND status != 'running'",
            (run.namespace, run.task, bound, run.run_id),
        )
        found.update((run_id, (path, offset, length)) for run_id, path, offset, length in rows)
    connection.executemany("DELETE FROM runs WHERE run_id = ?", [(run_id,) for run_id in found])
    files = [path for path, offset, _ in found.values() if path and offset is None]
    freed: dict[str, int] = {}
    for path, offset, length in found.values():
        if path and offset is not None:
            freed[path] = freed.get(path, 0) + (length or 0)
    for path, size in freed.items():
        connection.execute("INSERT OR IGNORE INTO task_logs (path) VALUES (?)", (path,))
        connection.execute("UPDATE task_logs SET dead_bytes = dead_bytes + ? WHERE path = ?", (size, path))
    dead = 0
    if run.log_path and run.log_offset is not None:
        row = connection.execute("SELECT dead_bytes FROM task_logs WHERE path = ?", (run.log_path,)).fetchone()
        dead = row[0] if row else 0
    return Pruned(files, dead)


def _run_from_row(row: tuple[Any, ...]) -> RunRecord:
    data = dict(zip(RUN_FIELDS, row))
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name]) if data[name] else []
    return RunRecord(**data)


def _attach_steps(connection: sqlite3.Connection, records: list[RunRecord]) -> None:
    by_id = {record.run_id: record for record in records}
    if not by_id:
        return
    marks = ",".join("?" * len(by_id))
    rows = connection.execute(
        f"SELECT run_id, {', '.join(STEP_FIELDS)} FROM steps WHERE run_id IN ({marks}) ORDER BY run_id, position",
        list(by_id),
    )
    for run_id, *values in rows:
        by_id[run_id].steps.append(StepRecord(*values))


def process_alive(pid: int | None, started_at: float) -> bool:
    """Whether the process `pid` that started a run at `started_at` still runs: a process with
    that id that started later is another one (ids are reused)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as stream:
            boot = next(float(line.split()[1]) for line in stream if line.startswith(b"btime "))
    except (OSError, IndexError, StopIteration, ValueError):
        try:
            os.kill(pid, 0)  # no /proc: whether some process has the id
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in (b"Z", b"X"):
        return False
    began = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return began <= started_at + 1  # btime is in whole seconds


def quarantine(path: str) -> str:
    """Move a damaged journal aside (kept for inspection); the new name."""
    aside = f"{path}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    return aside


def is_damaged(error: Exception) -> bool:
    """Whether a database error means the file is not a usable journal (not merely busy). A
    schema that is not UTF-8 fails with UnicodeDecodeError: damage too."""
    if isinstance(error, UnicodeDecodeError):
        return True
    text = str(error).lower()
    return isinstance(error, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    )
