"""The manifest: what was installed for a namespace, the one contract between `install` and every
run. Frozen, typed classes with one conversion to and from JSON (`to_json`, `from_json`) and a
format version; every reader goes through them.

A manifest is written as JSON into the state directory, mode 0600, and named by its content (see
`installer.manifests`). Parameter values live here, never in a crontab line or a unit file.
Standard library only: the shim reads one on every run.

The text is one JSON document laid out so that a run reads only its own task: the first line holds
everything but the tasks, and an index of where each task's object lies after that line; each
task follows on a line of its own. `read(path, task)` reads the first line and that object, so a
run costs the same in a namespace of one task or of thousands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..errors import ManifestError
from ..frozen import Frozen
from ..rules.firing import Fields
from ..rules.policy import Retention, RunPolicy

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Protocol

    from ..frozen import R
    from ..rules.notify import Reporting

    class Schedules(Protocol):
        """When something fires: one schedule (`Timing`) or the union of a task's (`TaskManifest`)."""

        @property
        def zone(self) -> str | None: ...

        @property
        def reboot(self) -> bool: ...

        @property
        def all_fields(self) -> tuple[Fields, ...]: ...


# Version 2: the typed manifest. A manifest of another version is refused with a message that
# says to reinstall; there is no silent reading of an older or newer layout.
FORMAT = 2
REINSTALL = "reinstall it with `orchestration install TASKS_FILE`"
TASKS_KEY = ', "tasks": {'  # what ends the first line: the tasks follow, one a line


class Parameter(Frozen):
    """One parameter value: a text, a template or a function of the tasks file, each possibly
    secret. A secret is shown as ***; with `argument` False it reaches the script only through
    its environment."""

    text: str | None = None
    template: str | None = None
    function: str | None = None  # how messages name it: 'name()'
    secret: bool = False
    argument: bool = True

    @property
    def dynamic(self) -> bool:
        """Whether it is worked out at each run (a template or a function)."""
        return self.text is None

    def to_json(self, masked: bool = False) -> str | dict[str, Any]:
        """A plain value as its text; everything else as an object."""
        if self.text is not None and not self.secret:
            return self.text
        entry: dict[str, Any]
        if self.template is not None:
            entry = {"template": "***" if masked and self.secret else self.template}
        elif self.function is not None:
            entry = {"callable": self.function}
        else:
            entry = {"value": "***" if masked else self.text}
        if self.secret:
            entry["secret"] = True
            if not self.argument:
                entry["argument"] = False
        return entry

    @classmethod
    def from_json(cls, data: Any) -> Parameter:
        if isinstance(data, str):
            return cls.of({"text": data})
        return cls.of(
            {
                "text": _optional(data, "value", str),
                "template": _optional(data, "template", str),
                "function": _optional(data, "callable", str),
                "secret": bool(data.get("secret", False)),
                "argument": bool(data.get("argument", True)),
            }
        )


Parameters = Mapping[str, Parameter]


class Step(Frozen):
    """One add_script or add_repeat: the command to run and its parameter sets, one per run (or
    a function of the tasks file that returns them at each run)."""

    script: str
    command: tuple[str, ...]  # interpreter and script; parameter values follow
    repeat: bool
    runs: tuple[Parameters, ...]
    runs_from: str | None = None

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "script": self.script,
            "command": list(self.command),
            "repeat": self.repeat,
            "runs": [{key: value.to_json(masked) for key, value in run.items()} for run in self.runs],
        }
        if self.runs_from:
            entry["runs_from"] = self.runs_from
        return entry

    @classmethod
    def from_json(cls, data: Any) -> Step:
        return cls.of(
            {
                "script": _required(data, "script", str),
                "command": tuple(_required(data, "command", list)),
                "repeat": _required(data, "repeat", bool),
                "runs": tuple(
                    {key: Parameter.from_json(value) for key, value in run.items()}
                    for run in _required(data, "runs", list)
                ),
                "runs_from": _optional(data, "runs_from", str),
            }
        )


STATIC, BUILTIN, FUNCTION = "static", "builtin", "callable"


