"""Where orchestration keeps what it writes, private to its owner.

The state directory is `ORCHESTRATION_HOME` if set, else `$XDG_STATE_HOME/orchestration`
(`~/.local/state/orchestration`) for user installs and `/var/lib/orchestration` for system scope.
It holds the manifests, the run journal, the run logs, the lock files and the pauses.

The spare folder sits outside it, for what must not depend on HOME or ORCHESTRATION_HOME (the
per-user crontab lock) or must work while the state directory is read-only (a fallback journal,
a task lock). Every process of a user must find the same spare folder whatever its environment
(cron's is minimal), so TMPDIR is not read: /tmp/orchestration-UID, or, when someone else made
that first, a folder in the user's home.

Standard library only: the shim uses this module on every run.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import UnsafeStateError

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from pathlib import Path

SYSTEM_STATE_DIR = "/var/lib/orchestration"
MANIFESTS = "manifests"
JOURNAL = "journal.sqlite3"
LOGS = "logs"
LOCKS = "locks"
PAUSED = "paused"
# A folder where every run rewrites orchestration.prom (node_exporter's textfile collector reads
# it), for every task; a namespace's own is Orchestrator(metrics_dir=...).
METRICS_DIR_VARIABLE = "ORCHESTRATION_METRICS_DIR"


def state_dir(system: bool = False) -> Path:
    """The state directory for this user (or for system scope)."""
    from pathlib import Path  # the shim never asks: it finds the state beside its manifest

    explicit = os.environ.get("ORCHESTRATION_HOME")
    if explicit:
        return Path(os.path.abspath(os.path.expanduser(explicit)))
    if system:
        return Path(SYSTEM_STATE_DIR)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "orchestration"


def manifests_dir(state: str | os.PathLike[str]) -> Path:
    from pathlib import Path

    return Path(state) / MANIFESTS


def journal_path(state: str | os.PathLike[str]) -> str:
    return os.path.join(state, JOURNAL)


def tasks_copy_path(state: str | os.PathLike[str], sha256: str) -> str:
    """The private copy of a tasks file as installed, named by its hash: runs import it."""
    return os.path.join(state, MANIFESTS, f"tasks-{sha256}.py")


def logs_dir(state: str | os.PathLike[str], namespace: str, task: str) -> str:
    return os.path.join(state, LOGS, namespace, task)


def lock_path(state: str | os.PathLike[str], name: str) -> str:
    return os.path.join(state, LOCKS, name)


def paused_path(state: str | os.PathLike[str], namespace: str, task: str | None = None) -> str:
    """The file that says a namespace, or one of its tasks, is paused (names hold no '.')."""
    return os.path.join(state, PAUSED, f"{namespace}.{task}" if task else namespace)


# --- who controls the state --------------------------------------------------------------------
#
# Whoever can change the state directory decides what runs as its owner: they can swap a
# manifest, or put a symbolic link where the journal or a log is written. So every folder from
# the state directory up to / must belong to this user or root, and be writable by nobody else.
# A folder that others may write is fine above the state directory when it is sticky (/tmp): its
# entries can then be replaced only by their owner, and the state directory, our entry there, is
# made with mkdir (which never follows or reuses a name) and checked to be ours.


def check_state(state: str | os.PathLike[str]) -> None:
    """UnsafeStateError naming the first folder from `state` up to / that another user owns or
    can write (followed through symbolic links too). Folders not made yet are fine: they are
    made private."""
    given = os.path.abspath(os.fspath(state))
    for start in dict.fromkeys((given, os.path.realpath(given))):
        folder = start
        while True:
            problem = _folder_problem(folder, top=folder == start)
            if problem:
                raise _unsafe(folder, problem)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent


def prepare_state(state: str | os.PathLike[str]) -> None:
    """Make the state directory (private) if it is missing, after and before checking that no
    other user controls it or a folder above it: UnsafeStateError if one does."""
    check_state(state)
    private_dir(state)
    check_state(state)  # someone may have made it first, in a folder like /tmp


def check_own_file(path: str | os.PathLike[str], info: os.stat_result | None = None) -> None:
    """UnsafeStateError if the file `path` (when it exists) is not this user's alone."""
    if info is None:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
    uid = os.geteuid()
    if stat.S_ISLNK(info.st_mode):
        raise _unsafe(os.fspath(path), "is a symbolic link where orchestration keeps a file of its own")
    if info.st_uid != uid:
        raise _unsafe(os.fspath(path), f"belongs to {_user(info.st_uid)}, not to {_user(uid)} who uses it")
    if info.st_mode & 0o022:
        raise _unsafe(os.fspath(path), f"can be written by others (mode {stat.filemode(info.st_mode)})")


