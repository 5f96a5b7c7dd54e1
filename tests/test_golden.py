"""Rendered crontab blocks, systemd units and Kubernetes objects compared with files under
tests/golden/cases/. Each case is data: a `NAME.tasks.py`, the `NAME.crontab` and `NAME.systemd`
it must render to, and the `NAME.kubernetes` it renders to where it has one (or the error with
which the kubernetes target refuses it). UPDATE_GOLDEN=1 rewrites the expected files (then read
the diff before committing)."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

from orchestration.api import render as render_files
from orchestration.compile.environment import Environment
from orchestration.errors import OrchestrationError
from orchestration.targets import TARGETS, as_text

CASES_DIR = Path(__file__).parent / "golden" / "cases"
# Fixed programs and a state folder with a space and a '%', which cron and systemd would
# otherwise read as a separator or a specifier.
ENVIRONMENT = Environment(
    exec_program="/opt/orchestration/bin/orchestration-exec",
    cli_program="/opt/orchestration/bin/orchestration",
    python="/opt/orchestration/bin/python",
    path="/usr/local/bin:/usr/bin:/bin",
    home="/home/golden",
    state_dir=Path("/var/lib/orchestration 100%"),
    image="registry.example/golden-jobs:1.0",
)


def render(tasks_file: Path, target: str) -> str:
    try:
        text = as_text(target, render_files(tasks_file, target, environment=ENVIRONMENT))
    except OrchestrationError as error:  # a target that refuses a case says why
        text = f"Error: {error}\n"
    # The manifest's name carries a hash of its content, which holds this checkout's paths.
    text = re.sub(r"(manifests/[A-Za-z0-9_-]+)\.[0-9a-f]{12}\.json", r"\1.{HASH}.json", text)
    return text.replace(str(tasks_file.parent), "{GOLDEN}")


CASES = sorted(CASES_DIR.glob("*.tasks.py"))


@pytest.mark.parametrize("target", ["crontab", "systemd", "kubernetes"])
@pytest.mark.parametrize("tasks_file", CASES, ids=[case.name.split(".")[0] for case in CASES])
def test_rendering_matches_golden_file(tasks_file: Path, target: str) -> None:
    expected_file = tasks_file.with_name(tasks_file.name.replace(".tasks.py", f".{target}"))
    rendered = render(tasks_file, target)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(rendered)
    assert rendered == expected_file.read_text()


def test_each_registered_target_is_its_own_module() -> None:
    """Targets are imported when used, by name: each name leads to the module that renders it."""
    for name, module in TARGETS.items():
        loaded = importlib.import_module(module, "orchestration.targets")
        assert name == loaded.NAME, module
        assert callable(loaded.render), module
