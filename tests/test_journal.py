"""The run journal: what a run records, history/logs/status, retention, log caps, faults (locked,
damaged and read-only journals), a burst of simultaneous runs, and following runs live."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import Project, manifest_file, skip_or_fail
from orchestration.api import logs
from orchestration.cli import main
from orchestration.runtime.fallback import fallback_paths
from orchestration.runtime.journal import Journal
from orchestration.runtime.records import RunRecord

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")

EXEC = str(Path(sys.executable).with_name("orchestration-exec"))


def install(project: Project, body: str, name: str = "tasks.py") -> Path:
    tasks = project.write(body, name=name)
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "crontab"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tasks


def fire(state: Path, namespace: str, task: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """What cron does: call orchestration-exec with the manifest and the task."""
    return subprocess.run(
        [EXEC, str(manifest_file(state, namespace)), task],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


TASKS = """
o = Orchestrator(name='ns', keep_runs=3)
o.add_task('0 1 * * *', 'bash', name='good', interval=0).add_script('record.sh', {'who': 'me'})
o.add_task('0 2 * * *', 'bash', name='bad', interval=0).add_script('record.sh').add_script('fail.sh', {'code': 5})
o.add_task('0 3 * * *', 'bash', name='off').add_script('record.sh').add_skip(True)
"""


def test_a_run_records_everything_about_itself(real_crontab, project: Project, state_home: Path) -> None:
    install(project, TASKS)
    assert fire(state_home, "ns", "bad").returncode == 5
    [run] = json.loads(cli("history", "ns/bad", "--json").stdout)
    assert run["namespace"] == "ns" and run["task"] == "bad"
    assert run["trigger"] == "cron"
    assert run["status"] == "failed" and run["exit_code"] == 5
    assert run["reason"] == "fail.sh exited 5"
    assert run["scheduled_time"].endswith(":00.000+00:00")
    assert run["started_at"] <= run["finished_at"]
    assert run["duration"] > 0
    assert [(s["position"], Path(s["script"]).name, s["status"], s["exit_code"]) for s in run["steps"]] == [
        (1, "record.sh", "ok", 0),
        (2, "fail.sh", "failed", 5),
    ]
    assert run["parameters"][1]["parameters"] == {"code": "5"}
    assert Path(run["log_path"]).read_text().count("failing with 5") == 1


def test_history_filters_and_formats(real_crontab, project: Project, state_home: Path) -> None:
    install(project, TASKS)
    fire(state_home, "ns", "good")
    fire(state_home, "ns", "bad")
    fire(state_home, "ns", "off")
    lines = cli("history").stdout.splitlines()
    runs = json.loads(cli("history", "--json").stdout)
    # One order everywhere: newest last, in the text and in JSON; each line shows the run id.
    assert [r["task"] for r in runs] == ["good", "bad", "off"]
    assert [line.split("  ")[1:4] for line in lines] == [
        [f"ns/{r['task']}", r["run_id"], status] for r, status in zip(runs, ["ok", "failed", "skipped"])
    ]
    assert lines[2].endswith("(skipped by add_skip(True))")
    assert cli("history", "--reverse").stdout.splitlines() == lines[::-1]
    assert json.loads(cli("history", "-r", "--json").stdout) == runs[::-1]
    assert [r["task"] for r in json.loads(cli("history", "--limit", "2", "--json").stdout)] == ["bad", "off"]
    assert [r["task"] for r in json.loads(cli("history", "--status", "failed", "--json").stdout)] == ["bad"]
    assert [r["task"] for r in json.loads(cli("history", "ns", "--limit", "1", "--json").stdout)] == ["off"]
    assert json.loads(cli("history", "--since", "2099-01-01T00:00", "--json").stdout) == []
    assert len(json.loads(cli("history", "--since", "5m", "--json").stdout)) == 3
    wrong = CliRunner().invoke(main, ["history", "--status", "great"])
    assert wrong.exit_code == 2
    assert wrong.stderr == (
        "Error: unknown status 'great'; use one of running, ok, failed, skipped, error, timeout, overlap, killed\n"
    )


def test_logs_show_the_newest_run_or_a_chosen_one(real_crontab, project: Project, state_home: Path) -> None:
    install(project, TASKS)
    fire(state_home, "ns", "bad")
    first = json.loads(cli("history", "ns/bad", "--json").stdout)[-1]["run_id"]
    (project.root / "fail.sh").write_text("#!/bin/bash\necho second run says $1\nexit $1\n")
    fire(state_home, "ns", "bad")
    newest = cli("logs", "ns/bad").stdout
    assert "second run says 5" in newest and "failing with" not in newest
    assert "failing with 5" in cli("logs", "ns/bad", "--run", first).stdout
    missing = CliRunner().invoke(main, ["logs", "ns/good"])
    assert missing.exit_code == 2
    assert missing.stderr == "Error: ns/good has no runs yet; `orchestration history ns/good` lists its runs\n"


def test_status_shows_last_run_failures_next_time_and_drift(real_crontab, project: Project, state_home: Path) -> None:
    tasks = install(project, TASKS)
    for _ in range(3):
        fire(state_home, "ns", "bad")
    fire(state_home, "ns", "good")
    statuses = {s["task"]: s for s in json.loads(cli("status", "--json").stdout)}
    assert statuses["bad"]["failures_in_a_row"] == 3
    assert statuses["bad"]["last_run"]["status"] == "failed"
    assert statuses["good"]["failures_in_a_row"] == 0
    assert statuses["off"]["last_run"] is None
    assert statuses["bad"]["next"].endswith("T02:00:00+00:00")
    assert statuses["good"]["problems"] == []

    tasks.write_text(tasks.read_text() + "\n# an edit after install\n")
    drift = f"the tasks file changed since it was installed (drift); run `orchestration install {tasks}`"
    assert json.loads(cli("status", "--json").stdout)[0]["problems"] == [drift]
    text = cli("status").stdout
    assert text.splitlines()[-2:] == [
        f"! ns: {drift}",
        "! ns/bad: 3 failure(s) in a row; see `orchestration logs ns/bad`",
    ]
    assert cli("list").stdout.splitlines()[-1] == "! needs attention: see `orchestration status`"
    result = fire(state_home, "ns", "good")
    assert "warning: the tasks file" in result.stderr
    assert json.loads(cli("history", "ns/good", "--limit", "1", "--json").stdout)[0]["warnings"] == [
        f"the tasks file {tasks} changed since it was installed; run `orchestration install {tasks}` to apply the changes"
    ]


def test_old_runs_and_their_logs_are_pruned_by_later_runs(real_crontab, project: Project, state_home: Path) -> None:
    install(project, TASKS)  # keep_runs=3
    journal = Journal(state_home / "journal.sqlite3")
    old_log = state_home / "logs" / "ns" / "good" / "old.log"
    old_log.parent.mkdir(parents=True)
    old_log.write_text("from long ago")
    journal.fold(
        [
            RunRecord(
                "old",
                "ns",
                "good",
                "cron",
                time.time() - 40 * 86400,
                status="ok",
                finished_at=time.time() - 40 * 86400,
                log_path=str(old_log),
            )
        ]
    )
    for _ in range(5):
        fire(state_home, "ns", "good")
    runs = journal.runs(task="good")
    assert len(runs) == 3 and "old" not in {r.run_id for r in runs}
    # The old run's own log file is gone; the others are parts of the task's log, one file.
    assert sorted(p.name for p in old_log.parent.iterdir()) == ["lock", "runs.1.log"]
    assert {r.log_path for r in runs} == {str(old_log.parent / "runs.1.log")}
    assert [r.seq for r in runs] == [6, 5, 4]  # the run numbers go on after the old run's 1
    task_log = (old_log.parent / "runs.1.log").read_bytes()
    for run in runs:
        part = task_log[run.log_offset : run.log_offset + run.log_length]
        assert part == "".join(chunk.decode() for chunk in logs("ns/good", run.run_id)).encode()
        assert part.startswith(b"orchestration ns/good: record.sh [1/1] ok")


def test_a_tasks_log_is_compacted_when_most_of_it_is_dead(
    real_crontab, project: Project, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(project, TASKS)  # keep_runs=3
    (project.root / "loud.sh").write_text(
        '#!/bin/bash\nfor i in $(seq 40); do echo "$ORCHESTRATION_RUN_ID line $i"; done\n'
    )
    install(project, TASKS.replace("add_script('record.sh', {'who': 'me'})", "add_script('loud.sh')"))
    folder = state_home / "logs" / "ns" / "good"
    for _ in range(8):
        fire(state_home, "ns", "good", env={"ORCHESTRATION_LOG_COMPACT_BYTES": "2000"})
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "lock" and len(names) == 2 and names[1] != "runs.1.log", names
    runs = Journal(state_home / "journal.sqlite3").runs(task="good")
    assert len(runs) == 3 and {r.log_path for r in runs} == {str(folder / names[1])}
    assert (folder / names[1]).stat().st_size <= 2 * sum(r.log_length for r in runs)
    for run in runs:
        text = cli("logs", "ns/good", "--run", run.run_id).stdout
        assert text.count(f"{run.run_id} line") == text.count(" line ") == 40  # its own output, all of it


def test_a_log_is_capped_but_stdout_gets_everything(real_crontab, project: Project, state_home: Path) -> None:
    (project.root / "loud.sh").write_text("#!/bin/bash\nfor i in $(seq 1 200); do echo line $i of output; done\n")
    install(
        project,
        "o = Orchestrator(name='ns', max_log_bytes=100)\no.add_task('0 1 * * *', 'bash', name='loud').add_script('loud.sh')\n",
    )
    result = fire(state_home, "ns", "loud")
    assert "line 200 of output" in result.stdout
    log = Path(json.loads(cli("history", "ns/loud", "--json").stdout)[0]["log_path"]).read_text()
    assert log.startswith("line 1 of output\n")
    assert log.endswith("\n[log cut at 100 bytes; the rest went to stdout only]\n")
    assert len(log) < 200


def test_a_locked_journal_keeps_the_run_in_the_fallback_file_until_the_next_run(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, TASKS)
    fire(state_home, "ns", "good")
    holder = sqlite3.connect(state_home / "journal.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    locked = fire(state_home, "ns", "good", env={"ORCHESTRATION_JOURNAL_TIMEOUT": "0.3"})
    assert locked.returncode == 0
    assert len(project.records()) == 2  # the script ran anyway
    assert "the run journal" in locked.stderr and "recorded in" in locked.stderr
    fallback = Path(fallback_paths(state_home)[0])
    assert len(fallback.read_text().splitlines()) == 1
    assert fallback.stat().st_mode & 0o777 == 0o600
    statuses = [r["status"] for r in json.loads(cli("history", "ns/good", "--json").stdout)]
    assert statuses == ["ok", "ok"]  # history reads the fallback file too
    holder.execute("ROLLBACK")
    holder.close()
    fire(state_home, "ns", "good")
    assert fallback.read_text() == ""
    assert len(Journal(state_home / "journal.sqlite3").runs(task="good")) == 3


def test_a_damaged_journal_is_moved_aside_and_a_new_one_started(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, TASKS)
    fire(state_home, "ns", "good")
    journal_file = state_home / "journal.sqlite3"
    journal_file.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(str(journal_file) + suffix).unlink(missing_ok=True)
    result = fire(state_home, "ns", "good")
    assert result.returncode == 0
    assert "the run journal was damaged" in result.stderr
    assert len(list(state_home.glob("journal.sqlite3.damaged-*"))) == 1
    [run] = json.loads(cli("history", "--json").stdout)
    assert run["status"] == "ok" and "the run journal was damaged" in run["warnings"][0]


def test_a_read_only_state_directory_still_records_the_run(real_crontab, project: Project, state_home: Path) -> None:
    install(project, TASKS)
    fire(state_home, "ns", "good")
    if shutil.which("unshare") is None or os.geteuid() != 0:
        skip_or_fail("a read-only bind mount needs root and unshare")
    script = (
        f"mount --bind {state_home} {state_home} && mount -o remount,ro,bind {state_home} && "
        f"exec {EXEC} {manifest_file(state_home, 'ns')} good"
    )
    result = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True, text=True
    )
    if "mount" in result.stderr and result.returncode != 0 and "orchestration" not in result.stderr:
        skip_or_fail(f"cannot make a read-only mount here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert len(project.records()) == 2
    spare = Path(fallback_paths(state_home)[1])
    assert f"recorded in {spare}" in result.stderr
    assert [r["status"] for r in json.loads(cli("history", "ns/good", "--json").stdout)] == ["ok", "ok"]
    fire(state_home, "ns", "good")  # writable again: folds the spare file in
    assert spare.read_text() == ""
    assert len(Journal(state_home / "journal.sqlite3").runs(task="good")) == 3


def test_a_hundred_runs_finishing_together_leave_a_hundred_records(
    real_crontab, project: Project, state_home: Path
) -> None:
    (project.root / "quick.sh").write_text("#!/bin/bash\nexit 0\n")
    install(
        project,
        "o = Orchestrator(name='burst', keep_runs=1000)\no.add_task('0 1 * * *', 'bash', name='quick', overlap='allow').add_script('quick.sh')\n",
    )
    manifest = str(manifest_file(state_home, "burst"))
    processes = [
        subprocess.Popen([EXEC, manifest, "quick"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100)
    ]
    errors = [p.communicate()[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 100
    assert b"journal" not in b"".join(errors)
    runs = Journal(state_home / "journal.sqlite3").runs(namespace="burst")
    assert len(runs) == 100
    assert {r.status for r in runs} == {"ok"}
    assert all(r.finished_at and len(r.steps) == 1 for r in runs)


def _claim_the_firing(path: str, ready: Any, answers: Any) -> None:
    """One shim's first step: claim the firing of 00:16 UTC, 1 January 1970, in `path`."""
    from orchestration.runtime.records import new_record

    record = new_record("two", "t", "cron", 1000.0, 960.0)
    ready.wait()
    try:
        answers.put(("claimed", Journal(path).record_start(record, once_per_firing=True)))
    except sqlite3.Error as error:
        answers.put(("failed", f"{type(error).__name__}: {error}"))