def _folder_problem(folder: str, top: bool) -> str | None:
    """Why `folder` lets another user change what is in it (None if it does not). `top`: the
    state directory itself, which may not be writable by others even when sticky."""
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot be examined ({error.strerror})"
    uid = os.geteuid()
    if info.st_uid not in (uid, 0):
        return f"belongs to {_user(info.st_uid)}, not to {_user(uid)} or root"
    if not info.st_mode & 0o022:
        return None
    if info.st_mode & stat.S_ISVTX and not top:
        return None  # /tmp: others cannot replace what is ours in it
    if not info.st_mode & 0o002 and _private_group(info.st_gid):
        return None  # writable by a group of this user alone (a user private group)
    who = "anyone" if info.st_mode & 0o002 else f"the group {_group(info.st_gid)}, which has other members"
    return f"belongs to {_user(info.st_uid)} but can be written by {who} (mode {stat.filemode(info.st_mode)})"


def _private_group(gid: int) -> bool:
    """Whether no user but this one (and root) is in the group `gid`."""
    import grp  # only for a group-writable folder
    import pwd

    allowed = (os.geteuid(), 0)
    try:
        members = grp.getgrgid(gid).gr_mem
        if any(pwd.getpwnam(name).pw_uid not in allowed for name in members):
            return False
    except KeyError:
        return False
    return all(entry.pw_uid in allowed for entry in pwd.getpwall() if entry.pw_gid == gid)


def _user(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _unsafe(path: str, problem: str) -> UnsafeStateError:
    return UnsafeStateError(
        f"{path} {problem}: whoever controls it can change what your tasks run, so orchestration"
        " will not use it; nothing was run or changed.",
        hint="Make it yours and private (for a folder: `chown USER FOLDER && chmod go-w FOLDER`),"
        " or keep the state elsewhere: set ORCHESTRATION_HOME to a folder of your own.",
    )


# --- private files ---------------------------------------------------------------------------------


def private_dir(path: str | os.PathLike[str]) -> None:
    """Create `path` and any missing parents, each readable by the owner only."""
    missing, ancestor = [], os.path.abspath(path)
    while not os.path.exists(ancestor) and ancestor != os.path.dirname(ancestor):
        missing.append(ancestor)
        ancestor = os.path.dirname(ancestor)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)  # makedirs would give parents the umask's mode
        except FileExistsError:
            pass  # another process made it first


def write_private(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write `text` to `path` atomically (temporary file, fsync, rename), mode 0600."""
    import tempfile  # installs only; the shim never writes this way

    folder, name = os.path.split(os.path.abspath(path))
    private_dir(folder)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8") if isinstance(text, str) else text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def remove_file(path: str | os.PathLike[str]) -> bool:
    """Delete `path` if it exists; whether it did."""
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


@contextmanager
def locked(path: str | os.PathLike[str], *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created 0600); yields False if non-blocking and busy."""
    private_dir(os.path.dirname(path))
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)


# --- the spare folder ------------------------------------------------------------------------------


def spare_candidates() -> list[str]:
    """Where the spare folder may be: /tmp/orchestration-UID, else a folder in the home."""
    import pwd  # only when the first choice is taken

    home = pwd.getpwuid(os.getuid()).pw_dir
    return [f"/tmp/orchestration-{os.getuid()}", os.path.join(home, ".cache", "orchestration-spare")]


