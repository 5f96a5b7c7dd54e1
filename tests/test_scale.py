"""What keeps orchestration quick with thousands of tasks and runs, checked for what it gives:
the journal's per-task summary (newest run, failures in a row) against the runs themselves, its
migration, next firing times by the daemon's rule against the preview, and an unchanged
reinstall decided before anything is rendered."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab
from orchestration.cli import main
from orchestration.define.schedule import parse_schedule
from orchestration.observe.history import consecutive_failures
from orchestration.observe.preview import next_times
from orchestration.observe.status import next_by_rule
from orchestration.runtime.journal import MIGRATIONS, Journal
from orchestration.runtime.records import new_record


def record(task: str, started: float, status: str):
    run = new_record("ns", task, "cron", started, started - started % 60)
    run.finished_at, run.status = started + 1, status
    run.exit_code = 0 if status in ("ok", "skipped") else 3
    return run


STORY = ["ok", "failed", "skipped", "error", "overlap", "timeout", "ok", "failed", "killed", "skipped"]


def test_the_summary_of_each_task_is_what_its_runs_say(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    now = time.time() - 1000
    for number, status in enumerate(STORY):
        run = record("a", now + number, "running")
        journal.record_start(run)
        run.status = status
        journal.record_finish(run, keep_runs=6, keep_days=30)
    journal.fold([record("b", now, "failed"), record("b", now + 1, "failed")])
    latest = journal.latest_per_task()
    kept = journal.runs(task="a")  # newest first, after retention kept 6
    assert len(kept) == 6
    assert latest["ns", "a"][0].run_id == kept[0].run_id and latest["ns", "a"][0].status == "skipped"
    assert latest["ns", "a"][1] == consecutive_failures(kept) == 2
    assert latest["ns", "b"][1] == 2
    journal.fold([record("b", now + 2, "ok")])
    assert journal.latest_per_task()["ns", "b"][1] == 0


def test_a_journal_of_schema_2_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        old.executescript(migration)
    old.execute("PRAGMA user_version = 2")
    rows = [("r3", "t", 30.0, "failed"), ("r1", "t", 10.0, "ok"), ("r2", "t", 20.0, "failed"), ("u1", "u", 5.0, "ok")]
    old.executemany(
        "INSERT INTO runs (run_id, namespace, task, trigger, started_at, status) VALUES (?, 'ns', ?, 'cron', ?, ?)",
        rows,
    )
    old.commit()
    old.close()
    journal = Journal(path)
    assert {run.run_id: run.seq for run in journal.runs()} == {"r1": 1, "r2": 2, "r3": 3, "u1": 1}
    latest = journal.latest_per_task()
    assert (latest["ns", "t"][0].run_id, latest["ns", "t"][1]) == ("r3", 2)
    assert (latest["ns", "u"][0].run_id, latest["ns", "u"][1]) == ("u1", 0)
    # Later runs go on numbering after the migrated ones.
    run = record("t", 40.0, "ok")
    journal.record_start(run)
    assert run.seq == 4


@pytest.mark.parametrize(
    "expression",
    ["0 3 * * *", "*/7 9-17 * * mon-fri", "30 1 1,15 * fri", "0 0 29 2 *", "15 */6 * 1-3 *", "59 23 31 * *"],
)
def test_next_firing_by_the_rule_is_the_previews(expression: str) -> None:
    fields = parse_schedule(expression, "task").fields
    moment = datetime(2026, 11, 26, 10, 30, tzinfo=timezone.utc).astimezone()
    for _ in range(20):
        found = next_by_rule(fields, moment.timestamp())
        preview = _preview(expression, moment)
        assert found == preview.timestamp(), (expression, moment, datetime.fromtimestamp(found), preview)
        moment = preview + timedelta(seconds=30)


def _preview(expression: str, after: datetime) -> datetime:
    schedule = parse_schedule(expression, "task")

    class Timing:
        cron = schedule.cron
        reboot = False

    [found] = next_times(Timing(), after, 1)
    return found


def test_an_unchanged_reinstall_is_decided_before_anything_is_rendered(
    real_crontab, project: Project, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration import targets
    from orchestration.installer import apply

    body = "from orchestration import secret\no = Orchestrator(name='same')\n" + "".join(
        f"o.add_task('{n} 1 * * *', 'bash', name='t{n}').add_script('record.sh', {{'key': secret('{n}')}})\n"
        for n in range(20)
    )
    tasks = project.write(body)
    assert CliRunner().invoke(main, ["install", str(tasks)]).exit_code == 0
    crontab, manifests = read_crontab(), sorted((state_home / "manifests").iterdir())
    written = {path: path.stat().st_mtime_ns for path in manifests}

    rendered = []
    real_render = targets.render

    def counting(*args):
        rendered.append(args)
        return real_render(*args)

    monkeypatch.setattr(targets, "render", counting)  # as the installer renders, and checks entries
    monkeypatch.setattr(apply, "render", counting)
    again = CliRunner().invoke(main, ["install", str(tasks)])
    assert again.output.endswith("nothing changed.\n")
    assert rendered == [] and read_crontab() == crontab
    assert {path: path.stat().st_mtime_ns for path in manifests} == written

    project.write(body.replace("secret('7')", "secret('seven')"))
    changed = CliRunner().invoke(main, ["install", str(tasks)])
    assert "  ~ t7  7 1 * * *  (at 01:07)\n" in changed.output
    assert rendered != []  # something changed: worked out in full
    [manifest] = (state_home / "manifests").glob("same.*.json")
    assert "seven" in manifest.read_text() and read_crontab() != crontab
