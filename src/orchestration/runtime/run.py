"""One run of one task: read the manifest, take the task's turn (overlap), decide the skip
conditions, work out the parameters, run the scripts in order `interval` seconds apart under the
time limit, retry a failed attempt, and record every attempt.

The run loop lives here; each part it calls is a module of its own: `conditions`, `parameters`,
`supervise` (scripts and signals), `transcript` (output and log), `recorder` (journal and
fallback), `overlap`, `catchup`, and, after the run is recorded, `notify` (notifications, pings
and the metrics file; loaded only by tasks that have them).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime

from ..compile import manifest as manifests
from ..compile.manifest import Manifest, TaskManifest
from ..errors import ManifestError, RunError, UnsafeStateError
from ..rules.context import RunContext
from ..rules.policy import Retention, jitter_delay
from ..rules.values import MASK, hide_secrets
from ..state import (
    METRICS_DIR_VARIABLE,
    Pause,
    check_own_file,
    check_state,
    journal_path,
    pause_of,
    tasks_copy_path,
    to_resume,
)
from . import conditions, fallback, gate
from .catchup import MISSED, RAN, missed_firing
from .environment import run_environment, script_environment, task_variables
from .journal import JournalUnavailable
from .overlap import TaskLock, overlap_reason
from .parameters import Invocation, invocations, shown_parameters
from .recorder import Recorder
from .records import StepRecord, iso_minute, local_datetime, new_record, scheduled_datetime
from .supervise import Guard, Interrupted, Outcome, SpawnError, TimedOut, TimeUp, run_script, signal_name
from .transcript import Transcript

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from collections.abc import Callable

    from .notify import Reporter
    from .userprocess import UserProcess

EXIT_ERROR = 1
EXIT_TIMEOUT = 124  # as timeout(1) exits


class Run:
    """One run of one task, as a firing of `trigger` ('cron', 'systemd', 'manual', 'catch-up')."""

    def __init__(
        self,
        manifest_path: str,
        task_id: str,
        trigger: str,
        guard: Guard,
        scheduled: float | None = None,
        covered: float | None = None,
        *,
        gated: bool = False,
        ignore_skips: bool = False,
    ) -> None:
        self.manifest_path = manifest_path
        self.guard = guard
        self.ignore_skips = ignore_skips  # `orchestration run --ignore-skips`: no pause, no conditions
        self.scheduled_given = scheduled is not None
        # A manifest sits in STATE/manifests/, so the journal and logs of its runs sit in STATE.
        self.state = os.path.dirname(os.path.dirname(manifest_path))
        started = time.time()
        if scheduled is None:
            # cron and systemd fire on the minute; a late start still belongs to that minute.
            scheduled = started if trigger == "manual" else started - started % 60
        namespace = os.path.basename(manifest_path).split(".", 1)[0]
        self.record = new_record(namespace, task_id, trigger, started, scheduled)
        self.transcript = Transcript(self.state, self.record, 0)
        self.recorder = Recorder(self.state, self._warn)
        self.queued: list[float] = []  # firings systemd dropped during this run, to run now
        self.covered = max(scheduled, covered or scheduled)  # firings up to here are taken care of
        self.sole = False  # holds the task's lock: no other run of the task runs now
        self.by_systemd = trigger == "systemd"  # a catch-up started by systemd is one too
        self.gated = gated and trigger in gate.GATED_TRIGGERS  # the entry fires at a superset
        self.deadline: float | None = None  # on time.monotonic(): when the attempt's time is up
        self.manifest: Manifest | None = None
        self.task: TaskManifest | None = None
        self._context: RunContext | None = None
        self._functions: UserProcess | None = None
        self.lock: TaskLock | None = None
        self.began = started  # the first attempt's start: earlier runs are those before it
        self.reporter: Reporter | None = None
        self.missing_module: str | None = None  # why the last python script failed, if an import did
        self.secrets: set[str] = set()  # values hidden wherever the run says or records them
        self.paused_by: str | None = None  # what `orchestration resume` takes to end the pause that skipped the run

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        """Run the task, then report it (notifications, ping, metrics); the shim's exit code."""
        code = self._run()
        ended = self.record.finished_at is not None  # not a wake-up with nothing to run
        if ended and self.task is not None and (self.reporter is not None or _reports(self.task)):
            try:
                self._reporter(self.task).finished(self.record, self.began)
            except Exception as error:  # best effort: the run and its record stand as they are
                _stderr(f"orchestration {self.record.reference}: warning: reporting the run failed: {error}")
        return code

    def _reporter(self, task: TaskManifest) -> Reporter:
        if self.reporter is None:
            from .notify import Reporter  # urllib and the rest: only for tasks that report

            assert self.manifest is not None
            self.reporter = Reporter(self.manifest, task, self.state, self.recorder)
        return self.reporter

    def _run(self) -> int:
        lock = None
        try:
            check_state(self.state)
            check_own_file(journal_path(self.state))
        except UnsafeStateError as error:
            return self._refuse(error)
        try:
            manifest, task = self._read_manifest()
            self._place_late_start(task)
            if self.gated and not gate.admits(task, self.record.scheduled_time or 0, manifest.machine_zone):
                return 0  # a wake-up between the schedule's instants: no run, nothing recorded
            if not self._is_due(task):
                return 0  # a catch-up with nothing missed: no run, nothing recorded
            paused = None if self.ignore_skips else self._pause()
            if paused is None and self._wait_for_jitter(task):
                # The wait is long enough for the task to be uninstalled (a foreground scheduler
                # stopping) or paused meanwhile: what holds now decides.
                if not os.path.exists(self.manifest_path):
                    return 0  # no longer installed: nothing runs, nothing is recorded
                paused = None if self.ignore_skips else self._pause()
            earlier = self._begin_attempt(first=True)
            if earlier is not None:
                if self.record.trigger != "cron":  # cron: another schedule's entry of the same minute, no news
                    self._say(
                        f"the firing of {iso_minute(self.record.scheduled_time or 0)} already ran as run"
                        f" {earlier}; it is not run again"
                    )
                self.transcript.discard()
                self.recorder.close()
                return 0
            if self.record.trigger == "catch-up":
                self._say(
                    f"catching up on the firing of {iso_minute(self.record.scheduled_time or 0)},"
                    " missed while the machine or its scheduler was down"
                )
            self._check_drift(manifest)
            if paused is not None:
                self.paused_by = to_resume(self.state, self.record.namespace, self.record.task, time.time())
                return self._finish("skipped", 0, paused.reason())
            if self.ignore_skips:
                self._say("skip conditions and pauses are ignored for this run (--ignore-skips)")
            lock, holder = self._take_turn(task)
            self.lock = lock
            if holder is not None:
                return self._finish("overlap", 0, overlap_reason(holder))
            if task.reporting is not None and task.reporting.ping is not None:
                self._reporter(task).started(self.record)  # the heartbeat's start, sent alongside
            self._start_clock(task)
            reason = None if self.ignore_skips else self._skip_reason(task)
            if reason is not None:
                return self._finish("skipped", 0, f"skipped by {reason}")
            code = self._attempts(manifest, task)
        except TimedOut as timed_out:
            return self._finish_timed_out(timed_out.how)
        except TimeUp:  # the time limit struck outside the code it bounds: still a timeout
            return self._finish_timed_out("")
        except Interrupted as interruption:
            return self._finish("killed", 128 + interruption.signum, _stopped_by(interruption.signum))
        except (RunError, ManifestError) as error:
            return self._finish("error", EXIT_ERROR, str(error))
        except Exception as error:  # a bug must still leave a record
            import traceback

            traceback.print_exc()
            return self._finish("error", EXIT_ERROR, f"internal error: {type(error).__name__}: {error}")
        else:
            self._after_run(task)
            return code
        finally:
            if self._functions is not None:
                self._functions.stop()
            if lock is not None:
                lock.release()

    def _refuse(self, error: UnsafeStateError) -> int:
        """Another user controls the state folder: nothing runs, and nothing is written there.
        The refusal goes to stderr (cron mails it, systemd's journal keeps it) and to the
        fallback file in the spare folder, which `history` reads."""
        record = self.record
        record.finished_at, record.status, record.exit_code = time.time(), "error", error.exit_code
        record.reason = f"refused to run: {error.message}"
        _stderr(f"orchestration {record.reference}: {record.reason}\n{error.hint}")
        try:
            fallback.append(self.state, record, spare_only=True)
        except OSError:
            pass  # stderr has it
        return error.exit_code

    def _read_manifest(self) -> tuple[Manifest, TaskManifest]:
        try:
            manifest = manifests.read(self.manifest_path, self.record.task)  # its task alone
        except FileNotFoundError:
            raise RunError(
                f"manifest {self.manifest_path} is missing; reinstall with"
                " `orchestration install TASKS_FILE`, or remove this entry with"
                " `orchestration uninstall`"
            ) from None
        secrets = os.environ.get("ORCHESTRATION_SECRETS")
        if secrets:  # a pod's manifest is masked; its secret values are mounted apart
            manifest = manifest.unmasked(manifests.read_secrets(secrets), f"the secrets file {secrets}")
        self.record.namespace = manifest.namespace
        if self.record.task not in manifest.tasks:
            raise RunError(
                f"task '{self.record.task}' is not in {self.manifest_path}; run `orchestration install"
                f" {manifest.tasks_file}` again"
            )
        self.manifest, self.task = manifest, manifest.task(self.record.task)
        self.secrets.update(self.task.secret_texts)
        return manifest, self.task

    def _is_due(self, task: TaskManifest) -> bool:
        """False for a catch-up with nothing to catch up; a catch-up that goes on runs as the
        firing it missed. systemd starts a Persistent= timer's service when the timer is back
        after missing an elapse: a systemd start outside the schedule is such a catch-up, or,
        when that firing has its run, a start by hand that runs as any other. (A firing from
        before the install is never run: systemd may remember an older timer of the same name.)"""
        record = self.record
        if task.reboot:
            return True
        if (
            self.by_systemd
            and task.policy.catch_up
            and not gate.admits(task, record.scheduled_time or 0, self._machine_zone())
        ):
            record.trigger = "catch-up"
        if record.trigger != "catch-up":
            return True
        try:
            latest = self.recorder.latest_scheduled(record.namespace, record.task)
        except JournalUnavailable as error:
            _stderr(
                f"orchestration {record.reference}: the run journal cannot be read ({error}), so"
                " whether a firing was missed is unknown; none is caught up"
            )
            return False
        installed_at = os.stat(self.manifest_path).st_mtime
        verdict, due = missed_firing(task, self._machine_zone(), record.started_at, installed_at, latest)
        if verdict == MISSED and due is not None:
            record.scheduled_time = self.covered = due
            return True
        if self.by_systemd and verdict == RAN:  # started by hand: a run like any other
            record.trigger = "systemd"
            return True
        if self.by_systemd:
            _stdout(
                f"orchestration {record.reference}: started off its schedule, and its last firing"
                " came before the install: nothing to catch up, no run"
            )
        return False

    def _place_late_start(self, task: TaskManifest) -> None:
        """systemd starts a jittered task's firing up to `jitter` seconds after its time (its
        randomized delay): the run belongs to that firing, not to the minute it started in."""
        record = self.record
        if not (self.by_systemd and task.policy.jitter and not self.scheduled_given and record.trigger == "systemd"):
            return
        due = gate.late_firing(task, record.started_at, self._machine_zone(), task.policy.jitter)
        if due is not None:
            record.scheduled_time = self.covered = due

    def _pause(self) -> Pause | None:
        """The pause that skips the task's firing now, or None."""
        return pause_of(self.state, self.record.namespace, self.record.task, time.time())

    def _wait_for_jitter(self, task: TaskManifest) -> bool:
        """On cron and Kubernetes, a jittered task waits its own delay (systemd waits it before
        it starts us); the run starts, and is recorded, after the wait. Whether it waited."""
        record = self.record
        if record.trigger not in ("cron", "kubernetes") or not task.policy.jitter:
            return False
        self.guard.sleep(jitter_delay(record.namespace, record.task, task.policy.jitter))
        scheduled = record.scheduled_time or record.started_at
        self.record = new_record(record.namespace, record.task, record.trigger, time.time(), scheduled)
        self.began = self.record.started_at
        return True

    def _zone(self) -> str | None:
        """The task's own zone (None: the machine's, the one the shim runs in)."""
        return self.task.zone if self.task else None

    def _machine_zone(self) -> str:
        return self.manifest.machine_zone if self.manifest else "UTC"

    def _take_turn(self, task: TaskManifest) -> tuple[TaskLock | None, str | None]:
        """The task's lock per its overlap policy: (lock, None) to go on, (None, holder) to skip."""
        if task.policy.overlap == "allow":
            return None, None
        lock = TaskLock(self.state, self.record.namespace, self.record.task)
        holder = lock.acquire(wait=task.policy.overlap == "queue", guard=self.guard)
        if holder is not None:
            return None, holder
        lock.note_holder(self.record.run_id)
        self.sole = True
        return lock, None

    def _after_run(self, task: TaskManifest) -> None:
        """On systemd, firings this run outlived were dropped: record them, or queue them. The
        run itself is saved by now: a problem here is a warning, never a new outcome."""
        overlap = task.policy.overlap
        if not self.by_systemd or overlap == "allow" or self.guard.received is not None or task.reboot:
            return
        try:
            missed = gate.firings_after(task, self.covered, time.time(), self._machine_zone())
            if overlap == "queue":
                self.queued = missed
            elif missed:
                self._record_overlaps(missed)
        except Exception as error:
            _stderr(f"orchestration-exec: firings missed during the run were not recorded: {error}")

    def _record_overlaps(self, missed: list[float]) -> None:
        reason = overlap_reason(f"run {self.record.run_id} (pid {os.getpid()})")
        records = []
        for moment in missed:
            record = new_record(self.record.namespace, self.record.task, "systemd", moment, moment)
            record.finished_at, record.status, record.exit_code, record.reason = moment, "overlap", 0, reason
            records.append(record)
        self.recorder.save_all(records)

    def _attempts(self, manifest: Manifest, task: TaskManifest) -> int:
        """The run, and up to `retries` more attempts while it fails or times out."""
        code = self._run_steps(manifest, task)
        policy = task.policy
        while self.record.status in ("failed", "timeout") and self.record.attempt <= policy.retries:
            try:
                self.guard.sleep(policy.retry_delay)
            except Interrupted:
                return code  # stopped between attempts: the last one stands as recorded
            previous = self.record
            self.record = new_record(
                previous.namespace,
                previous.task,
                previous.trigger,
                time.time(),
                previous.scheduled_time or previous.started_at,
                attempt=previous.attempt + 1,
            )
            self._context = None  # the context names the attempt's run id
            self._begin_attempt()
            self._say(
                f"attempt {self.record.attempt} of {policy.retries + 1} after {previous.status} run {previous.run_id}"
            )
            self._start_clock(task)
            code = self._run_steps(manifest, task)
        return code

    def _begin_attempt(self, first: bool = False) -> str | None:
        """The attempt's log opened and its start recorded. Quiet unless the task is verbose or
        an earlier attempt printed (then the rest of the story is told too). For the `first`
        attempt of a firing that already has a run: nothing recorded, and that run's id."""
        retention = self.task.retention if self.task else None
        verbose = self.task is not None and self.task.reporting is not None and self.task.reporting.verbose
        quiet = not verbose and not self.transcript.spoke
        self.transcript = Transcript(self.state, self.record, retention.max_log_bytes if retention else 0, quiet)
        self.transcript.open()
        if first:
            return self.recorder.claim(
                self.record, several_entries=self.task is not None and len(self.task.timings) > 1
            )
        self.recorder.start(self.record)
        return None

    def _check_drift(self, manifest: Manifest) -> None:
        """Warn when the tasks file changed since it was installed (the entries may be stale)."""
        try:
            changed = manifest.tasks_file_changed()
        except OSError:
            self._warn(f"the tasks file {manifest.tasks_file} is gone; these entries still run as installed")
            return
        if changed:
            self._warn(
                f"the tasks file {manifest.tasks_file} changed since it was installed; run"
                f" `orchestration install {manifest.tasks_file}` to apply the changes"
            )

    def _start_clock(self, task: TaskManifest) -> None:
        """The attempt's time limit starts now: it bounds its conditions, dynamic values and scripts."""
        timeout = task.policy.timeout
        self.deadline = time.monotonic() + timeout if timeout else None

    def _finish_timed_out(self, how: str) -> int:
        timeout = self.task.policy.timeout if self.task else None
        return self._finish("timeout", EXIT_TIMEOUT, f"timed out after {timeout or 0:g}s{how}")

    def _skip_reason(self, task: TaskManifest) -> str | None:
        """The description of the first condition that says skip, else None."""
        for skip in task.skips:
            try:
                with self.guard.stoppable(self.deadline):
                    decided = conditions.evaluate(skip, self)
            except TimeUp:
                raise TimedOut(f" in the skip condition {skip.description}") from None
            if decided:
                return skip.description
        return None

    # --- what conditions and dynamic parameters ask for (runtime.inputs.RunInputs) ---------

    def context(self) -> RunContext:
        """The RunContext handed to conditions and dynamic parameters (one per attempt)."""
        if self._context is None:
            assert self.manifest is not None
            record = self.record
            self._context = RunContext(
                namespace=record.namespace,
                task=record.task,
                run_id=record.run_id,
                scheduled_time=scheduled_datetime(record.scheduled_time or record.started_at, self._zone()),
                now=datetime.now().astimezone(),
                trigger=record.trigger,
                environ=run_environment(self.manifest, os.environ, task_variables(self.task)),
                history=self._earlier_runs,
            )
        return self._context

    def functions(self) -> UserProcess:
        """The task's functions, from the tasks file as installed (imported at most once per
        run, in a child process: see runtime.userprocess)."""
        if self._functions is None:
            assert self.manifest is not None
            from .userprocess import UserProcess  # only tasks with functions

            self._functions = UserProcess(
                self.manifest,
                self.record.task,
                tasks_copy_path(self.state, self.manifest.tasks_file_sha256),
                before_fork=self.recorder.close,
                close=() if self.lock is None or self.lock.descriptor is None else (self.lock.descriptor,),
            )
        return self._functions

    def note(self, message: str) -> None:
        """Say something about the run (in the log and on stdout)."""
        self._say(message)

    def _earlier_runs(self) -> tuple[str | None, datetime | None, datetime | None]:
        """(status, start) of the task's previous run, and the start of its last success."""
        try:
            status, started, succeeded = self.recorder.earlier_runs(self.record)
        except JournalUnavailable as error:
            self._warn(f"the run journal cannot be read ({error}); conditions see no earlier runs")
            return None, None, None
        return status, local_datetime(started), local_datetime(succeeded)

    # --- the scripts -------------------------------------------------------------------------

    def _run_steps(self, manifest: Manifest, task: TaskManifest) -> int:
        deadline = self.deadline
        try:
            with self.guard.stoppable(deadline):
                planned = invocations(task.steps, self)
        except TimeUp:
            return self._finish_timed_out(" while working out the parameters")
        for position, invocation in enumerate(planned, start=1):
            if position > 1 and task.interval:
                left = None if deadline is None else deadline - time.monotonic()
                self.guard.sleep(task.interval if left is None else max(0.0, min(task.interval, left)))
            self.guard.raise_if_received()
            script = invocation.script_name
            if deadline is not None and time.monotonic() >= deadline:
                return self._finish_timed_out(f", before {script} started")
            outcome = self._run_script(manifest, invocation, position, len(planned), deadline)
            if self.guard.received is not None:
                return self._finish(
                    "killed", 128 + self.guard.received, f"{_stopped_by(self.guard.received)} while {script} ran"
                )
            if outcome.timed_out:
                return self._finish_timed_out(f"; {script} was stopped")
            if outcome.code != 0:
                missing = f": {self.missing_module}" if self.missing_module else ""
                return self._finish("failed", outcome.code, f"{script} exited {outcome.code}{missing}")
        return self._finish("ok", 0, None)

    def _run_script(
        self, manifest: Manifest, invocation: Invocation, position: int, count: int, deadline: float | None
    ) -> Outcome:
        step = invocation.step
        argv = [*step.command, *invocation.arguments()]
        name = f"{invocation.script_name} [{position}/{count}]"
        self.secrets.update(value for key, value in invocation.values.items() if invocation.shown[key] == MASK)
        shown = {key: hide_secrets(value, self.secrets) for key, value in invocation.shown.items()}
        if invocation.dynamic:
            self._say(f"{name} parameters: {shown_parameters(shown)}")
        self._check_programs(manifest, step.command, step.script)
        record = StepRecord(position=position, script=step.script, started_at=time.time())
        self.record.steps.append(record)
        self.record.parameters.append({"script": step.script, "parameters": shown})
        environment = script_environment(
            manifest, os.environ, self.record, invocation.values, self._zone(), task_variables(self.task)
        )
        watch = MissingModule(step.command[0]) if self.task and self.task.script_type == "python" else None
        try:
            outcome = run_script(
                argv,
                cwd=manifest.working_directory,
                env=environment,
                write=watch.copying(self.transcript.copy) if watch else self.transcript.copy,
                deadline=deadline,
                guard=self.guard,
                # A shim killed outright must leave someone to hold the task's lock while the
                # script lives, and to stop it at its time limit.
                keeper=self.record.run_id if self.sole or deadline is not None else None,
            )
        except SpawnError as error:
            record.finished_at, record.status, record.exit_code = time.time(), "error", 127
            raise RunError(f"{name} could not start: {error}") from None
        record.finished_at, record.exit_code = time.time(), outcome.code
        record.status = "timeout" if outcome.timed_out else "ok" if outcome.code == 0 else "failed"
        outcome_text = {"ok": "ok", "timeout": "stopped: time is up"}.get(
            record.status, f"failed with exit code {outcome.code}"
        )
        self._say(f"{name} {outcome_text} ({record.finished_at - record.started_at:.2f}s)")
        if watch is not None and record.status == "failed" and watch.module():
            self.missing_module = f"module '{watch.module()}' is not installed for {watch.interpreter}"
            self._say(watch.hint())
        return outcome

    def _check_programs(self, manifest: Manifest, command: tuple[str, ...], script: str) -> None:
        """A script or interpreter that left after install: say which, and how to fix it."""
        for program in command:
            if not os.path.exists(program):
                what = "script" if program == script else "interpreter"
                raise RunError(
                    f"the {what} {program} is gone since the install; restore it, or fix the tasks"
                    f" file and run `orchestration install {manifest.tasks_file}`"
                )

    # --- the record ----------------------------------------------------------------------------

    def _finish(self, status: str, code: int, reason: str | None) -> int:
        record = self.record
        reason = None if reason is None else hide_secrets(reason, self.secrets)
        record.finished_at, record.status, record.exit_code, record.reason = time.time(), status, code, reason
        try:
            if status not in ("ok", "failed"):
                self._say(f"{status}: {reason}" if status != "skipped" else str(reason))
            retention: Retention | None = self.task.retention if self.task else None
            with self.transcript.filing() as filing:  # the log goes into its task's log
                dead_bytes = self.recorder.finish(record, retention, self.sole)
                filing.compact(dead_bytes, self.recorder)
        finally:
            self.transcript.end(status)
            self.recorder.close()
            self.transcript.close()
        if os.environ.get("ORCHESTRATION_RUN_JSON") == "stdout":
            # A pod's journal goes with the pod: the run as one line that its logs keep.
            _stdout(json.dumps(record.to_json(), ensure_ascii=False))
        self._tell_why_not(status, reason)
        return code

    def _tell_why_not(self, status: str, reason: str | None) -> None:
        """A run started by hand that runs nothing says why on stderr, or its caller would see
        nothing at all. A scheduler's firing stays quiet: cron mails whatever it prints."""
        if self.record.trigger != "manual" or status not in ("skipped", "overlap"):
            return
        reference = self.record.reference
        forced = f"`orchestration run --ignore-skips {reference}` runs it"
        if status == "overlap":
            said, then = f"overlap: {reason}", f"`orchestration logs --follow {reference}` follows that run"
        elif self.paused_by is not None:
            said, then = f"skipped: {reason}", f"`orchestration resume {self.paused_by}` or {forced}"
        else:
            said, then = str(reason), forced  # "skipped by CONDITION"
        _stderr(f"orchestration {reference}: {said}; {then}")

    def _warn(self, message: str) -> None:
        self.transcript.warn(message)

    def _say(self, message: str) -> None:
        self.transcript.say(hide_secrets(message, self.secrets))


