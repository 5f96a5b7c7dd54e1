"""Crash points, for testing that installs are atomic.

`checkpoint(name)` does nothing unless ORCHESTRATION_CRASH_AT names that point: then the process
raises CrashPoint there, or, with ORCHESTRATION_CRASH_HOW=kill, dies at once with SIGKILL, as a
power cut or `kill -9` would. The tests drive every point of an install through both.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "manifest-written",  # the new manifest file exists; entries untouched
    "entries-written",  # the crontab or unit files are written; systemd not yet reloaded
    "manager-reloaded",  # systemd has reloaded; timers not yet started
    "entries-applied",  # the backend is done; the previous backend and old manifest remain
    "previous-removed",  # a namespace that moved is gone from its old backend
)


class CrashPoint(Exception):
    """Raised at a crash point named by ORCHESTRATION_CRASH_AT."""


def checkpoint(name: str) -> None:
    """Crash here if asked to (see module docstring)."""
    if os.environ.get("ORCHESTRATION_CRASH_AT") != name:
        return
    if os.environ.get("ORCHESTRATION_CRASH_HOW") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise CrashPoint(f"crash point {name}")