class Skip(Frozen):
    """A skip condition: a constant, a built-in condition (its spec), or a function of the tasks
    file (found again by its position among the task's conditions)."""

    kind: str  # STATIC | BUILTIN | FUNCTION
    description: str
    value: bool = False
    condition: Mapping[str, Any] | None = None
    index: int = 0

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": self.kind, "description": self.description, "index": self.index}
        if self.kind == STATIC:
            entry["value"] = self.value
        elif self.kind == BUILTIN:
            entry["condition"] = self.condition
        return entry

    @classmethod
    def from_json(cls, data: Any) -> Skip:
        kind = _required(data, "kind", str)
        if kind not in (STATIC, BUILTIN, FUNCTION):
            raise ValueError(f"unknown kind of skip condition {kind!r}")
        return cls.of(
            {
                "kind": kind,
                "description": _required(data, "description", str),
                "value": bool(data.get("value", False)),
                "condition": _optional(data, "condition", dict),
                "index": int(data.get("index", 0)),
            }
        )


class Timing(Frozen):
    """When a task fires: what the user wrote, the crontab time fields we emit, the schedule in
    words, its expanded fields (None for @reboot), and its zone (None: the machine's)."""

    expression: str
    cron: str
    description: str
    fields: Fields | None
    zone: str | None = None

    @property
    def reboot(self) -> bool:
        return self.fields is None

    @property
    def all_fields(self) -> tuple[Fields, ...]:
        """Its expanded fields, as `TaskManifest.all_fields` gives a task's (none for @reboot)."""
        return () if self.fields is None else (self.fields,)

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "cron": self.cron,
            "description": self.description,
            "zone": self.zone,
            "fields": None if self.fields is None else _fields_json(self.fields),
        }

    @classmethod
    def from_json(cls, data: Any) -> Timing:
        raw = _optional(data, "fields", dict)
        return cls.of(
            {
                "expression": _required(data, "expression", str),
                "cron": _required(data, "cron", str),
                "description": _required(data, "description", str),
                "fields": None if raw is None else _fields_of(raw),
                "zone": _optional(data, "zone", str),
            }
        )


class Shape(Frozen):
    """The kinds of a task's skip conditions and of each parameter value, in order: what the
    shim checks before it calls the tasks file's functions, which it finds by position."""

    skips: tuple[str, ...]
    scripts: tuple[str, ...]


class TaskManifest(Frozen):
    id: str
    timings: tuple[Timing, ...]  # the task's schedules: it runs at the instants of any of them
    script_type: str
    interval: float
    steps: tuple[Step, ...]
    skips: tuple[Skip, ...]
    policy: RunPolicy
    retention: Retention
    shape: Shape
    environment: Parameters = {}  # env=: variable name to a plain or secret value
    reporting: Reporting | None = None  # notifications, ping, verbose, metrics file; None: none

    @property
    def zone(self) -> str | None:
        """The zone its schedules are read in (None: the machine's); one per task."""
        return self.timings[0].zone

    @property
    def reboot(self) -> bool:
        """Whether it runs at boot (an @reboot task has that one schedule)."""
        return self.timings[0].reboot

    @property
    def all_fields(self) -> tuple[Fields, ...]:
        """The expanded fields of its schedules (none for @reboot)."""
        return tuple(timing.fields for timing in self.timings if timing.fields is not None)

    @property
    def expression(self) -> str:
        """Its schedules as the user wrote them, ' | ' between them."""
        return " | ".join(timing.expression.strip() for timing in self.timings)

    @property
    def description(self) -> str:
        """Its schedules in words, '; ' between them."""
        return "; ".join(timing.description for timing in self.timings)

    @property
    def secret_texts(self) -> frozenset[str]:
        """The secret values written in the manifest: of env= and of parameters given as
        secret(...) text (worked-out secrets are known only at a run)."""
        parameters = (value for step in self.steps for run in step.runs for value in run.values())
        return frozenset(
            value.text for value in (*self.environment.values(), *parameters) if value.secret and value.text is not None
        )

    @property
    def needs_tasks_file(self) -> bool:
        """Whether a run must import the tasks file (for its functions)."""
        return any(skip.kind == FUNCTION for skip in self.skips) or any(
            step.runs_from or any(value.function for run in step.runs for value in run.values()) for step in self.steps
        )

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        return {
            # One schedule keeps the key of a single timing, so such manifests read as before.
            **(
                {"timing": self.timings[0].to_json()}
                if len(self.timings) == 1
                else {"timings": [timing.to_json() for timing in self.timings]}
            ),
            "script_type": self.script_type,
            "interval": self.interval,
            "steps": [step.to_json(masked) for step in self.steps],
            "skips": [skip.to_json() for skip in self.skips],
            "policy": _fields(self.policy),
            "retention": _fields(self.retention),
            "shape": {"skips": list(self.shape.skips), "scripts": list(self.shape.scripts)},
            "environment": {key: value.to_json(masked) for key, value in self.environment.items()},
            **({"reporting": self.reporting.to_json(masked)} if self.reporting is not None else {}),
        }

    @classmethod
    def from_json(cls, task_id: str, data: Any) -> TaskManifest:
        shape = _required(data, "shape", dict)
        return cls.of(
            {
                "id": task_id,
                "timings": _timings(data),
                "script_type": _required(data, "script_type", str),
                "interval": _required(data, "interval", (int, float)),
                "steps": tuple(Step.from_json(step) for step in _required(data, "steps", list)),
                "skips": tuple(Skip.from_json(skip) for skip in _required(data, "skips", list)),
                "policy": _shared(RunPolicy, _required(data, "policy", dict)),
                "retention": _shared(Retention, _required(data, "retention", dict)),
                "shape": _shared(
                    Shape,
                    {
                        "skips": tuple(_required(shape, "skips", list)),
                        "scripts": tuple(_required(shape, "scripts", list)),
                    },
                ),
                "environment": {
                    key: Parameter.from_json(value)
                    for key, value in (_optional(data, "environment", dict) or {}).items()
                },
                "reporting": _reporting(_optional(data, "reporting", dict)),
            }
        )


