"""`orchestration-exec MANIFEST TASK`: the program cron and systemd call for every firing.

It reads the manifest, evaluates the skip conditions, runs the scripts in order `interval` seconds
apart with their parameters as arguments, copies their output to the run's log and to its own
stdout (cron mails it), records the run in the journal and exits with the failing script's code.

Start-up cost is paid on every firing, so this imports only the standard library and our small
runtime modules; the tasks file (and what it imports) is loaded only for callable conditions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from .journal import Journal, RunRecord, StepRecord, journal_path
from .state import private_dir, state_of_manifest

USAGE = "usage: orchestration-exec MANIFEST TASK [--trigger cron|systemd|manual]"
TRIGGERS = ("cron", "systemd", "manual")
EXIT_ERROR = 1
EXIT_USAGE = 2
READ_CHUNK = 65536


class RunError(Exception):
    """The run cannot go on (bad manifest, condition raised, tasks file changed)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of orchestration-exec."""
    try:
        manifest_path, task_id, trigger = _arguments(sys.argv[1:] if argv is None else argv)
    except ValueError as error:
        print(f"orchestration-exec: {error}\n{USAGE}", file=sys.stderr)
        return EXIT_USAGE
    return Runner(Path(manifest_path).absolute(), task_id, trigger).run()


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

    def __init__(self, manifest_path: Path, task_id: str, trigger: str) -> None:
        self.manifest_path = manifest_path
        self.task_id = task_id
        self.state = state_of_manifest(manifest_path)
        started = time.time()
        self.record = RunRecord(
            run_id=time.strftime("%Y%m%dT%H%M%S", time.gmtime(started)) + "-" + os.urandom(3).hex(),
            namespace=manifest_path.stem,
            task=task_id,
            trigger=trigger,
            started_at=started,
            # cron and systemd fire on the minute; a late start still belongs to that minute.
            scheduled_time=started if trigger == "manual" else started - started % 60,
            pid=os.getpid(),
        )
        self.journal = Journal(journal_path(self.state))
        self.log = None

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        try:
            manifest = self._read_manifest()
            task = manifest["tasks"][self.task_id]
            self._open_log()
            self._record_start()
            reason = self._skip_reason(manifest, task)
            if reason is not None:
                return self._finish("skipped", 0, f"skipped by {reason}")
            return self._run_steps(manifest, task)
        except RunError as error:
            return self._finish("error", EXIT_ERROR, str(error))

    def _read_manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
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

    def _skip_reason(self, manifest: dict[str, Any], task: dict[str, Any]) -> str | None:
        """The description of the first condition that says skip, else None."""
        for skip in task["skips"]:
            if skip["kind"] == "static":
                if skip["value"]:
                    return skip["description"]
            elif self._call_condition(manifest, skip):
                return skip["description"]
        return None

    def _call_condition(self, manifest: dict[str, Any], skip: dict[str, Any]) -> bool:
        from .usercode import evaluate_callable_skip  # noqa: PLC0415 - only when needed

        return evaluate_callable_skip(manifest, self.task_id, skip, self.context())

    def context(self):
        from .context import RunContext  # noqa: PLC0415

        return RunContext(
            namespace=self.record.namespace,
            task=self.task_id,
            run_id=self.record.run_id,
            scheduled_time=_local(self.record.scheduled_time),
            now=datetime.now().astimezone(),
            trigger=self.record.trigger,
            environ=dict(os.environ),
        )

    def _run_steps(self, manifest: dict[str, Any], task: dict[str, Any]) -> int:
        invocations = [
            (step, values) for step in task["steps"] for values in step["runs"]
        ]
        for position, (step, values) in enumerate(invocations, start=1):
            if position > 1 and task["interval"]:
                time.sleep(task["interval"])
            code = self._run_script(manifest, step, values, position, len(invocations))
            if code != 0:
                return self._finish("failed", code, f"{Path(step['script']).name} exited {code}")
        return self._finish("ok", 0, None)

    def _run_script(
        self, manifest: dict[str, Any], step: dict[str, Any], values: dict[str, str], position: int, count: int
    ) -> int:
        argv = [*step["command"], *values.values()]
        record = StepRecord(position=position, script=step["script"], started_at=time.time())
        self.record.steps.append(record)
        self.record.parameters.append({"script": step["script"], "parameters": values})
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
            self._say(f"{Path(step['script']).name} [{position}/{count}] could not start: {error}")
            return 127
        self._copy_output(process)
        code = process.wait()
        code = 128 - code if code < 0 else code  # killed by signal N: the shell's 128+N
        record.finished_at, record.exit_code = time.time(), code
        record.status = "ok" if code == 0 else "failed"
        outcome = "ok" if code == 0 else f"failed with exit code {code}"
        self._say(
            f"{Path(step['script']).name} [{position}/{count}] {outcome}"
            f" ({record.finished_at - record.started_at:.2f}s)"
        )
        return code

    def _script_environment(self, manifest: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("ORCHESTRATION_PARAM_")
        }
        environment["PATH"] = manifest["environment"]["PATH"]
        environment.setdefault("HOME", manifest["environment"]["HOME"])
        environment.update(
            ORCHESTRATION_NAMESPACE=self.record.namespace,
            ORCHESTRATION_TASK=self.task_id,
            ORCHESTRATION_RUN_ID=self.record.run_id,
            ORCHESTRATION_SCHEDULED_TIME=_local(self.record.scheduled_time).isoformat(timespec="seconds"),
        )
        environment.update({f"ORCHESTRATION_PARAM_{key.upper()}": value for key, value in values.items()})
        return environment

    def _copy_output(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        descriptor = process.stdout.fileno()
        out = sys.stdout.buffer
        while True:
            chunk = os.read(descriptor, READ_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            out.flush()
            if self.log is not None:
                self.log.write(chunk)
        process.stdout.close()

    # --- records -----------------------------------------------------------------------------

    def _open_log(self) -> None:
        directory = private_dir(self.state / "logs" / self.record.namespace / self.task_id)
        path = directory / f"{self.record.run_id}.log"
        self.log = open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "wb", buffering=0)
        self.record.log_path = str(path)

    def _record_start(self) -> None:
        try:
            self.journal.record_start(self.record)
        except Exception as error:  # noqa: BLE001 - a journal fault must not stop the run
            self._journal_fault(error)

    def _finish(self, status: str, code: int, reason: str | None) -> int:
        record = self.record
        record.finished_at, record.status, record.exit_code, record.reason = time.time(), status, code, reason
        if status in ("skipped", "error"):
            self._say(f"{status}: {reason}" if status == "error" else str(reason))
        try:
            self.journal.record_finish(record)
        except Exception as error:  # noqa: BLE001
            self._journal_fault(error)
        finally:
            self.journal.close()
            if self.log is not None:
                self.log.close()
        return code

    def _journal_fault(self, error: Exception) -> None:
        print(
            f"orchestration-exec: cannot write the run journal {self.journal.path}: {error}",
            file=sys.stderr,
        )

    def _say(self, message: str) -> None:
        line = f"orchestration {self.record.namespace}/{self.task_id}: {message}"
        print(line, flush=True)
        if self.log is not None:
            self.log.write((line + "\n").encode())


def _local(timestamp: float | None) -> datetime:
    return datetime.fromtimestamp(timestamp if timestamp is not None else time.time()).astimezone()


if __name__ == "__main__":
    sys.exit(main())
