"""`orchestration-exec MANIFEST TASK`: the program cron and systemd call for every firing.

It reads the manifest, evaluates the skip conditions, works out the parameters, runs the scripts
in order `interval` seconds apart with their parameters as arguments, copies their output to the
run's log and to its own stdout (cron mails it), records the run in the journal and exits with
the failing script's code.

Start-up cost is paid on every firing, so this imports only the standard library and our small
runtime modules; jinja2 is loaded only for template parameters, and the tasks file (and what it
imports) only for a task's functions: callable conditions, parameter values and parameter sets.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from .errors import RunError
from .journal import (
    Journal,
    JournalUnavailable,
    RunRecord,
    StepRecord,
    append_fallback,
    fold_fallback,
    is_damaged,
    journal_path,
    quarantine,
)
from .overlap import TaskLock, overlap_reason
from .process import Guard, Interrupted, Outcome, SpawnError, TimeUp, run_script, signal_name

USAGE = "usage: orchestration-exec MANIFEST TASK [--trigger cron|systemd|manual] [--catch-up]"
TRIGGERS = ("cron", "systemd", "manual", "catch-up")
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124  # as timeout(1) exits


def main(argv: list[str] | None = None) -> int:
    """Entry point of orchestration-exec."""
    code = _main(sys.argv[1:] if argv is None else argv)
    if argv is None and "orchestration.usercode" not in sys.modules:
        # The program itself, and no code of the tasks file (whose atexit hooks must run):
        # everything is written and closed, so skip the interpreter's teardown, a millisecond
        # or two on every firing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv: list[str]) -> int:
    try:
        manifest_path, task_id, trigger = _arguments(argv)
    except ValueError as error:
        print(f"orchestration-exec: {error}\n{USAGE}", file=sys.stderr)
        return EXIT_USAGE
    guard = Guard()
    guard.install()
    runner = Runner(os.path.abspath(manifest_path), task_id, trigger, guard)
    code = runner.run()
    queued = list(runner.queued)
    while queued and guard.received is None:  # systemd dropped these firings while we ran
        runner = Runner(runner.manifest_path, task_id, trigger, guard, scheduled=queued.pop(0),
                        covered=queued[-1] if queued else None)
        later = runner.run()
        code = code or later  # the first failure is the one systemd shows
        queued += runner.queued
    return code


def _arguments(argv: list[str]) -> tuple[str, str, str]:
    trigger = "systemd" if os.environ.get("INVOCATION_ID") else "cron"
    positional = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--trigger":
            trigger = next(arguments, "")
            if trigger not in TRIGGERS:
                raise ValueError(f"--trigger must be one of {', '.join(TRIGGERS)}")
        elif argument == "--catch-up":  # the @reboot entry of a task with catch_up=True
            trigger = "catch-up"
        else:
            positional.append(argument)
    if len(positional) != 2:
        raise ValueError(f"expected MANIFEST and TASK, got {len(positional)} arguments")
    return positional[0], positional[1], trigger


class TimedOut(Exception):
    """The run's time limit passed in a skip condition; `how` ends the run's reason."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class Runner:
    """One run of one task."""

    def __init__(self, manifest_path: str, task_id: str, trigger: str, guard: Guard,
                 scheduled: float | None = None, covered: float | None = None) -> None:
        self.manifest_path = manifest_path
        self.task_id = task_id
        self.guard = guard
        # A manifest sits in STATE/manifests/, so the journal and logs of its runs sit in STATE.
        self.state = os.path.dirname(os.path.dirname(manifest_path))
        started = time.time()
        if scheduled is None:
            # cron and systemd fire on the minute; a late start still belongs to that minute.
            scheduled = started if trigger == "manual" else started - started % 60
        self.record = _new_record(os.path.basename(manifest_path).split(".", 1)[0], task_id, trigger,
                                  started, scheduled, attempt=1)
        self.queued: list[float] = []  # firings systemd dropped during this run, to run now
        self.covered = max(scheduled, covered or scheduled)  # firings up to here are taken care of
        self.journal = Journal(journal_path(self.state))
        self.log = None
        self.log_room = 0
        self.stdout_broken = False
        self.sole = False  # holds the task's lock: no other run of the task runs now
        self.retention: dict = {}
        self.policy: dict = {}
        self.manifest: dict = {}
        self.by_systemd = trigger == "systemd"  # a catch-up started by systemd is one too
        self.deadline: float | None = None  # on time.monotonic(): when the attempt's time is up
        self._context = None
        self._user_code = None

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        lock = None
        try:
            manifest = self.manifest = self._read_manifest()
            task = manifest["tasks"][self.task_id]
            self.retention = task.get("retention", {})
            self.policy = task.get("policy", {})
            if not self._is_due(task):
                return 0  # a catch-up with nothing missed: no run, nothing recorded
            self._open_log()
            self._record_start()
            if self.record.trigger == "catch-up":
                self._say(f"catching up on the firing of {_iso_local(self.record.scheduled_time)},"
                          " missed while the machine or its scheduler was down")
            self._check_drift(manifest)
            lock, holder = self._take_turn()
            if holder is not None:
                return self._finish("overlap", 0, overlap_reason(holder))
            self._start_clock()
            reason = self._skip_reason(task)
            if reason is not None:
                return self._finish("skipped", 0, f"skipped by {reason}")
            code = self._attempts(manifest, task)
        except TimedOut as timed_out:
            return self._finish_timed_out(timed_out.how)
        except TimeUp:  # the time limit struck outside the code it bounds: still a timeout
            return self._finish_timed_out("")
        except Interrupted as interruption:
            return self._finish("killed", 128 + interruption.signum, _stopped_by(interruption.signum))
        except RunError as error:
            return self._finish("error", EXIT_ERROR, str(error))
        except Exception as error:  # noqa: BLE001 - a bug must still leave a record
            return self._internal_error(error)
        else:
            self._after_run(task)
            return code
        finally:
            if lock is not None:
                lock.release()

    def _internal_error(self, error: Exception) -> int:
        import traceback  # noqa: PLC0415

        traceback.print_exc()
        return self._finish("error", EXIT_ERROR, f"internal error: {type(error).__name__}: {error}")

    def _is_due(self, task: dict) -> bool:
        """False for a catch-up with nothing to catch up; a catch-up that goes on runs as the
        firing it missed. systemd starts a Persistent= timer's service when the timer is back
        after missing an elapse: a systemd start outside the schedule is such a catch-up, or,
        when that firing has its run, a start by hand that runs as any other. (A firing from
        before the install is never run: systemd may remember an older timer of the same name.)"""
        record = self.record
        if self.by_systemd and self.policy.get("catch_up"):
            from .firing import fires_at  # noqa: PLC0415 - small: catch-up tasks only

            if not fires_at(_fields(task), record.scheduled_time):
                record.trigger = "catch-up"
        if record.trigger != "catch-up":
            return True
        from .catchup import MISSED, RAN, missed_firing  # noqa: PLC0415 - catch-ups only

        try:
            latest = self._journal_call(self._latest_scheduled)
        except JournalUnavailable as error:
            print(f"orchestration {record.namespace}/{self.task_id}: the run journal cannot be read"
                  f" ({error}), so whether a firing was missed is unknown; none is caught up", file=sys.stderr)
            return False
        verdict, due = missed_firing(_fields(task), record.started_at, os.stat(self.manifest_path).st_mtime, latest)
        if verdict == MISSED:
            record.scheduled_time = self.covered = due
            return True
        if self.by_systemd and verdict == RAN:  # started by hand: a run like any other
            record.trigger = "systemd"
            return True
        if self.by_systemd:
            print(f"orchestration {record.namespace}/{self.task_id}: started off its schedule, and its last"
                  " firing came before the install: nothing to catch up, no run")
        return False

    def _latest_scheduled(self) -> float | None:
        """The newest scheduled time among the task's runs, runs kept in the fallback file included."""
        fold_fallback(self.journal, self.state)
        return self.journal.latest_scheduled(self.record.namespace, self.task_id)

    def _take_turn(self) -> tuple[TaskLock | None, str | None]:
        """The task's lock per its overlap policy: (lock, None) to go on, (None, holder) to skip."""
        overlap = self.policy.get("overlap", "skip")
        if overlap == "allow":
            return None, None
        lock = TaskLock(self.state, self.record.namespace, self.task_id)
        holder = lock.acquire(wait=overlap == "queue", guard=self.guard)
        if holder is not None:
            return None, holder
        lock.note_holder(self.record.run_id)
        self.sole = True
        return lock, None

    def _after_run(self, task: dict) -> None:
        """On systemd, firings this run outlived were dropped: record them, or queue them. The
        run itself is saved by now: a problem here is a warning, never a new outcome."""
        overlap = self.policy.get("overlap", "skip")
        if not self.by_systemd or overlap == "allow" or self.guard.received is not None:
            return
        try:
            from .firing import firings_between  # noqa: PLC0415 - small: systemd runs only

            fields = _fields(task)
            missed = [] if fields is None else firings_between(fields, self.covered, time.time())
            if overlap == "queue":
                self.queued = missed
            elif missed:
                self._record_overlaps(missed)
        except Exception as error:  # noqa: BLE001
            print(f"orchestration-exec: firings missed during the run were not recorded: {error}", file=sys.stderr)

    def _record_overlaps(self, missed: list[float]) -> None:
        reason = overlap_reason(f"run {self.record.run_id} (pid {os.getpid()})")
        records = []
        for moment in missed:
            record = _new_record(self.record.namespace, self.task_id, "systemd", moment, moment, attempt=1)
            record.finished_at, record.status, record.exit_code, record.reason = moment, "overlap", 0, reason
            records.append(record)
        try:
            self._journal_call(lambda: self.journal.fold(records))
        except JournalUnavailable:
            for record in records:
                append_fallback(self.state, record)
        finally:
            self.journal.close()

    def _attempts(self, manifest: dict, task: dict) -> int:
        """The run, and up to `retries` more attempts while it fails or times out."""
        code = self._run_steps(manifest, task)
        while self.record.status in ("failed", "timeout") and self.record.attempt <= self.policy.get("retries", 0):
            try:
                self.guard.sleep(self.policy.get("retry_delay", 0))
            except Interrupted:
                return code  # stopped between attempts: the last one stands as recorded
            previous = self.record
            self.record = _new_record(previous.namespace, self.task_id, previous.trigger, time.time(),
                                      previous.scheduled_time, attempt=previous.attempt + 1)
            self._open_log()
            self._record_start()
            self._say(f"attempt {self.record.attempt} of {self.policy['retries'] + 1} after"
                      f" {previous.status} run {previous.run_id}")
            self._start_clock()
            code = self._run_steps(manifest, task)
        return code

    def _read_manifest(self) -> dict:
        try:
            manifest = _load_manifest(self.manifest_path)
        except FileNotFoundError:
            raise RunError(
                f"manifest {self.manifest_path} is missing; reinstall with"
                " `orchestration install TASKS_FILE`, or remove this entry with"
                " `orchestration uninstall`"
            ) from None
        except (OSError, ValueError) as error:
            raise RunError(f"manifest {self.manifest_path} cannot be read: {error}") from None
        self.record.namespace = manifest.get("namespace", self.record.namespace)
        if self.task_id not in manifest.get("tasks", {}):
            raise RunError(
                f"task '{self.task_id}' is not in {self.manifest_path}; run `orchestration install"
                f" {manifest.get('tasks_file', 'TASKS_FILE')}` again"
            )
        return manifest

    def _check_drift(self, manifest: dict) -> None:
        """Warn when the tasks file changed since it was installed (the entries may be stale)."""
        tasks_file = manifest["tasks_file"]
        try:
            with open(tasks_file, "rb") as stream:
                digest = _sha256(stream.read())
        except OSError:
            self._warn(f"the tasks file {tasks_file} is gone; these entries still run as installed")
            return
        if digest != manifest.get("tasks_file_sha256"):
            self._warn(
                f"the tasks file {tasks_file} changed since it was installed; run"
                f" `orchestration install {tasks_file}` to apply the changes"
            )

    def _start_clock(self) -> None:
        """The attempt's time limit starts now: it bounds its conditions, dynamic values and scripts."""
        timeout = self.policy.get("timeout")
        self.deadline = time.monotonic() + timeout if timeout else None

    def _finish_timed_out(self, how: str) -> int:
        return self._finish("timeout", EXIT_TIMEOUT, f"timed out after {self.policy['timeout']:g}s{how}")

    def _skip_reason(self, task: dict) -> str | None:
        """The description of the first condition that says skip, else None."""
        if not task["skips"]:
            return None
        from .skips import evaluate_entry  # noqa: PLC0415 - small, standard library only

        for entry in task["skips"]:
            try:
                with self.guard.stoppable(self.deadline):
                    skip = evaluate_entry(entry, self)
            except TimeUp:
                raise TimedOut(f" in the skip condition {entry['description']}") from None
            if skip:
                return entry["description"]
        return None

    # What conditions and dynamic parameters ask for, made on first use (see skips, resolve).

    def context(self):
        """The RunContext handed to conditions and dynamic parameters (one per run)."""
        if self._context is None:
            from datetime import datetime  # noqa: PLC0415

            from .context import RunContext, run_environment  # noqa: PLC0415

            self._context = RunContext(
                namespace=self.record.namespace,
                task=self.task_id,
                run_id=self.record.run_id,
                scheduled_time=datetime.fromtimestamp(self.record.scheduled_time).astimezone(),
                now=datetime.now().astimezone(),
                trigger=self.record.trigger,
                environ=run_environment(self.manifest, os.environ),
                history=self._earlier_runs,
            )
        return self._context

    def user_code(self):
        """The task's functions, from the tasks file (imported at most once per run)."""
        if self._user_code is None:
            from .usercode import UserCode  # noqa: PLC0415 - heavy: only tasks with functions

            self._user_code = UserCode(self.manifest, self.task_id)
        return self._user_code

    def note(self, message: str) -> None:
        """Say something about the run (in the log and on stdout)."""
        self._say(message)

    def _earlier_runs(self):
        """(status, start) of the task's previous run, and the start of its last success."""
        from .context import history_of  # noqa: PLC0415

        record = self.record
        try:
            found = self._journal_call(
                lambda: self.journal.earlier_runs(record.namespace, record.task, record.started_at, record.run_id)
            )
        except JournalUnavailable as error:
            self._warn(f"the run journal cannot be read ({error}); conditions see no earlier runs")
            return None, None, None
        return history_of(*found)

    def _run_steps(self, manifest: dict, task: dict) -> int:
        from .resolve import invocations as resolve  # noqa: PLC0415

        deadline = self.deadline
        try:
            with self.guard.stoppable(deadline):
                invocations = resolve(task["steps"], self)
        except TimeUp:
            return self._finish_timed_out(" while working out the parameters")
        for position, invocation in enumerate(invocations, start=1):
            if position > 1 and task["interval"]:
                left = None if deadline is None else deadline - time.monotonic()
                self.guard.sleep(task["interval"] if left is None else max(0.0, min(task["interval"], left)))
            self.guard.raise_if_received()
            if deadline is not None and time.monotonic() >= deadline:
                script = os.path.basename(invocation.step["script"])
                return self._finish_timed_out(f", before {script} started")
            outcome = self._run_script(manifest, invocation, position, len(invocations), deadline)
            script = os.path.basename(invocation.step["script"])
            if self.guard.received is not None:
                return self._finish("killed", 128 + self.guard.received,
                                    f"{_stopped_by(self.guard.received)} while {script} ran")
            if outcome.timed_out:
                return self._finish_timed_out(f"; {script} was stopped")
            if outcome.code != 0:
                return self._finish("failed", outcome.code, f"{script} exited {outcome.code}")
        return self._finish("ok", 0, None)

    def _run_script(self, manifest: dict, invocation, position: int, count: int, deadline: float | None) -> Outcome:
        step, values = invocation.step, invocation.values
        argv = [*step["command"], *invocation.arguments()]
        name = f"{os.path.basename(step['script'])} [{position}/{count}]"
        if invocation.dynamic:
            from .resolve import shown_parameters  # noqa: PLC0415

            self._say(f"{name} parameters: {shown_parameters(invocation.shown)}")
        self._check_programs(step)
        record = StepRecord(position=position, script=step["script"], started_at=time.time())
        self.record.steps.append(record)
        self.record.parameters.append({"script": step["script"], "parameters": invocation.shown})
        try:
            outcome = run_script(argv, cwd=manifest["working_directory"],
                                 env=self._script_environment(manifest, values),
                                 write=self._copy_output, deadline=deadline, guard=self.guard)
        except SpawnError as error:
            record.finished_at, record.status, record.exit_code = time.time(), "error", 127
            raise RunError(f"{name} could not start: {error}") from None
        record.finished_at, record.exit_code = time.time(), outcome.code
        record.status = "timeout" if outcome.timed_out else "ok" if outcome.code == 0 else "failed"
        outcome_text = {"ok": "ok", "timeout": "stopped: time is up"}.get(
            record.status, f"failed with exit code {outcome.code}")
        self._say(f"{name} {outcome_text} ({record.finished_at - record.started_at:.2f}s)")
        return outcome

    def _check_programs(self, step: dict) -> None:
        """A script or interpreter that left after install: say which, and how to fix it."""
        for program in step["command"]:
            if not os.path.exists(program):
                what = "script" if program == step["script"] else "interpreter"
                raise RunError(
                    f"the {what} {program} is gone since the install; restore it, or fix the tasks"
                    f" file and run `orchestration install {self.manifest['tasks_file']}`"
                )

    def _script_environment(self, manifest: dict, values: dict) -> dict:
        from .context import run_environment  # noqa: PLC0415 - small, standard library only

        environment = run_environment(manifest, os.environ)
        environment.update(
            ORCHESTRATION_NAMESPACE=self.record.namespace,
            ORCHESTRATION_TASK=self.task_id,
            ORCHESTRATION_RUN_ID=self.record.run_id,
            ORCHESTRATION_SCHEDULED_TIME=_iso_local(self.record.scheduled_time),
        )
        environment.update({f"ORCHESTRATION_PARAM_{key.upper()}": value for key, value in values.items()})
        return environment

    def _copy_output(self, chunk: bytes) -> None:
        self._to_stdout(chunk)
        self._log_bytes(chunk)

    def _to_stdout(self, data: bytes) -> None:
        """Copy to our stdout (cron's mail); if it is gone, the run goes on with the log only."""
        if self.stdout_broken:
            return
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except OSError as error:
            self.stdout_broken = True
            self.record.warnings.append(f"stdout could not be written ({error}); output went to the log only")

    # --- the log -----------------------------------------------------------------------------

    def _open_log(self) -> None:
        """Open the run's log; if it cannot be written the run goes on with stdout only."""
        directory = os.path.join(self.state, "logs", self.record.namespace, self.task_id)
        path = os.path.join(directory, f"{self.record.run_id}.log")
        try:
            if not os.path.isdir(directory):
                from .state import private_dir  # noqa: PLC0415 - only a task's first run

                private_dir(directory)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as error:
            self._warn(f"the run's log cannot be written ({error}); its output goes to stdout only")
            return
        self.log = open(descriptor, "wb", buffering=0)
        self.log_room = int(self.retention.get("max_log_bytes", 10 * 1024 * 1024))
        self.record.log_path = path

    def _log_bytes(self, chunk: bytes) -> None:
        """Write to the log up to its size cap; say once where it was cut."""
        if self.log is None or self.log_room <= 0:
            return
        if len(chunk) >= self.log_room:
            cap = self.retention.get("max_log_bytes")
            chunk = chunk[: self.log_room] + f"\n[log cut at {cap} bytes; the rest went to stdout only]\n".encode()
            self.log_room = 0
        else:
            self.log_room -= len(chunk)
        try:
            self.log.write(chunk)
        except OSError as error:  # a full disk: the run goes on, with stdout only
            self.log_room = 0
            self.record.warnings.append(f"the log could not be written ({error}); it ends here")

    # --- records -----------------------------------------------------------------------------

    def _record_start(self) -> None:
        try:
            self._journal_call(self._fold_then_start)
        except JournalUnavailable as error:
            self._warn(f"the run journal cannot be written ({error}); this run is kept in a fallback file")

    def _fold_then_start(self) -> None:
        fold_fallback(self.journal, self.state)
        self.journal.record_start(self.record)

    def _finish(self, status: str, code: int, reason: str | None) -> int:
        record = self.record
        record.finished_at, record.status, record.exit_code, record.reason = time.time(), status, code, reason
        try:
            if status != "ok" and status != "failed":
                self._say(f"{status}: {reason}" if status != "skipped" else str(reason))
            self._save(record)
        finally:
            self.journal.close()
            if self.log is not None:
                self.log.close()
                self.log = None
        return code

    def _save(self, record: RunRecord) -> None:
        keep_runs, keep_days = self.retention.get("keep_runs"), self.retention.get("keep_days")
        try:
            old_logs = self._journal_call(
                lambda: self.journal.record_finish(record, keep_runs, keep_days, sole=self.sole))
        except JournalUnavailable as error:
            try:
                path = append_fallback(self.state, record)
            except OSError as fallback_error:
                print(f"orchestration-exec: this run could not be recorded: {error}; {fallback_error}", file=sys.stderr)
                return
            print(
                f"orchestration-exec: the run journal {self.journal.path} cannot be written ({error});"
                f" the run was recorded in {path}, and the next run folds it in",
                file=sys.stderr,
            )
            return
        for path in old_logs:
            try:
                os.unlink(path)
            except OSError:
                pass

    def _journal_call(self, action):
        """Run a journal write; a damaged file is moved aside once and a new one started."""
        import sqlite3  # noqa: PLC0415 - already loaded by the journal

        for attempt in (1, 2):
            try:
                return action()
            except sqlite3.Error as error:
                self.journal.close()
                if attempt == 1 and is_damaged(error) and os.path.exists(self.journal.path):
                    try:
                        aside = quarantine(self.journal.path)
                    except OSError:
                        raise JournalUnavailable(str(error)) from None
                    self._warn(f"the run journal was damaged ({error}); it was moved to {aside} and a new one started")
                    continue
                raise JournalUnavailable(str(error)) from None
            except OSError as error:
                self.journal.close()
                raise JournalUnavailable(str(error)) from None
        raise AssertionError("unreachable")

    def _warn(self, message: str) -> None:
        self.record.warnings.append(message)
        try:
            print(f"orchestration {self.record.namespace}/{self.task_id}: warning: {message}", file=sys.stderr, flush=True)
        except OSError:
            pass  # the warning is in the record

    def _say(self, message: str) -> None:
        line = (f"orchestration {self.record.namespace}/{self.task_id}: {message}\n").encode()
        self._to_stdout(line)
        self._log_bytes(line)


