"""The foreground target: what `orchestration run-scheduler` gives its own cron daemon. It is the
crontab target's block, with each entry's output sent into the engine's pipe (the engine copies
it to its stdout) instead of cron's mail, which a container cannot deliver.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..compile.manifest import Manifest
from .crontab import file_name, render_block

NAME = "foreground"


def engine_dir(state: str | os.PathLike[str]) -> Path:
    """Where the foreground engine keeps its crontab, its output pipe and its lock."""
    return Path(state) / "foreground"


def output_path(state: str | os.PathLike[str]) -> Path:
    return engine_dir(state) / "output"


def render(manifest: Manifest, manifest_path: str) -> dict[str, str]:
    """The namespace's block for the engine's crontab (a manifest sits in STATE/manifests/)."""
    state = os.path.dirname(os.path.dirname(manifest_path))
    return {file_name(manifest.namespace): render_block(manifest, manifest_path, str(output_path(state)))}
