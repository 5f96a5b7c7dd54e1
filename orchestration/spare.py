"""A private folder outside the state directory, for what must not depend on HOME or
ORCHESTRATION_HOME (the per-user crontab lock) or must work while the state directory is
read-only (a fallback journal, a task lock).

Every process of a user must find the same folder, whatever its environment (cron's is minimal),
so TMPDIR is not read: /tmp/orchestration-UID, or, when someone else made that first, a folder
in the user's home. Standard library only: the shim may need it.
"""

from __future__ import annotations

import os


def candidates() -> list[str]:
    import pwd  # noqa: PLC0415 - only when the first choice is taken

    return [f"/tmp/orchestration-{os.getuid()}"] + [
        os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".cache", "orchestration-spare")
    ]


def spare_dir(create: bool = True) -> str:
    """The folder (made, mode 0700, when `create`); OSError naming why none can serve."""
    first = f"/tmp/orchestration-{os.getuid()}"
    if _ours(first, create):
        return first
    for path in candidates()[1:]:
        if _ours(path, create):
            return path
    raise OSError(f"{first} belongs to someone else, and no private folder could be made in its place")


def spare_path(state: str, name: str) -> str:
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
    import stat  # noqa: PLC0415

    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