def test_the_first_runs_of_a_new_journal_claim_a_firing_once(tmp_path: Path) -> None:
    """Entries of one task that share a minute start together, and the first firing finds no
    journal yet: each must still see the others' claim. A journal error here would send the run
    to the fallback file, where it runs again, blind to the others."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for trial in range(30):  # a lost race showed in about one trial in three
        path = str(tmp_path / str(trial) / "journal.sqlite3")
        os.makedirs(os.path.dirname(path))
        ready, answers = context.Barrier(4), context.Queue()
        processes = [context.Process(target=_claim_the_firing, args=(path, ready, answers)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        results = [answers.get(timeout=10) for _ in processes]
        assert [kind for kind, _ in results] == ["claimed"] * 4, (trial, results)
        first = [run_id for _, run_id in results if run_id is None]
        assert len(first) == 1, (trial, results)
        [row] = Journal(path).runs()
        assert {run_id for _, run_id in results} == {None, row.run_id}


def _follow(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _read_until(process: subprocess.Popen, needle: str, timeout: float) -> tuple[list[str], float]:
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.1):
            # Read the pipe itself: a buffered readline() would keep lines that arrived together
            # in its buffer, where select() no longer sees them.
            chunk = os.read(process.stdout.fileno(), 65536).decode()
            for line in chunk.splitlines(keepends=True):
                lines.append(line)
                if needle in line:
                    return lines, time.monotonic()
    raise AssertionError(f"{needle!r} not printed within {timeout}s; got {lines}")


def test_execute_tasks_installs_then_prints_runs_as_they_start_and_finish(
    real_crontab, project: Project, state_home: Path
) -> None:
    (project.root / "slow.sh").write_text("#!/bin/bash\nsleep 1.5\n")
    tasks = project.write(
        "o = Orchestrator(name='live')\no.add_task('0 1 * * *', 'bash', name='slow').add_script('slow.sh')\n"
        "if __name__ == '__main__':\n    o.execute_tasks()\n"
    )
    follower = _follow([sys.executable, str(tasks)], project.root)
    try:
        _read_until(follower, "Following runs of live", timeout=20)
        started = time.monotonic()
        runner = subprocess.Popen([EXEC, str(manifest_file(state_home, "live")), "slow"], stdout=subprocess.DEVNULL)
        lines, seen_start = _read_until(follower, "  running\n", timeout=5)
        assert seen_start - started < 1.5  # printed while the script still runs
        lines, _ = _read_until(follower, "  ok  ", timeout=10)
        assert lines[-1].rstrip().endswith("exit 0")
        runner.wait()
    finally:
        follower.terminate()
        follower.wait()
    assert "# orchestration:live:slow" in subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout


def test_history_follow_prints_new_runs(real_crontab, project: Project, state_home: Path) -> None:
    install(project, TASKS)
    program = str(Path(sys.executable).with_name("orchestration"))
    follower = _follow([program, "history", "ns/bad", "--follow"], project.root)
    try:
        _read_until(follower, "Following new runs", timeout=10)
        fire(state_home, "ns", "good")
        fire(state_home, "ns", "bad")
        lines, _ = _read_until(follower, "  failed  ", timeout=5)
        assert not any("ns/good" in line for line in lines)
        assert "  ns/bad  " in lines[-1]
    finally:
        follower.terminate()
        follower.wait()


def test_logs_follow_a_run_while_it_runs_and_after_its_log_is_filed(
    real_crontab, project: Project, state_home: Path
) -> None:
    """A running run's log is its own file; when it ends the log moves into its task's log.
    Following it shows every line once, then the next run's."""
    (project.root / "slow.sh").write_text(
        '#!/bin/bash\nfor i in 1 2 3 4 5 6; do echo "$ORCHESTRATION_RUN_ID line $i"; sleep 0.3; done\n'
    )
    install(
        project, "o = Orchestrator(name='ns')\no.add_task('0 1 * * *', 'bash', name='slow').add_script('slow.sh')\n"
    )
    first = subprocess.Popen([EXEC, str(manifest_file(state_home, "ns")), "slow"], stdout=subprocess.DEVNULL)
    assert wait_for_run(state_home, "slow")
    program = str(Path(sys.executable).with_name("orchestration"))
    follower = _follow([program, "logs", "ns/slow", "--follow"], project.root)
    try:
        lines, _ = _read_until(follower, "slow.sh [1/1] ok", timeout=15)
        first.wait()
        second = fire(state_home, "ns", "slow")
        assert second.returncode == 0
        more, _ = _read_until(follower, "slow.sh [1/1] ok", timeout=15)
    finally:
        follower.terminate()
        follower.wait()
        if first.poll() is None:
            first.kill()
    runs = Journal(state_home / "journal.sqlite3").runs(task="slow")  # newest first
    text = "".join(lines)
    assert [text.count(f"{runs[1].run_id} line {i}\n") for i in range(1, 7)] == [1] * 6
    assert f"--- run {runs[0].run_id} ---\n" in more
    assert ["".join(more).count(f"{runs[0].run_id} line {i}\n") for i in range(1, 7)] == [1] * 6
    assert runs[1].log_offset is not None and Path(runs[1].log_path).name == "runs.1.log"


def wait_for_run(state: Path, task: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        journal = Journal(state / "journal.sqlite3")
        if journal.exists and journal.runs(task=task, status="running"):
            return True
        time.sleep(0.05)
    return False