def _fields(task: dict):
    """The task's expanded schedule fields (see firing.py); None for @reboot. Manifests written
    before they were stored there are read from the cron text."""
    if "fields" in task:
        return task["fields"]
    from .schedule import parse_schedule  # noqa: PLC0415 - old manifests only

    return parse_schedule(task["cron"]).manifest_fields()


def _load_manifest(path: str) -> dict:
    """The manifest, from its marshal copy when that was made from this very JSON (json, and re
    with it, cost milliseconds to import), else from the JSON itself."""
    with open(path, "rb") as stream:
        raw = stream.read()
    try:
        with open(path[: -len(".json")] + ".bin", "rb") as stream:
            copy = marshal.load(stream)
        if isinstance(copy, dict) and copy.get("json_sha256") == _sha256(raw):
            return copy["manifest"]
    except (OSError, EOFError, ValueError, TypeError):
        pass
    import json  # noqa: PLC0415 - no usable copy

    return json.loads(raw)


def _new_record(namespace: str, task_id: str, trigger: str, started: float, scheduled: float,
                attempt: int) -> RunRecord:
    return RunRecord(
        run_id=time.strftime("%Y%m%dT%H%M%S", time.gmtime(started)) + "-" + os.urandom(3).hex(),
        namespace=namespace,
        task=task_id,
        trigger=trigger,
        started_at=started,
        scheduled_time=scheduled,
        pid=os.getpid(),
        attempt=attempt,
    )


def _stopped_by(signum: int) -> str:
    return f"stopped by {signal_name(signum)}"


def _iso_local(timestamp: float) -> str:
    """ISO 8601 with the local offset, without importing datetime."""
    local = time.localtime(timestamp)
    offset = local.tm_gmtoff
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{sign}{hours:02d}:{minutes:02d}"


def _sha256(data: bytes) -> str:
    try:  # the built-in module; hashlib would load OpenSSL on every run
        from _sha256 import sha256  # type: ignore[import-not-found]  # noqa: PLC0415
    except ImportError:  # Python 3.12+ renamed it
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # noqa: PLC0415
        except ImportError:
            from hashlib import sha256  # noqa: PLC0415
    return sha256(data).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