def _reports(task: TaskManifest) -> bool:
    """Whether a run of the task sends anything or writes the metrics file."""
    reporting = task.reporting
    if reporting is not None and (reporting.notifies or reporting.metrics_dir):
        return True
    return bool(os.environ.get(METRICS_DIR_VARIABLE))


class MissingModule:
    """Watches a python script's output for the error of an import that fails: the package is
    not installed for the interpreter the script runs with (ours, unless Orchestrator(python=...)
    names another)."""

    __slots__ = ("interpreter", "tail")
    KEEP = 8192

    def __init__(self, interpreter: str) -> None:
        self.interpreter = interpreter
        self.tail = b""

    def copying(self, write: Callable[[bytes], None]) -> Callable[[bytes], None]:
        def both(chunk: bytes) -> None:
            write(chunk)
            self.tail = (self.tail + chunk)[-self.KEEP :]

        return both

    def module(self) -> str | None:
        import re  # only after a python script failed

        found = re.findall(rb"ModuleNotFoundError: No module named '([^']+)'", self.tail)
        return found[-1].decode("utf-8", "replace") if found else None

    def hint(self) -> str:
        package = (self.module() or "").split(".")[0]
        return (
            f"hint: '{self.module()}' is not installed for {self.interpreter}, the interpreter python"
            f" scripts of this task run with. Install it there ({self.interpreter} -m pip install"
            f" {package}), or name the interpreter that has it in the tasks file:"
            " Orchestrator(python='/path/to/python'), then reinstall"
        )


def _stopped_by(signum: int) -> str:
    return f"stopped by {signal_name(signum)}"


def _stdout(message: str) -> None:
    try:
        print(message, flush=True)
    except (OSError, AttributeError, ValueError):
        pass


def _stderr(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, AttributeError, ValueError):
        pass
