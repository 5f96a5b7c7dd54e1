"""What an install captures from the machine: the programs, PATH and HOME that runs will use."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from ..errors import UsageError
from ..frozen import Frozen
from ..rules.instants import machine_zone
from ..state import state_dir


class Environment(Frozen):
    exec_program: str  # absolute path of orchestration-exec
    cli_program: str  # absolute path of orchestration, for the commands in headers
    python: str  # interpreter for python scripts
    path: str  # PATH at install time, given to scripts
    home: str
    state_dir: Path
    zone: str = "UTC"  # the machine's zone, as its scheduler reads it (TZ, else /etc/localtime)
    year: int = 2026  # the year of the install
    image: str = ""  # the container image of the kubernetes target (`--image`)


def capture_environment(state: Path | None = None) -> Environment:
    """The programs and PATH of this installation, for the manifest and the entries."""
    return Environment(
        exec_program=program("orchestration-exec"),
        cli_program=program("orchestration"),
        python=sys.executable,
        path=os.environ.get("PATH") or "/usr/bin:/bin",
        home=os.path.expanduser("~"),
        state_dir=state or state_dir(),
        zone=machine_zone(),
        year=time.localtime().tm_year,
    )


def program(name: str) -> str:
    """The absolute path of one of our programs, next to this interpreter or on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return os.path.abspath(found)
    raise UsageError(
        f"the program {name} is not installed next to {sys.executable} nor on PATH;"
        " install the package with `pip install orchestration` in this environment"
    )
