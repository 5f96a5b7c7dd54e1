"""The state directory: where manifests, the journal, logs and locks live, private to their owner.

`ORCHESTRATION_HOME` if set, else `$XDG_STATE_HOME/orchestration` (`~/.local/state/orchestration`)
for user installs and `/var/lib/orchestration` for system scope. Standard library only: the shim
uses this module on every run.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SYSTEM_STATE_DIR = Path("/var/lib/orchestration")


def state_dir(system: bool = False) -> Path:
    """The state directory for this user (or for system scope)."""
    explicit = os.environ.get("ORCHESTRATION_HOME")
    if explicit:
        return Path(os.path.abspath(os.path.expanduser(explicit)))
    if system:
        return SYSTEM_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "orchestration"


def manifests_dir(state: Path) -> Path:
    return state / "manifests"


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create `path` and any missing parents, each readable by the owner only."""
    path = Path(path)
    missing, ancestor = [], path
    while not ancestor.exists() and ancestor != ancestor.parent:
        missing.append(ancestor)
        ancestor = ancestor.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)  # mkdir(parents=True) would give parents the umask's mode
        except FileExistsError:
            pass  # another process made it first
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (temporary file, fsync, rename), mode 0600."""
    write_private_bytes(path, text.encode("utf-8"))


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, rename), mode 0600."""
    import tempfile  # noqa: PLC0415 - installs only; the shim never writes this way

    private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def remove_file(path: Path) -> bool:
    """Delete `path` if it exists; whether it did."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


@contextmanager
def locked(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created 0600); yields False if non-blocking and busy."""
    private_dir(path.parent)
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
