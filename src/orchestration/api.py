"""The library: every command of the CLI as a call that returns typed values, and the public
`Orchestrator`, whose `execute_tasks()` installs. This sits on top of the pipeline and may use
every stage; the CLI (`orchestration.cli`) only parses, calls these and prints.

    import orchestration

    orchestration.install("tasks.py")                 # [NamespaceChanges]
    orchestration.installed()                         # [TaskStatus]
    orchestration.next_times("backups/nightly", count=3)
    orchestration.history("backups/nightly", limit=10)

Each call imports what it needs when it is made, so a command pays only for its own stages: a
reading command loads no definitions, no renderers and no python-crontab.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from .errors import ApplyError, DefinitionError, OrchestrationError, SchedulerUnavailableError, UsageError
from .state import state_dir

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, BinaryIO

    from .compile.environment import Environment
    from .compile.manifest import Manifest
    from .define import orchestrator as definitions
    from .installer import foreground
    from .installer.diff import NamespaceChanges
    from .installer.pausing import PauseChange
    from .observe.history import RunHistory
    from .observe.status import TaskStatus
    from .observe.why import Explanation
    from .runtime.delivery import Delivery
    from .runtime.metrics import TaskMetrics
    from .runtime.records import RunRecord
    from .targets import Rendered

__all__ = [
    "Orchestrator",
    "history",
    "install",
    "installed",
    "logs",
    "metrics",
    "next_times",
    "notify_test",
    "pause",
    "render",
    "resume",
    "run",
    "run_scheduler",
    "uninstall",
    "upcoming",
    "why",
]


class Upcoming:
    """A task's next firing times; each run starts within `jitter` seconds after one."""

    __slots__ = ("jitter", "reference", "times", "warnings")

    def __init__(self, reference: str, times: list[datetime], jitter: int = 0, warnings: tuple[str, ...] = ()) -> None:
        self.reference, self.times, self.jitter = reference, times, jitter
        self.warnings = warnings  # an installed task's entries changed by hand

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.reference,
            "times": [moment.isoformat() for moment in self.times],
            "jitter": self.jitter,
            "warnings": list(self.warnings),
        }


if TYPE_CHECKING:

    class Orchestrator(definitions.Orchestrator):
        """A namespace of tasks, compiled into crontab entries or systemd timers by `install`."""

        def execute_tasks(self, follow: bool = True, *, backend: str = "auto") -> None: ...


