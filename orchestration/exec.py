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

import json
import os
import subprocess
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

USAGE = "usage: orchestration-exec MANIFEST TASK [--trigger cron|systemd|manual]"
TRIGGERS = ("cron", "systemd", "manual")
EXIT_ERROR = 1
EXIT_USAGE = 2
READ_CHUNK = 65536


def main(argv: list[str] | None = None) -> int:
    """Entry point of orchestration-exec."""
    try:
        manifest_path, task_id, trigger = _arguments(sys.argv[1:] if argv is None else argv)
    except ValueError as error:
        print(f"orchestration-exec: {error}\n{USAGE}", file=sys.stderr)
        return EXIT_USAGE
    return Runner(os.path.abspath(manifest_path), task_id, trigger).run()


def _arguments(argv: list[str]) -> tuple[str, str, str]:
    trigger = "systemd" if os.environ.get("INVOCATION_ID") else "cron"
    positional = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--trigger":
            trigger = next(arguments, "")
            if trigger not in TRIGGERS:
                raise ValueError(f"--trigger must be one of {', '.join(TRIGGERS)}")
        else:
            positional.append(argument)
    if len(positional) != 2:
        raise ValueError(f"expected MANIFEST and TASK, got {len(positional)} arguments")
    return positional[0], positional[1], trigger


class Runner:
    """One run of one task."""

    def __init__(self, manifest_path: str, task_id: str, trigger: str) -> None:
        self.manifest_path = manifest_path
        self.task_id = task_id
        # A manifest sits in STATE/manifests/, so the journal and logs of its runs sit in STATE.
        self.state = os.path.dirname(os.path.dirname(manifest_path))
        started = time.time()
        self.record = RunRecord(
            run_id=time.strftime("%Y%m%dT%H%M%S", time.gmtime(started)) + "-" + os.urandom(3).hex(),
            namespace=os.path.basename(manifest_path).split(".", 1)[0],
            task=task_id,
            trigger=trigger,
            started_at=started,
            # cron and systemd fire on the minute; a late start still belongs to that minute.
            scheduled_time=started if trigger == "manual" else started - started % 60,
            pid=os.getpid(),
        )
        self.journal = Journal(journal_path(self.state))
        self.journal_ok = True
        self.log = None
        self.log_room = 0
        self.retention: dict = {}
        self.manifest: dict = {}
        self._context = None
        self._user_code = None

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        try:
            manifest = self.manifest = self._read_manifest()
            task = manifest["tasks"][self.task_id]
            self.retention = task.get("retention", {})
            self._open_log()
            self._record_start()
            self._check_drift(manifest)
            reason = self._skip_reason(task)
            if reason is not None:
                return self._finish("skipped", 0, f"skipped by {reason}")
            return self._run_steps(manifest, task)
        except RunError as error:
            return self._finish("error", EXIT_ERROR, str(error))
        except Exception as error:  # noqa: BLE001 - a bug must still leave a record
            import traceback  # noqa: PLC0415

            traceback.print_exc()
            return self._finish("error", EXIT_ERROR, f"internal error: {type(error).__name__}: {error}")

    def _read_manifest(self) -> dict:
        try:
            with open(self.manifest_path, encoding="utf-8") as stream:
                manifest = json.load(stream)
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

    def _skip_reason(self, task: dict) -> str | None:
        """The description of the first condition that says skip, else None."""
        if not task["skips"]:
            return None
        from .skips import evaluate_entry  # noqa: PLC0415 - small, standard library only

        for entry in task["skips"]:
            if evaluate_entry(entry, self):
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

        invocations = resolve(task["steps"], self)
        for position, invocation in enumerate(invocations, start=1):
            if position > 1 and task["interval"]:
                time.sleep(task["interval"])
            code = self._run_script(manifest, invocation, position, len(invocations))
            if code != 0:
                script = os.path.basename(invocation.step["script"])
                return self._finish("failed", code, f"{script} exited {code}")
        return self._finish("ok", 0, None)

    def _run_script(self, manifest: dict, invocation, position: int, count: int) -> int:
        step, values = invocation.step, invocation.values
        argv = [*step["command"], *values.values()]
        name = f"{os.path.basename(step['script'])} [{position}/{count}]"
        if invocation.dynamic:
            from .resolve import shown_parameters  # noqa: PLC0415

            self._say(f"{name} parameters: {shown_parameters(invocation.shown)}")
        record = StepRecord(position=position, script=step["script"], started_at=time.time())
        self.record.steps.append(record)
        self.record.parameters.append({"script": step["script"], "parameters": invocation.shown})
        try:
            process = subprocess.Popen(
                argv,
                cwd=manifest["working_directory"],
                env=self._script_environment(manifest, values),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as error:
            record.finished_at, record.status, record.exit_code = time.time(), "error", 127
            self._say(f"{name} could not start: {error}")
            return 127
        self._copy_output(process)
        code = process.wait()
        code = 128 - code if code < 0 else code  # killed by signal N: the shell's 128+N
        record.finished_at, record.exit_code = time.time(), code
        record.status = "ok" if code == 0 else "failed"
        outcome = "ok" if code == 0 else f"failed with exit code {code}"
        self._say(f"{name} {outcome} ({record.finished_at - record.started_at:.2f}s)")
        return code

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

    def _copy_output(self, process: subprocess.Popen) -> None:
        descriptor = process.stdout.fileno()
        out = sys.stdout.buffer
        while True:
            chunk = os.read(descriptor, READ_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            out.flush()
            self._log_bytes(chunk)
        process.stdout.close()

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
        self.log.write(chunk)

    # --- records -----------------------------------------------------------------------------

    def _record_start(self) -> None:
        try:
            self._journal_call(self._fold_then_start)
        except JournalUnavailable as error:
            self.journal_ok = False
            self._warn(f"the run journal cannot be written ({error}); this run is kept in a fallback file")

    def _fold_then_start(self) -> None:
        fold_fallback(self.journal, self.state)
        self.journal.record_start(self.record)

    def _finish(self, status: str, code: int, reason: str | None) -> int:
        record = self.record
        record.finished_at, record.status, record.exit_code, record.reason = time.time(), status, code, reason
        if status in ("skipped", "error"):
            self._say(f"error: {reason}" if status == "error" else str(reason))
        try:
            self._save(record)
        finally:
            self.journal.close()
            if self.log is not None:
                self.log.close()
        return code

    def _save(self, record: RunRecord) -> None:
        keep_runs, keep_days = self.retention.get("keep_runs"), self.retention.get("keep_days")
        try:
            old_logs = self._journal_call(lambda: self.journal.record_finish(record, keep_runs, keep_days))
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
        print(f"orchestration {self.record.namespace}/{self.task_id}: warning: {message}", file=sys.stderr, flush=True)

    def _say(self, message: str) -> None:
        line = f"orchestration {self.record.namespace}/{self.task_id}: {message}"
        print(line, flush=True)
        self._log_bytes((line + "\n").encode())


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
