"""What keeps orchestration quick with thousands of tasks and runs, checked for what it gives:
the journal's per-task summary (newest run, failures in a row) against the runs themselves, its
migration, next firing times by the daemon's rule against the preview, and an unchanged
reinstall decided before anything is rendered."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab
from orchestration.cli import main
from orchestration.define.schedule import parse_schedule
from orchestration.observe.history import consecutive_failures
from orchestration.rules.instants import Outlook, next_instant, next_instants, zone_of
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


STARTS = ["2026-03-07T20:00Z", "2026-03-28T22:00Z", "2026-04-04T14:00Z", "2026-10-24T22:00Z", "2026-10-31T23:30Z"]


def test_a_journal_of_schema_3_keeps_its_deliveries_and_counts_when_migrated(tmp_path: Path) -> None:
    """Schema 3 (each run's deliveries, the counts per status) comes before 4 (run numbers, task
    logs, the summary per task): a journal written at 3 goes on with what it holds."""
    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        old.executescript(migration)
    old.execute("PRAGMA user_version = 3")
    old.executemany(
        "INSERT INTO runs (run_id, namespace, task, trigger, started_at, finished_at, status, deliveries)"
        " VALUES (?, 'ns', 't', 'cron', ?, ?, ?, ?)",
        [("r1", 10.0, 11.0, "ok", '[{"channel": "ping"}]'), ("r2", 20.0, 21.0, "failed", "[]")],
    )
    old.execute("INSERT INTO totals VALUES ('ns', 't', 'ok', 7, 10.0, 11.0), ('ns', 't', 'failed', 3, 20.0, 21.0)")
    old.commit()
    old.close()
    journal = Journal(path)
    assert journal.connect().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4
    assert {run.run_id: (run.seq, run.deliveries) for run in journal.runs()} == {
        "r1": (1, [{"channel": "ping"}]),
        "r2": (2, []),
    }
    assert journal.totals() == {("ns", "t"): {"ok": (7, 10.0, 11.0), "failed": (3, 20.0, 21.0)}}
    latest = journal.latest_per_task()
    assert (latest["ns", "t"][0].run_id, latest["ns", "t"][1]) == ("r2", 1)
    journal.close()


@pytest.mark.parametrize(
    "expression",
    [
        *("0 3 * * *", "*/7 9-17 * * mon-fri", "30 1 1,15 * fri", "0 0 29 2 *", "15 */6 * 1-3 *"),
        *("59 23 31 * *", "30 2 * * *", "*/20 1-3 * * *", "0 12 L * *", "0 8 * * 1#2"),
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_next_firing_by_the_rule_is_the_previews(expression: str, zone: str) -> None:
    """The quick next firing of listings is `next_instants`'s, across clock changes too."""
    fields = parse_schedule(expression, "task").fields
    where = zone_of(zone)
    for start in STARTS:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
        for _ in range(12):
            expected = next_instants(fields, where, moment, 1)
            found = next_instant(fields, where, moment)
            assert [found] == expected, (expression, zone, datetime.fromtimestamp(moment, where))
            # A listing's: the zone's clock changes over the next days found once for all tasks.
            for days in (1, 8, 40):
                assert [Outlook(where, moment, days).next_instant(fields)] == expected, (expression, zone, days)
            moment = expected[0] + 30


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
