"""Load a tasks file in collecting mode and return the Orchestrators it creates.

The file is run from the bytes whose hash is recorded, never from a cached `.pyc`: a file
rewritten within the same second and at the same size would otherwise be imported from its old
bytecode. Errors come back as TasksFileError / DefinitionError located at the line of the tasks
file that made them, never as a traceback.
"""

from __future__ import annotations

import hashlib
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

from ..errors import DefinitionError, TasksFileError
from ..frozen import Frozen
from .orchestrator import Orchestrator, collecting


class LoadedTasks(Frozen):
    path: Path
    sha256: str
    orchestrators: tuple[Orchestrator, ...]
    stat: tuple[int, int] = (0, 0)  # size and modification time (ns) of the bytes loaded


def file_stat(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(size, modification time in ns): what tells cheaply whether a file may have changed."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def resolve_tasks_file(path: str | os.PathLike[str]) -> Path:
    """The real, absolute path of an existing, readable tasks file: the same file reached through
    a symbolic link is the same tasks file."""
    given = os.path.abspath(os.path.expanduser(os.fspath(path)))
    shown = given.encode("utf-8", "replace").decode()
    if not os.path.exists(given):
        raise TasksFileError(
            f"tasks file {shown} does not exist",
            hint="Give the path of a Python file that creates an Orchestrator.",
        )
    tasks_file = Path(os.path.realpath(given))
    if not tasks_file.is_file():
        raise TasksFileError(f"tasks file {shown} is not a file; give the path of a .py file")
    if not os.access(tasks_file, os.R_OK):
        raise TasksFileError(f"tasks file {shown} is not readable; check its permissions")
    try:
        str(tasks_file).encode("utf-8")
    except UnicodeEncodeError:
        raise TasksFileError(
            f"the path of the tasks file {shown} is not valid UTF-8, so it cannot be written into"
            " a crontab or a unit file; rename it"
        ) from None
    return tasks_file


def file_sha256(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def load_tasks_file(
    path: str | os.PathLike[str], *, expected_sha256: str | None = None, copy: str | os.PathLike[str] | None = None
) -> LoadedTasks:
    """Run `path` with execute_tasks() returning at once; gather its Orchestrators. With
    `expected_sha256`, a file whose bytes have another hash is refused. With `copy`, the bytes
    are read from there (the copy kept at install), and the file runs as `path` all the same:
    its `__file__`, its folder on sys.path, its namespace."""
    if copy is None:
        tasks_file = resolve_tasks_file(path)
        stat = file_stat(tasks_file)
        source = tasks_file.read_bytes()
    else:
        tasks_file = Path(os.path.abspath(path))
        stat = file_stat(copy)
        with open(copy, "rb") as stream:
            source = stream.read()
    digest = hashlib.sha256(source).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise TasksFileError(
            f"tasks file {copy or tasks_file} is not the file that was installed (its content changed)"
        )
    module = types.ModuleType(f"_orchestration_tasks_{digest[:12]}")
    module.__file__ = str(tasks_file)
    # Like `python tasks.py`: the file's folder comes first, so it can import its neighbours.
    sys.path.insert(0, str(tasks_file.parent))
    sys.modules[module.__name__] = module
    try:
        with collecting(tasks_file) as found:
            _run(source, tasks_file, module)
    finally:
        sys.path.remove(str(tasks_file.parent))
    if not found:
        raise TasksFileError(
            f"tasks file {tasks_file} creates no Orchestrator; create one with"
            " `orchestrator = Orchestrator()` and add tasks to it",
            hint=f"To remove what was installed from it: `orchestration uninstall {tasks_file}`.",
        )
    return LoadedTasks(path=tasks_file, sha256=digest, orchestrators=tuple(found), stat=stat)


def _run(source: bytes, tasks_file: Path, module: types.ModuleType) -> None:
    try:
        code = compile(source, str(tasks_file), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except DefinitionError as error:
        raise error.located(location_in(error, tasks_file)) from None
    except SyntaxError as error:
        line = f":{error.lineno}" if error.lineno else ""
        raise TasksFileError(f"{tasks_file}{line}: syntax error: {error.msg}; fix the file and try again") from None
    except TypeError as error:
        unknown = unknown_option(error, tasks_file)
        if unknown is None:
            raise _raised(error, tasks_file) from None
        raise unknown.located(location_in(error, tasks_file)) from None
    except BaseException as error:
        if not isinstance(error, (Exception, SystemExit)):
            raise  # Ctrl-C, and the run's time limit or a signal stopping the import
        raise _raised(error, tasks_file) from None


_PACKAGE = Path(__file__).resolve().parent.parent  # the definitions API's own calls raise from here


def _raised(error: BaseException, tasks_file: Path) -> TasksFileError:
    return TasksFileError(
        f"{location_in(error, tasks_file)}: importing the tasks file raised"
        f" {type(error).__name__}: {error}; fix the file and try again"
    )


def unknown_option(error: TypeError, tasks_file: Path) -> DefinitionError | None:
    """A call of the tasks file to the definitions API with an option it does not have
    (`add_task(..., tiemout=5)`), said with the options it has and the closest one; None for
    any other TypeError."""
    import re  # only to word an error: a run that loads the file does without

    # Python 3.13 goes on with a "Did you mean" of its own: the words up to the option decide.
    match = re.match(r"(?:(\w+)\.)?(\w+)\(\) got an unexpected keyword argument '(\w+)'", str(error))
    frame = _raising_frame(error)
    if match is None or frame is None:
        return None
    raiser = Path(frame.f_code.co_filename)
    if not (raiser == tasks_file or raiser.is_relative_to(_PACKAGE)):
        return None  # raised by a call in the user's own code
    owner, name, given = match.groups()
    function = _api_function(owner, name)
    if function is None or (owner is None and not _reaches(frame, name, function)):
        return None  # not ours, or a function of the file's own of the same name
    import difflib
    import inspect

    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    options = [p.name for p in inspect.signature(function).parameters.values() if p.kind in named and p.name != "self"]
    close = difflib.get_close_matches(given, options, n=1, cutoff=0.5)
    call = "Orchestrator" if name == "__init__" else name
    return DefinitionError(
        f"{call}() has no option {given!r}; its options are {', '.join(options)}",
        field=given,
        hint=f"Did you mean {close[0]!r}?" if close else None,
    )


def _raising_frame(error: BaseException) -> types.FrameType | None:
    """The innermost frame of the error's traceback: where it was raised."""
    tail = error.__traceback__
    while tail is not None and tail.tb_next is not None:
        tail = tail.tb_next
    return tail.tb_frame if tail is not None else None


def _api_function(owner: str | None, name: str) -> Callable[..., object] | None:
    """The definitions API's function of that name (a method when `owner` names its class)."""
    from . import notify, orchestrator, parameters, skips

    if owner is not None:
        found = {"Orchestrator": orchestrator.Orchestrator, "Task": orchestrator.Task}.get(owner)
        return getattr(found, name, None) if found is not None else None
    for module in (parameters, skips, notify):
        function = vars(module).get(name)
        if callable(function) and not name.startswith("_") and getattr(function, "__module__", "") == module.__name__:
            return function  # type: ignore[no-any-return]
    return None


def _reaches(frame: types.FrameType, name: str, function: object) -> bool:
    """Whether the call in `frame` named our `function`: bound to that name there, or reached
    through a module it imported (`skips.env_set`)."""
    scope = {**frame.f_globals, **frame.f_locals}
    if name in scope:
        return scope[name] is function
    return any(
        getattr(value, name, None) is function for value in scope.values() if isinstance(value, types.ModuleType)
    )


def location_in(error: BaseException, tasks_file: Path) -> str:
    """file:line of the deepest frame of the tasks file in the error's traceback."""
    line = None
    import traceback  # only to word an error: a run that loads the file does without

    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename) == tasks_file:
            line = frame.lineno
    return f"{tasks_file}:{line}" if line else str(tasks_file)
