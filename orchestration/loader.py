"""Import a tasks file in collecting mode and return the Orchestrators it creates.

Errors come back as TasksFileError / DefinitionError located at the line of the tasks file that
made them, never as a traceback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from .errors import DefinitionError, TasksFileError
from .model import Orchestrator, collecting


@dataclass(frozen=True)
class LoadedTasks:
    path: Path
    sha256: str
    orchestrators: tuple[Orchestrator, ...]


def resolve_tasks_file(path: str | os.PathLike[str]) -> Path:
    """The absolute path of an existing, readable tasks file."""
    tasks_file = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    if not tasks_file.exists():
        raise TasksFileError(
            f"tasks file {tasks_file} does not exist",
            hint="Give the path of a Python file that creates an Orchestrator.",
        )
    if not tasks_file.is_file():
        raise TasksFileError(f"tasks file {tasks_file} is not a file; give the path of a .py file")
    if not os.access(tasks_file, os.R_OK):
        raise TasksFileError(f"tasks file {tasks_file} is not readable; check its permissions")
    return tasks_file


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_tasks_file(path: str | os.PathLike[str]) -> LoadedTasks:
    """Import `path` with execute_tasks() returning at once; gather its Orchestrators."""
    tasks_file = resolve_tasks_file(path)
    digest = file_sha256(tasks_file)
    module_name = f"_orchestration_tasks_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, tasks_file)
    if spec is None or spec.loader is None:
        raise TasksFileError(f"tasks file {tasks_file} cannot be imported; it must be a .py file")
    module = importlib.util.module_from_spec(spec)
    # Like `python tasks.py`: the file's folder comes first, so it can import its neighbours.
    sys.path.insert(0, str(tasks_file.parent))
    sys.modules[module_name] = module
    try:
        with collecting(tasks_file) as found:
            try:
                spec.loader.exec_module(module)
            except DefinitionError as error:
                raise error.located(_location(error, tasks_file)) from None
            except SyntaxError as error:
                line = f":{error.lineno}" if error.lineno else ""
                raise TasksFileError(
                    f"{tasks_file}{line}: syntax error: {error.msg}; fix the file and try again"
                ) from None
            except BaseException as error:  # noqa: BLE001 - any failure of user code is reported
                if not isinstance(error, (Exception, SystemExit)):
                    raise  # Ctrl-C, and the run's time limit or a signal stopping the import
                raise TasksFileError(
                    f"{_location(error, tasks_file)}: importing the tasks file raised"
                    f" {type(error).__name__}: {error}; fix the file and try again"
                ) from None
    finally:
        sys.path.remove(str(tasks_file.parent))
    if not found:
        raise TasksFileError(
            f"tasks file {tasks_file} creates no Orchestrator; create one with"
            " `orchestrator = Orchestrator()` and add tasks to it"
        )
    return LoadedTasks(path=tasks_file, sha256=digest, orchestrators=tuple(found))


def _location(error: BaseException, tasks_file: Path) -> str:
    """file:line of the deepest frame of the tasks file in the error's traceback."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename) == tasks_file:
            line = frame.lineno
    return f"{tasks_file}:{line}" if line else str(tasks_file)