class Manifest(Frozen):
    """Everything one namespace installs, and what its runs need."""

    namespace: str
    tasks_file: str
    tasks_file_sha256: str
    tasks_file_stat: tuple[int, int]  # its size and modification time (ns) when installed
    working_directory: str
    exec_program: str  # orchestration-exec, which every entry calls
    cli_program: str  # orchestration, for the commands in headers
    python: str  # the interpreter of python scripts
    path: str  # PATH at install time, given to scripts
    home: str
    tasks: Mapping[str, TaskManifest]
    machine_zone: str = "UTC"  # the zone the machine's scheduler used when this was installed
    install_year: int = 2026  # clock changes are written out for the years from this one
    backend: str = ""  # where it is installed: set by `install`
    scope: str = "user"
    image: str = ""  # the container image the kubernetes target's pods run

    def tasks_file_changed(self) -> bool:
        """Whether the tasks file differs from the one installed (OSError if it cannot be read).
        Its size and time are compared first, so an unchanged file costs a stat, not a hash."""
        info = os.stat(self.tasks_file)
        if (info.st_size, info.st_mtime_ns) == self.tasks_file_stat:
            return False
        import hashlib  # only for a file that may have changed

        with open(self.tasks_file, "rb") as stream:
            return hashlib.sha256(stream.read()).hexdigest() != self.tasks_file_sha256

    def task(self, task_id: str) -> TaskManifest:
        return self.tasks[task_id]

    def placed(self, backend: str, scope: str) -> Manifest:
        """The same manifest, installed into `backend` for `scope`."""
        return self.replace(backend=backend, scope=scope)

    def secrets(self) -> dict[str, str]:
        """The values `to_json(masked=True)` hides, by where they are: 'TASK/STEP/RUN/KEY' (a
        secret text, or a secret template's source; steps and runs count from 0) and
        'TASK/env/NAME' (a secret variable of env=)."""
        found = {}
        for task_id, task in self.tasks.items():
            for step_number, step in enumerate(task.steps):
                for run_number, run in enumerate(step.runs):
                    for key, value in run.items():
                        hidden = value.text if value.text is not None else value.template
                        if value.secret and hidden is not None:
                            found[f"{task_id}/{step_number}/{run_number}/{key}"] = hidden
            for name, value in task.environment.items():
                if value.secret and value.text is not None:
                    found[f"{task_id}/env/{name}"] = value.text
        return found

    def unmasked(self, secrets: Mapping[str, str], source: str = "the secrets") -> Manifest:
        """This manifest read from its masked form, with the values `secrets()` gave put back;
        ManifestError naming the first one missing."""
        tasks = {}
        for task_id, task in self.tasks.items():
            steps = []
            for step_number, step in enumerate(task.steps):
                runs = []
                for run_number, run in enumerate(step.runs):
                    values = dict(run)
                    for key, value in run.items():
                        if value.secret and value.function is None:
                            where = f"{task_id}/{step_number}/{run_number}/{key}"
                            if where not in secrets:
                                raise ManifestError(f"{source} has no value for {where}; {REINSTALL}")
                            field = "text" if value.template is None else "template"
                            values[key] = value.replace(**{field: secrets[where]})
                    runs.append(values)
                steps.append(step.replace(runs=tuple(runs)))
            variables = dict(task.environment)
            for name, value in task.environment.items():
                if value.secret:
                    where = f"{task_id}/env/{name}"
                    if where not in secrets:
                        raise ManifestError(f"{source} has no value for {where}; {REINSTALL}")
                    variables[name] = value.replace(text=secrets[where])
            tasks[task_id] = task.replace(steps=tuple(steps), environment=variables)
        return self.replace(tasks=tasks)

    def texts(self) -> tuple[str, str]:
        """`to_json()` and `to_json(masked=True)`, made once when nothing is secret (they are then
        the same text): a thousand tasks take a while to write out."""
        text = self.to_json()
        return text, (self.to_json(masked=True) if self.secrets() else text)

    def to_json(self, masked: bool = False) -> str:
        """Stable text: same manifest, same bytes. `masked` replaces secret values with ***."""
        data = {
            "format": FORMAT,
            "namespace": self.namespace,
            "backend": self.backend,
            "scope": self.scope,
            "tasks_file": self.tasks_file,
            "tasks_file_sha256": self.tasks_file_sha256,
            "tasks_file_stat": list(self.tasks_file_stat),
            "working_directory": self.working_directory,
            "exec": self.exec_program,
            "cli": self.cli_program,
            "python": self.python,
            "environment": {"PATH": self.path, "HOME": self.home},
            "machine_zone": self.machine_zone,
            "install_year": self.install_year,
        }
        if self.image:
            data["image"] = self.image
        # Each task on a line of its own, and its place (in bytes after the first line) in the
        # index; json writes with its fast encoder only without indentation.
        lines, index, position = [], {}, 0
        for number, (task_id, task) in enumerate(self.tasks.items(), start=1):
            key = json.dumps(task_id, ensure_ascii=False) + ": "
            value = json.dumps(task.to_json(masked), ensure_ascii=False)
            index[task_id] = [position + len(key.encode()), len(value.encode())]
            line = key + value + ("\n" if number == len(self.tasks) else ",\n")
            lines.append(line)
            position += len(line.encode())
        data["index"] = index
        return json.dumps(data, ensure_ascii=False)[:-1] + f"{TASKS_KEY}\n" + "".join(lines) + "}}\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "the manifest") -> Manifest:
        """The manifest in `text`; ManifestError saying what is wrong and how to fix it."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ManifestError(f"{source} is not valid JSON ({error}); {REINSTALL}") from None
        version = data.get("format") if isinstance(data, dict) else None
        if version != FORMAT:
            newer = isinstance(version, int) and version > FORMAT
            raise ManifestError(
                f"{source} has format {version!r}, and this version of orchestration reads format"
                f" {FORMAT}: it was written by {'a newer' if newer else 'an older'} version;"
                f" {REINSTALL} with the orchestration you mean to run it with"
            )
        return cls._from_data(data, data.get("tasks"), source)

    @classmethod
    def _from_data(cls, data: Any, tasks: Any, source: str) -> Manifest:
        """The manifest of parsed JSON `data` with the tasks in `tasks` (task id -> object)."""
        try:
            if not isinstance(tasks, dict):
                raise ValueError("'tasks' is missing or not a dict")
            environment = _required(data, "environment", dict)
            return cls(
                namespace=_required(data, "namespace", str),
                backend=_required(data, "backend", str),
                scope=_required(data, "scope", str),
                tasks_file=_required(data, "tasks_file", str),
                tasks_file_sha256=_required(data, "tasks_file_sha256", str),
                tasks_file_stat=_stat(_required(data, "tasks_file_stat", list)),
                working_directory=_required(data, "working_directory", str),
                exec_program=_required(data, "exec", str),
                cli_program=_required(data, "cli", str),
                python=_required(data, "python", str),
                path=_required(environment, "PATH", str),
                home=_required(environment, "HOME", str),
                machine_zone=_required(data, "machine_zone", str),
                install_year=_required(data, "install_year", int),
                image=_optional(data, "image", str) or "",
                tasks={task_id: TaskManifest.from_json(task_id, task) for task_id, task in tasks.items()},
            )
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
            raise ManifestError(f"{source} is damaged ({error}); {REINSTALL}") from None


def read(path: str | os.PathLike[str], task: str | None = None) -> Manifest:
    """The manifest in the file `path`; with `task`, holding that task alone (or none, if the
    manifest has no such task), read without the others (a manifest without an index, or edited
    by hand since, is read whole). It must belong to the user who reads it (or to root) and be
    writable by nobody else: whoever can change it decides what runs."""
    source = f"manifest {path}"
    with _open_private(path, "manifest") as stream:
        if task is not None:
            first = stream.readline()
            found = _one_task(first, stream, task, source)
            if found is not None:
                return found
            stream.seek(len(first))
            text = first + stream.read()  # no index, or not one to trust: read it all
        else:
            text = stream.read()
    return Manifest.from_json(text, source)


def read_secrets(path: str | os.PathLike[str]) -> dict[str, str]:
    """The secret values kept apart from a masked manifest (`Manifest.secrets()`), from a file
    held as the manifest is; ManifestError when it cannot be used."""
    try:
        with _open_private(path, "secrets file") as stream:
            data = json.loads(stream.read())
    except FileNotFoundError:
        raise ManifestError(f"the secrets file {path} is missing; {REINSTALL}") from None
    except ValueError as error:
        raise ManifestError(f"the secrets file {path} is not valid JSON ({error}); {REINSTALL}") from None
    if not isinstance(data, dict) or not all(isinstance(value, str) for value in data.values()):
        raise ManifestError(f"the secrets file {path} does not map places to texts; {REINSTALL}")
    return data


@contextmanager
def _open_private(path: str | os.PathLike[str], what: str) -> Iterator[BinaryIO]:
    """A file that decides what runs, open for reading: owned by the user who reads it or by
    root (a file a container's volume gives), and writable by nobody else."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ManifestError(f"{what} {path} cannot be read ({error.strerror}); {REINSTALL}") from None
    with open(descriptor, "rb") as stream:
        info = os.fstat(stream.fileno())
        if info.st_uid not in (os.geteuid(), 0):
            raise ManifestError(
                f"{what} {path} belongs to uid {info.st_uid}, not to uid {os.geteuid()} who runs"
                f" it; nothing was run. A {what} decides what runs as you: remove it and reinstall"
            )
        if info.st_mode & 0o022:
            raise ManifestError(
                f"{what} {path} can be written by group or others (mode {info.st_mode & 0o777:o});"
                " nothing was run. Remove it and reinstall, or make it private: chmod 600"
            )
        yield stream


def read_head(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The first line of a manifest with an index (everything but the tasks), as JSON; None for
    one that cannot be read so (the caller then reads it whole, which says what is wrong)."""
    try:
        with open(path, "rb") as stream:
            first = stream.readline()
        if not first.endswith(TASKS_KEY.encode() + b"\n"):
            return None
        data = json.loads(first[: len(first) - len(TASKS_KEY) - 1] + b"}")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _one_task(first: bytes, stream: BinaryIO, task: str, source: str) -> Manifest | None:
    """The manifest with only `task`, from its first line (the index) and that task's object;
    None for a manifest without an index."""
    if not first.endswith(TASKS_KEY.encode() + b"\n"):
        return None
    cut = len(first) - len(TASKS_KEY) - 1
    try:
        data = json.loads(first[:cut] + b"}")
    except ValueError as error:
        raise ManifestError(f"{source} is not valid JSON ({error}); {REINSTALL}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("index"), dict):
        return None  # from_json says what is wrong with it
    place = data["index"].get(task)
    tasks: dict[str, Any] = {}
    if place is not None:
        # The task's key comes right before its object: anything else (a file edited by hand)
        # and the file is read whole instead.
        key = (json.dumps(task, ensure_ascii=False) + ": ").encode()
        try:
            start, length = int(place[0]), int(place[1])
            stream.seek(len(first) + start - len(key))
            if start < len(key) or stream.read(len(key)) != key:
                return None
            tasks[task] = json.loads(stream.read(length))
        except (ValueError, TypeError, IndexError):
            return None
    return Manifest._from_data(data, tasks, source)


def _timings(data: Any) -> tuple[Timing, ...]:
    """A task's schedules: `timings` (a list), or `timing` for a task of one."""
    if isinstance(data, dict) and "timings" in data:
        timings = tuple(Timing.from_json(timing) for timing in _required(data, "timings", list))
        if not timings:
            raise ValueError("'timings' is empty")
        return timings
    return (Timing.from_json(_required(data, "timing", dict)),)


def _required(data: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    value = data[key] if isinstance(data, dict) and key in data else None
    if not isinstance(value, kind):
        raise ValueError(f"'{key}' is missing or not a {getattr(kind, '__name__', 'number')}")
    return value


def _optional(data: Any, key: str, kind: type) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"'{key}' is not a {kind.__name__}")
    return value


_SETS = ("minutes", "hours", "days", "months", "weekdays")


def _fields_json(fields: Fields) -> dict[str, Any]:
    """The fields as JSON; the extended ones only when used."""
    data: dict[str, Any] = {name: sorted(getattr(fields, name)) for name in _SETS}
    data.update(days_or=fields.days_or, wildcard=fields.wildcard)
    if fields.extended:
        data.update(
            last_day=fields.last_day,
            nearest=sorted(fields.nearest),
            last_weekday=fields.last_weekday,
            nth=sorted([list(pair) for pair in fields.nth]),
            last_weekdays=sorted(fields.last_weekdays),
        )
    return data


def _fields_of(raw: dict[str, Any]) -> Fields:
    named: dict[str, Any] = {name: _values(_required(raw, name, list)) for name in _SETS}
    named["days_or"] = bool(raw.get("days_or", False))
    named["wildcard"] = bool(raw.get("wildcard", False))
    if any(name in raw for name in _EXTENDED):  # L, W and # are rare: the defaults are none
        named.update(
            last_day=bool(raw.get("last_day", False)),
            last_weekday=bool(raw.get("last_weekday", False)),
            nearest=_values(raw.get("nearest", [])),
            nth=frozenset((int(weekday), int(count)) for weekday, count in raw.get("nth", [])),
            last_weekdays=_values(raw.get("last_weekdays", [])),
        )
    return Fields.of(named)


_EXTENDED = ("last_day", "nearest", "last_weekday", "nth", "last_weekdays")
_SEEN_VALUES: dict[tuple[Any, ...], frozenset[int]] = {}
_SEEN_RECORDS: dict[tuple[Any, ...], Frozen] = {}


def _shared(kind: type[R], raw: dict[str, Any]) -> R:
    """The record of `raw`, checked by its class, and the same one for every task that has the
    same values (most tasks share their policy, retention and shape)."""
    key = (kind, *raw.items())
    found = _SEEN_RECORDS.get(key)
    if found is None:
        found = _SEEN_RECORDS[key] = kind(**raw)
    return found  # type: ignore[return-value]  # stored under its class


def _values(raw: list[Any]) -> frozenset[int]:
    """A field's values; the same set once for every task that has it (most tasks share their day
    and month fields), so a listing of thousands of tasks builds a few hundred sets, not tens of
    thousands."""
    key = tuple(raw)
    found = _SEEN_VALUES.get(key)
    if found is None:
        found = _SEEN_VALUES[key] = frozenset(map(int, raw))
    return found


def _reporting(raw: dict[str, Any] | None) -> Reporting | None:
    if not raw:
        return None
    from ..rules.notify import Reporting  # only tasks that report load it

    return Reporting.from_json(raw)


def _stat(raw: list[Any]) -> tuple[int, int]:
    if len(raw) != 2 or not all(isinstance(value, int) for value in raw):
        raise ValueError("'tasks_file_stat' must hold a size and a time")
    return raw[0], raw[1]


def _fields(record: RunPolicy | Retention) -> dict[str, Any]:
    return record.as_dict()