def __getattr__(name: str) -> Any:
    # `Orchestrator` loads the definitions (the define stage), which only tasks files need.
    if name == "Orchestrator":
        orchestrator = globals()["Orchestrator"] = _orchestrator_class()
        return orchestrator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _orchestrator_class() -> type:
    from .define import orchestrator as definitions

    class Orchestrator(definitions.Orchestrator):
        """A namespace of tasks, compiled into crontab entries or systemd timers by `install`."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            caller = sys._getframe(1).f_globals.get("__file__")
            script = Path(os.path.realpath(caller)) if caller else None
            if script and not definitions.is_collecting() and _is_main_script(script):
                _report_errors_as_a_command(script)
            super().__init__(*args, **kwargs)

        def execute_tasks(self, follow: bool = True, *, backend: str = "auto") -> None:
            """Install this Orchestrator's tasks, then print each run as it happens until Ctrl-C;
            where no scheduler runs, run them in the foreground with a cron daemon of its own.

            While `orchestration install` loads the tasks file this returns at once. Called again,
            as the 1.x loop `while True: orchestrator.execute_tasks()` does, it says what to do.
            """
            if definitions.is_collecting():
                self._calls_while_loading = getattr(self, "_calls_while_loading", 0) + 1
                if self._calls_while_loading > 1:
                    raise DefinitionError(LOOP_WHILE_LOADING)
                return
            as_script = _is_main_script(self.tasks_file)
            try:
                if id(self) in _executed:
                    raise UsageError(LOOP_WHEN_RUN.format(file=self.tasks_file))
                _executed.add(id(self))
                stopped = execute(self, follow=follow, backend=backend)
            except OrchestrationError as error:
                if not as_script:
                    raise
                print(f"Error: {error}", file=sys.stderr)  # `python tasks.py`: as a command would say it
                raise SystemExit(error.exit_code) from None
            if stopped and as_script:
                raise SystemExit(0)  # the foreground scheduler was stopped: so is the program

    return Orchestrator


LOOP_WHILE_LOADING = (
    "execute_tasks() was called again while the tasks file was loaded. In 1.x a loop such as"
    " `while True: orchestrator.execute_tasks()` kept the scheduler going; now cron or systemd"
    " does the waiting, and the loop would never end. Call execute_tasks() once, at the end of"
    " the file, under `if __name__ == '__main__':`"
)
LOOP_WHEN_RUN = (
    "execute_tasks() was called a second time. In 1.x a loop such as `while True:"
    " orchestrator.execute_tasks()` kept the scheduler going; now the first call installed the"
    " tasks and they run on their own: call it once and drop the loop. `orchestration list` shows"
    " them; `orchestration uninstall {file}` removes them"
)
_executed: set[int] = set()  # the Orchestrators whose execute_tasks() ran in this process


def _report_errors_as_a_command(tasks_file: Path) -> None:
    """`python tasks.py`: an error of ours that ends the program (a bad definition) is told as
    `orchestration install` tells it, `Error: FILE:LINE: ...` and its exit code (2 for bad input),
    rather than as a traceback through this package. Other exceptions keep Python's report."""
    global _errors_reported
    if _errors_reported:
        return
    _errors_reported = True
    previous = sys.excepthook

    def report(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if not isinstance(error, OrchestrationError):
            previous(kind, error, trace)
            return
        if isinstance(error, DefinitionError):
            from .define.loader import location_in

            error.located(location_in(error, tasks_file))
        print(f"Error: {error}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(error.exit_code)  # the only way to choose the exit code once an exception ends the program

    sys.excepthook = report


_errors_reported = False  # whether `python tasks.py`'s exception hook is in place


def _is_main_script(tasks_file: Path | None) -> bool:
    """Whether the tasks file is the program being run (`python tasks.py`)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return bool(main_file and tasks_file and os.path.realpath(main_file) == str(tasks_file))


# --- installing ------------------------------------------------------------------------------------


def install(
    tasks_file: str | os.PathLike[str],
    *,
    backend: str = "auto",
    scope: str = "user",
    dry_run: bool = False,
    image: str | None = None,
) -> list[NamespaceChanges]:
    """Install every Orchestrator of a tasks file; what changed per namespace. `image` is the
    container image of the kubernetes backend (default: the one it was installed with)."""
    from .installer import apply

    return apply.install(tasks_file, backend=backend, scope=scope, dry_run=dry_run, image=image)


def uninstall(
    *,
    tasks_file: str | os.PathLike[str] | None = None,
    namespace: str | None = None,
    everything: bool = False,
    scope: str = "user",
    dry_run: bool = False,
    keep_pauses: bool = False,
) -> list[NamespaceChanges]:
    """Remove our entries and manifests (run records stay) for a file, a namespace, or all;
    their pauses too, unless `keep_pauses`."""
    from .installer import apply

    return apply.uninstall(
        tasks_file=tasks_file,
        namespace=namespace,
        everything=everything,
        scope=scope,
        dry_run=dry_run,
        keep_pauses=keep_pauses,
    )


def compile_file(tasks_file: str | os.PathLike[str], environment: Environment | None = None) -> list[Manifest]:
    """Load a tasks file and compile each of its Orchestrators (no side effects)."""
    from .installer import apply

    return apply.compile_file(tasks_file, environment)


def render(
    tasks_file: str | os.PathLike[str],
    target: str = "crontab",
    *,
    scope: str = "user",
    environment: Environment | None = None,
    image: str | None = None,
) -> Rendered:
    """What installing `tasks_file` into `target` would write, by file name; nothing is touched.
    `environment` fixes the programs and state folder (default: this installation's); `image`
    is the container image of the kubernetes target."""

    from .compile.environment import capture_environment
    from .installer import manifests
    from .installer.apply import compile_file
    from .targets import placed as place
    from .targets import render as render_target

    environment = environment or capture_environment(_state(scope))
    if image is not None:
        environment = environment.replace(image=image)
    files: Rendered = {}
    for compiled in compile_file(tasks_file, environment):
        placed = place(target, compiled, scope)
        path = manifests.versioned_path(environment.state_dir, placed)
        files.update(render_target(target, placed, str(path)))
    return files


def execute(
    orchestrator: definitions.Orchestrator,
    *,
    follow: bool = True,
    backend: str = "auto",
    report: Callable[[str], None] = print,
) -> bool:
    """Install one Orchestrator (the tasks file run as a script), then follow its runs; where no
    scheduler runs, run it in the foreground instead. Whether a foreground scheduler ran."""
    from .compile.environment import capture_environment
    from .compile.plan import compile_loaded
    from .define.loader import LoadedTasks, file_sha256, file_stat, resolve_tasks_file
    from .installer import foreground
    from .installer.apply import install_manifests, installed_from
    from .installer.diff import describe_changes

    if orchestrator.tasks_file is None:
        raise UsageError("execute_tasks() needs the Orchestrator to be created in a tasks file")
    environment = capture_environment()
    path = resolve_tasks_file(orchestrator.tasks_file)  # a path that is not UTF-8 is refused
    loaded = LoadedTasks(path, file_sha256(path), (orchestrator,), file_stat(path))
    [compiled] = compile_loaded(loaded, environment)
    if backend == "auto" and follow and not scheduler_runs():
        try:
            foreground.check_can_run()
        except OrchestrationError as error:
            raise SchedulerUnavailableError(
                "no scheduler runs here (no cron daemon, and no systemd user manager answers), and"
                f" the tasks cannot run in the foreground: {error.message}",
                hint=(error.hint + " " if error.hint else "") + "Or start cron: `service cron start`.",
            ) from None
        run_foreground([compiled], environment.state_dir)
        return True
    for changes in install_manifests([compiled], environment.state_dir, backend=backend):
        for warning in changes.warnings:
            report(f"Warning: {warning}")
        for line in describe_changes(changes, dry_run=False):
            report(line)
        report(
            f"The {len(compiled.tasks)} task(s) of {compiled.namespace} are installed in {_where(changes.backend)}"
            f" and run on their own, also after this program ends; remove them with"
            f" `orchestration uninstall {path}`."
        )
    for other in installed_from(environment.state_dir, compiled.tasks_file, besides={compiled.namespace}):
        # Only this Orchestrator of the file was made: whether the file still defines the others,
        # only a whole install of it can tell.
        report(
            f"Warning: namespace '{other.namespace}' is installed from {path} too; if the file no longer"
            f" defines it (a renamed Orchestrator), `orchestration install {path}` removes it."
        )
    if not follow:
        return False
    from .observe.follow import follow_runs

    report(f"Following runs of {compiled.namespace}; press Ctrl-C to stop following (the tasks stay installed).")
    try:
        follow_runs(environment.state_dir, namespace=compiled.namespace, report=report)
    except KeyboardInterrupt:
        report(f"Stopped following; the tasks stay installed (`orchestration uninstall {path}` removes them).")
    return False


def _where(backend: str) -> str:
    return {"crontab": "your crontab", "systemd": "your systemd user manager"}.get(backend, backend)


def scheduler_runs() -> bool:
    """Whether a cron daemon runs or a systemd user manager answers here."""
    from .installer.schedulers import cron_daemon_running
    from .installer.systemctl import Systemctl

    return cron_daemon_running() or Systemctl("user").answers()


def run_scheduler(tasks_file: str | os.PathLike[str]) -> None:
    """Run the tasks of `tasks_file` in the foreground, with a cron daemon of its own as the
    engine, until SIGTERM or Ctrl-C; their output and a line per run go to stdout."""
    from .compile.environment import capture_environment
    from .installer import foreground
    from .installer.apply import compile_file

    foreground.check_can_run()
    environment = capture_environment()
    run_foreground(compile_file(tasks_file, environment), environment.state_dir)


class _Stopped(Exception):
    """SIGTERM, SIGINT or SIGHUP reached the foreground scheduler."""


def run_foreground(compiled: list[Manifest], state: Path, out: BinaryIO | None = None) -> None:
    """Install `compiled` into a foreground engine, run it until a signal, then remove it all."""
    import threading

    from .installer import foreground
    from .installer.apply import install_manifests
    from .installer.diff import describe_changes

    stream = out or sys.stdout.buffer
    lock = threading.Lock()

    def write(data: bytes) -> None:
        with lock:
            try:
                stream.write(data)
                stream.flush()
            except (OSError, ValueError):
                pass

    def say(line: str) -> None:
        write(f"{line}\n".encode())

    namespaces = [manifest.namespace for manifest in compiled]
    engine = foreground.Engine(state, write)
    engine.claim()
    try:
        with _signals_stop():
            engine.prepare()
            for changes in install_manifests(compiled, state, backend="foreground"):
                for warning in changes.warnings:
                    say(f"Warning: {warning}")
                for line in describe_changes(changes, dry_run=False):
                    say(line)
            engine.start()
            where = "a private crontab spool" if engine.private else "root's crontab, after what was there"
            count = sum(len(manifest.tasks) for manifest in compiled)
            say(
                f"Running {count} task(s) of {', '.join(namespaces)} in the foreground: cron (pid"
                f" {engine.cron}) fires them from {where}. Their output and a line per run follow."
                " Stop with Ctrl-C or SIGTERM; nothing stays installed."
            )
            from .observe.follow import follow_runs

            follow_runs(state, namespaces=set(namespaces), report=say, on_poll=lambda: _cron_alive(engine))
    except (_Stopped, KeyboardInterrupt):
        pass
    finally:
        with _signals_stop(ignore=True):
            engine.stop(lambda: _running_shims(state, namespaces))
            for namespace in namespaces:
                try:
                    uninstall(namespace=namespace, keep_pauses=True)
                except OrchestrationError:
                    pass
            say("Stopped: cron and the runs in progress were stopped, and the tasks removed.")


def _cron_alive(engine: foreground.Engine) -> None:
    engine.tick()
    if engine.cron is None:
        raise ApplyError(f"the cron daemon of the foreground scheduler ended by itself (exit {engine.cron_status})")


@contextmanager
def _signals_stop(ignore: bool = False) -> Iterator[None]:
    """SIGTERM, SIGINT and SIGHUP end the foreground scheduler (a container's PID 1 gets SIGTERM
    only if it handles it); `ignore`: while it cleans up, they wait."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise _Stopped()

    handler = signal.SIG_IGN if ignore else stop
    signums = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _running_shims(state: Path, namespaces: list[str]) -> list[int]:
    """The pids of runs of `namespaces` still going (their shims, checked in /proc)."""
    from .runtime.journal import Journal
    from .state import journal_path

    journal = Journal(journal_path(state))
    if not journal.exists:
        return []
    try:
        found = [run.pid for run in journal.runs(status="running") if run.namespace in namespaces and run.pid]
    finally:
        journal.close()
    pids = []
    for pid in found:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                if b"orchestration-exec" in stream.read():
                    pids.append(pid)
        except OSError:
            continue
    return pids


# --- reading ---------------------------------------------------------------------------------------


def installed(scope: str = "user", now: datetime | None = None) -> list[TaskStatus]:
    """Every installed task: schedule, next firing time, last run, problems."""
    from .observe.status import NextFiring, installed_status

    return installed_status(_state(scope), now or datetime.now().astimezone(), NextFiring())


def next_times(
    target: str, *, count: int = 5, after: datetime | None = None, scope: str = "user"
) -> dict[str, list[datetime]]:
    """The next firing times per 'NAMESPACE/TASK', of a tasks file or of an installed task."""
    return {item.reference: item.times for item in upcoming(target, count=count, after=after, scope=scope)}


def upcoming(target: str, *, count: int = 5, after: datetime | None = None, scope: str = "user") -> list[Upcoming]:
    """Per task of a tasks file, or for an installed task: its next firing times and its jitter
    window (each run starts within `jitter` seconds after a firing time)."""
    from .observe.preview import local_timezone
    from .observe.preview import next_times as task_next_times

    after = after or datetime.now(local_timezone())
    warnings: tuple[str, ...] = ()
    if _names_a_file(target):
        from .installer.apply import compile_file

        compiled: list[Manifest] = compile_file(target)
        tasks = [(f"{m.namespace}/{task_id}", task) for m in compiled for task_id, task in m.tasks.items()]
    else:
        from .installer import manifests
        from .observe.status import entry_problems

        found, task_id = manifests.find_task(_state(scope), target)
        tasks = [(target, found.manifest.task(task_id))]
        warnings = tuple(f"{found.namespace}: {problem}" for problem in entry_problems(found))
    return [
        Upcoming(reference, task_next_times(task, after, count), task.policy.jitter, warnings)
        for reference, task in tasks
    ]


def _names_a_file(target: str) -> bool:
    """Whether `next` reads `target` as a tasks file: it ends in .py, exists, or has more than
    the one '/' of NAMESPACE/TASK."""
    return target.endswith(".py") or os.path.exists(target) or target.count("/") > 1


def history(
    reference: str | None = None,
    *,
    status: str | None = None,
    since: float | None = None,
    limit: int | None = None,
    reverse: bool = False,
    scope: str = "user",
) -> RunHistory:
    """Recorded runs filtered by task ('NAMESPACE' or 'NAMESPACE/TASK'), status and start: the
    newest `limit` of them, oldest first, so the newest is last (`reverse`: newest first)."""
    from .observe import history as run_history

    runs = run_history.history(_state(scope), reference, status=status, since=since, limit=limit)
    return runs if reverse else run_history.RunHistory(runs[::-1], runs.warnings)


def logs(reference: str, run_id: str | None = None, *, follow: bool = False, scope: str = "user") -> Iterator[bytes]:
    """The output of a task's newest run (or of `run_id`); with `follow`, of later runs too."""
    from .observe import history as run_history

    return run_history.log_chunks(_state(scope), reference, run_id, follow=follow)


def why(reference: str, at: datetime | None = None, *, scope: str = "user") -> Explanation:
    """Whether an installed task would run at `at` (default: its next firing), and why not."""
    from .observe.why import explain

    return explain(_state(scope), reference, at)


def find_run(reference: str, run_id: str | None = None, *, scope: str = "user") -> RunRecord:
    """The run `run_id` of a task, or its newest run."""
    from .observe import history as run_history

    return run_history.find_run(_state(scope), reference, run_id)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is local time."""
    from .observe.moments import parse_time as parsed

    return parsed(text)


# --- running ---------------------------------------------------------------------------------------


def cron_environment() -> dict[str, str]:
    """The environment cron gives a job: HOME, LOGNAME, USER, SHELL and a minimal PATH."""
    import pwd

    user = pwd.getpwuid(os.getuid())
    environment = {
        "HOME": os.environ.get("HOME", user.pw_dir),
        "LOGNAME": user.pw_name,
        "USER": user.pw_name,
        "SHELL": "/bin/sh",
        "PATH": "/usr/bin:/bin",
    }
    for key in ("ORCHESTRATION_HOME", "TZ", "LANG"):
        if key in os.environ:
            environment[key] = os.environ[key]
    return environment


def run(reference: str, *, ignore_skips: bool = False, scope: str = "user") -> int:
    """Run an installed task now through orchestration-exec, as cron would; its exit code.
    `ignore_skips`: run even if a skip condition or a pause says not to."""
    import signal
    import subprocess

    from .installer import manifests

    found, task_id = manifests.find_task(_state(scope), reference)
    argv = [found.manifest.exec_program, str(found.path), task_id, "--trigger", "manual"]
    if ignore_skips:
        argv.append("--ignore-skips")
    # Like a shell: Ctrl-C goes to the shim, which passes it to the script and records the run.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stdout.flush()
        code = subprocess.run(argv, env=cron_environment(), check=False).returncode
        return 128 - code if code < 0 else code  # the shim itself killed by signal N: 128+N
    except OSError as error:
        raise ApplyError(f"could not start {argv[0]}: {error}; reinstall the tasks file") from None
    finally:
        signal.signal(signal.SIGINT, previous)


def pause(reference: str, until: datetime | None = None, *, scope: str = "user") -> PauseChange:
    """Pause an installed namespace ('NAMESPACE') or task ('NAMESPACE/TASK'), for good or until
    `until` (an aware datetime): its firings are recorded as skipped; on systemd its timers stop."""
    from .installer import pausing

    return pausing.pause(_state(scope), reference, until.timestamp() if until else None)


def resume(reference: str, *, scope: str = "user", expired: bool = False) -> PauseChange:
    """End the pause of a namespace (and of each of its tasks) or of one task; with `expired`,
    only its own pause, once its end has come (what the timer of a pause with an end does)."""
    from .installer import pausing

    return pausing.resume(_state(scope), reference, expired)


def parse_until(text: str, now: datetime | None = None) -> datetime:
    """A moment to come: an age from now such as 30m, 2h, 7d, 1w, or an ISO 8601 time."""
    from .observe.moments import parse_until as parsed
    from .observe.preview import local_timezone

    return parsed(text, now or datetime.now(local_timezone()))


# --- notifications and metrics -------------------------------------------------------------------


class Metrics(list["TaskMetrics"]):
    """Every installed task's figures, and `text`: them in Prometheus's text format."""

    @property
    def text(self) -> str:
        from .runtime.metrics import render as render_metrics

        return render_metrics(self)


def metrics(
    *, scope: str = "user", now: datetime | None = None, output: str | os.PathLike[str] | None = None
) -> Metrics:
    """The metrics of every installed task; with `output`, also written to that file (through a
    temporary file renamed over it, as node_exporter's textfile collector needs)."""
    from .observe.metrics import task_metrics
    from .observe.preview import local_timezone
    from .runtime.metrics import write as write_metrics

    state = _state(scope)
    found = Metrics(task_metrics(state, now or datetime.now(local_timezone())))
    if output is not None:
        folder, name = os.path.split(os.path.abspath(output))
        if name != "orchestration.prom":
            raise UsageError(f"{output}: the metrics file is named orchestration.prom; give DIR/orchestration.prom")
        try:
            write_metrics(folder, found.text, state)
        except OSError as error:
            raise ApplyError(f"{output} cannot be written: {error.strerror or error}") from None
    return found


def notify_test(reference: str, *, scope: str = "user") -> list[Delivery]:
    """Send a test notification through every channel of an installed task (and a ping to the
    log of its healthchecks.io heartbeat); what each delivery did. Nothing is recorded."""
    import time

    from .installer import manifests
    from .runtime.notify import Reporter, test_record

    found, task_id = manifests.find_task(_state(scope), reference)
    task = found.manifest.task(task_id)
    if task.reporting is None or not task.reporting.notifies:
        raise UsageError(
            f"{reference} has no notifications or ping; give add_task (or the Orchestrator) notify= or ping="
            " and install it again"
        )
    reporter = Reporter(found.manifest, task, str(_state(scope)), None)
    return reporter.test(test_record(found.manifest.namespace, task_id, time.time()))


def state_directory(scope: str = "user") -> Path:
    """Where manifests, the journal and logs of `scope` live."""
    return _state(scope)


def _state(scope: str) -> Path:
    """The state directory of a scope (system: /var/lib/orchestration)."""
    return state_dir(system=scope == "system")