def spare_dir(create: bool = True) -> str:
    """The spare folder (made, mode 0700, when `create`); OSError naming why none can serve."""
    first = f"/tmp/orchestration-{os.getuid()}"
    if _ours(first, create):
        return first
    for path in spare_candidates()[1:]:
        if _ours(path, create):
            return path
    raise OSError(f"{first} belongs to someone else, and no private folder could be made in its place")


def spare_path(state: str | os.PathLike[str], name: str) -> str:
    """Where `name` of the state directory `state` goes in the spare folder (not made)."""
    key = "".join(c if c.isalnum() else "_" for c in os.path.abspath(os.fspath(state)))[-80:]
    return os.path.join(spare_dir(create=False), f"{key}.{name}")


def _ours(path: str, create: bool) -> bool:
    """Whether `path` is (or, with `create`, was just made) a private folder of this user."""
    if create:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return False
    try:
        info = os.lstat(path)
    except OSError:
        return not create  # not made yet: fine for a path that is only computed
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


# --- pauses ---------------------------------------------------------------------------------------
# `orchestration pause` writes a file per paused namespace or task, holding until when (or for
# good); the shim reads it at every firing and records a paused firing as skipped. When nothing is
# paused that costs two failed opens.


class Pause:
    """A pause of a namespace (`task` None) or of one task, until a timestamp or for good."""

    __slots__ = ("namespace", "task", "until")

    def __init__(self, namespace: str, task: str | None, until: float | None) -> None:
        self.namespace, self.task, self.until = namespace, task, until

    @property
    def reference(self) -> str:
        return f"{self.namespace}/{self.task}" if self.task else self.namespace

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def reason(self) -> str:
        """How a skipped run's record says it."""
        whole = "" if self.task else f" (namespace {self.namespace})"
        if self.until is None:
            return f"paused{whole}"
        return f"paused{whole} until {time.strftime('%Y-%m-%d %H:%M:%S %z', time.localtime(self.until))}"

    def to_json(self) -> dict[str, object]:
        return {"namespace": self.namespace, "task": self.task, "until": self.until}


def read_pause(state: str | os.PathLike[str], namespace: str, task: str | None = None) -> Pause | None:
    """The pause file of a namespace (or of one task), if there is one, expired or not."""
    try:
        with open(paused_path(state, namespace, task), "rb") as stream:
            text = stream.read()
    except OSError:
        return None
    try:
        until = json.loads(text).get("until") if text.strip() else None
    except (ValueError, AttributeError):
        until = None  # a damaged file still pauses: resume removes it
    return Pause(namespace, task, float(until) if isinstance(until, (int, float)) else None)


def pause_of(state: str | os.PathLike[str], namespace: str, task: str, now: float) -> Pause | None:
    """The pause in force for a task now (its namespace's or its own, whichever lasts longer);
    None if it may run."""
    return longest(read_pause(state, namespace), read_pause(state, namespace, task), now=now)


def to_resume(state: str | os.PathLike[str], namespace: str, task: str, now: float) -> str:
    """What `orchestration resume` takes to let a paused task run: its namespace when that is
    paused too (resuming it ends its tasks' pauses as well), else the task."""
    paused = read_pause(state, namespace)
    return namespace if paused is not None and paused.active(now) else f"{namespace}/{task}"


def longest(*found: Pause | None, now: float) -> Pause | None:
    """Of the pauses in force at `now`, the one that ends last (one without an end, first)."""
    active = [pause for pause in found if pause is not None and pause.active(now)]
    return max(active, key=lambda pause: float("inf") if pause.until is None else pause.until, default=None)


def pauses(state: str | os.PathLike[str]) -> dict[str, Pause]:
    """Every pause file of the state directory, by 'NAMESPACE' or 'NAMESPACE/TASK' (expired ones too)."""
    folder = os.path.join(state, PAUSED)
    found: dict[str, Pause] = {}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return found
    for name in names:
        namespace, _, task = name.partition(".")
        pause = read_pause(state, namespace, task or None)
        if pause is not None:
            found[pause.reference] = pause
    return found
