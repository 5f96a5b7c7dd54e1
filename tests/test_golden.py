"""Rendered crontab blocks compared with files under tests/golden/. Each case is data: a
`NAME.tasks.py` and the `NAME.crontab` it must render to. UPDATE_GOLDEN=1 rewrites the expected
files (then read the diff before committing)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestration.backends.crontab import render_block
from orchestration.loader import load_tasks_file
from orchestration.operations import compile_loaded
from orchestration.plan import Environment

GOLDEN = Path(__file__).parent / "golden"
# Fixed programs and a state folder with a space and a '%', which cron would otherwise cut at.
ENVIRONMENT = Environment(
    exec_program="/opt/orchestration/bin/orchestration-exec",
    cli_program="/opt/orchestration/bin/orchestration",
    python="/opt/orchestration/bin/python",
    path="/usr/local/bin:/usr/bin:/bin",
    home="/home/golden",
    state_dir=Path("/var/lib/orchestration 100%"),
)


def render_case(tasks_file: Path) -> str:
    plans = compile_loaded(load_tasks_file(tasks_file), ENVIRONMENT)
    text = "".join(render_block(plan) for plan in plans)
    return text.replace(str(tasks_file.parent), "{GOLDEN}")


CASES = sorted((GOLDEN / "crontab").glob("*.tasks.py"))


@pytest.mark.parametrize("tasks_file", CASES, ids=[case.name.split(".")[0] for case in CASES])
def test_crontab_block_matches_golden_file(tasks_file: Path) -> None:
    expected_file = tasks_file.with_name(tasks_file.name.replace(".tasks.py", ".crontab"))
    rendered = render_case(tasks_file)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(rendered)
    assert rendered == expected_file.read_text()
