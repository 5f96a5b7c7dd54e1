"""Task options `jitter` and `env`: what they compile to (nothing of them in the crontab, a fixed
randomized delay on systemd, secrets nowhere but the manifest), what `next` shows, and the real
cron daemon and the real user manager firing paused, jittered and env-carrying tasks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, wait_for
from orchestration.cli import main
from orchestration.rules.policy import jitter_delay
from orchestration.runtime.journal import Journal

JITTER = 25
# Three tasks firing every minute: one paused, one jittered, one with variables (one secret).
FIRING = f"""
from orchestration import secret
o = Orchestrator(name='opt')
o.add_task('* * * * *', 'bash', name='held', interval=0).add_script('record.sh')
o.add_task('* * * * *', 'bash', name='spread', jitter={JITTER}, overlap='allow').add_script('record.sh')
o.add_task('* * * * *', 'bash', name='env', env={{'GREETING': 'hello world', 'PATH': '/opt/tools:/usr/bin:/bin',
           'TOKEN': secret('t0ken-value')}}).add_script('record.sh')
"""


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_each_task_keeps_its_own_delay_within_the_window() -> None:
    delays = [jitter_delay("ns", f"task-{n}", 300) for n in range(200)]
    assert all(0 <= delay < 300 for delay in delays)
    assert delays == [jitter_delay("ns", f"task-{n}", 300) for n in range(200)]  # stable
    assert len({round(delay) for delay in delays}) > 150  # spread out, not bunched
    assert jitter_delay("ns", "task-1", 0) == 0
    assert jitter_delay("ns", "a", 60) != jitter_delay("other", "a", 60)


@pytest.mark.parametrize("meanwhile", [["uninstall", "--name", "jw"], ["pause", "jw/wait"]])
def test_a_firing_that_waits_out_its_jitter_looks_again_before_it_runs(
    real_crontab, project: Project, state_home: Path, meanwhile: list[str]
) -> None:
    """The wait is long enough for the task to be uninstalled (a foreground scheduler stopping)
    or paused: what holds when it ends decides."""
    from conftest import manifest_file

    tasks = project.write(
        "o = Orchestrator(name='jw')\no.add_task('* * * * *', 'bash', name='wait', jitter=6).add_script('record.sh')\n"
    )
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    assert jitter_delay("jw", "wait", 6) > 3  # time enough to act during the wait
    exec_program = str(Path(sys.executable).with_name("orchestration-exec"))
    shim = subprocess.Popen([exec_program, str(manifest_file(state_home, "jw")), "wait"], stdout=subprocess.PIPE)
    time.sleep(1)
    assert cli(*meanwhile).exit_code == 0
    shim.communicate(timeout=30)
    assert shim.returncode == 0
    assert project.records() == []
    recorded = [(run.task, run.status, run.reason) for run in Journal(state_home / "journal.sqlite3").runs()]
    assert recorded == ([] if meanwhile[0] == "uninstall" else [("wait", "skipped", "paused")])


def test_a_gated_firing_that_systemd_starts_late_by_its_jitter_still_runs(project: Project, tmp_path: Path) -> None:
    """systemd fires a task with L, W or # every day and the shim's gate picks the days; with a
    jitter the start comes up to that late, and the gate judges the firing, not the late minute."""
    from orchestration.installer.apply import compile_file
    from orchestration.installer.manifests import write
    from orchestration.runtime.gate import wakes_for_nothing

    tasks = project.write(
        "o = Orchestrator(name='late', timezone='UTC')\n"
        "o.add_task('0 12 L * *', 'bash', name='eom', jitter=600).add_script('record.sh')\n"
    )
    [manifest] = compile_file(tasks)
    path = str(tmp_path / "late.json")
    write(Path(path), manifest)
    due = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc).timestamp()  # the last day of November
    assert not wakes_for_nothing(path, "eom", trigger="systemd", now=due + 5)
    assert not wakes_for_nothing(path, "eom", trigger="systemd", now=due + 599)  # late by its jitter
    assert wakes_for_nothing(path, "eom", trigger="systemd", now=due + 660 + 60)  # later than that
    assert wakes_for_nothing(path, "eom", trigger="systemd", now=due - 86400 + 300)  # the 29th: not its day
    assert wakes_for_nothing(path, "eom", trigger="cron", now=due + 300)  # cron wakes on the minute


def test_next_shows_the_jitter_window(project: Project) -> None:
    tasks = project.write(
        "o = Orchestrator(name='w')\n"
        "o.add_task('0 3 * * *', 'bash', name='late', jitter=300).add_script('record.sh')\n"
        "o.add_task('0 4 * * *', 'bash', name='sharp').add_script('record.sh')\n"
        "o.add_task('0 23 * * *', 'bash', name='day', jitter=86400).add_script('record.sh')\n"
    )
    shown = cli("next", str(tasks), "-n", "2", "--from", "2026-11-26T00:00+00:00").output
    assert shown == (
        "w/late  (jitter: each run starts within 300s, at a fixed delay)\n"
        "  2026-11-26 03:00:00 +0000 .. 03:05:00\n"
        "  2026-11-27 03:00:00 +0000 .. 03:05:00\n"
        "w/sharp\n"
        "  2026-11-26 04:00:00 +0000\n"
        "  2026-11-27 04:00:00 +0000\n"
        "w/day  (jitter: each run starts within 86400s, at a fixed delay)\n"  # a window into the next day
        "  2026-11-26 23:00:00 +0000 .. 2026-11-27 23:00:00 +0000\n"
        "  2026-11-27 23:00:00 +0000 .. 2026-11-28 23:00:00 +0000\n"
    )
    as_json = json.loads(cli("next", str(tasks), "-n", "1", "--from", "2026-11-26T00:00+00:00", "--json").output)
    assert as_json == {
        "w/late": ["2026-11-26T03:00:00+00:00"],
        "w/sharp": ["2026-11-26T04:00:00+00:00"],
        "w/day": ["2026-11-26T23:00:00+00:00"],
    }


def test_jitter_and_env_stay_out_of_the_crontab_and_the_units(project: Project) -> None:
    tasks = project.write(FIRING)
    crontab = cli("compile", str(tasks)).output
    units = cli("compile", str(tasks), "--target", "systemd").output
    plain = project.write(FIRING.replace(f", jitter={JITTER}", ""), name="plain.py")
    assert cli("compile", str(plain)).output.count("* * * * *") == crontab.count("* * * * *") == 6
    for text in (crontab, units):
        assert "t0ken-value" not in text and "hello world" not in text and "/opt/tools" not in text
    spread = units.split("# --- orchestration-opt-spread.timer ---\n")[1].split("# --- ")[0]
    assert f"RandomizedDelaySec={JITTER}\nFixedRandomDelay=true\n" in spread
    env_timer = units.split("# --- orchestration-opt-env.timer ---\n")[1].split("# --- ")[0]
    assert "RandomizedDelaySec=0\n" in env_timer and "FixedRandomDelay" not in env_timer


def _runs(state: Path) -> list:
    journal = Journal(state / "journal.sqlite3")
    return journal.runs() if journal.exists else []


def _finished(state: Path, task: str, status: str) -> list:
    return [run for run in _runs(state) if run.task == task and run.status == status]


def _check_env_run(project: Project) -> None:
    [record] = [r for r in project.records() if r["env"].get("ORCHESTRATION_TASK") == "env"][:1]
    assert record["env"]["GREETING"] == "hello world"
    assert record["env"]["TOKEN"] == "t0ken-value"
    assert record["env"]["PATH"] == "/opt/tools:/usr/bin:/bin"  # env= comes after the install's PATH


@pytest.mark.cron_daemon
def test_cron_fires_paused_jittered_and_env_tasks(cron_crontab: str, project: Project, state_home: Path) -> None:
    tasks = project.write(FIRING)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    installed = read_crontab()
    assert "t0ken-value" not in installed and "hello world" not in installed
    assert cli("pause", "opt/held").exit_code == 0
    assert read_crontab() == installed

    def first_round() -> bool:
        return all(
            _finished(state_home, task, status)
            for task, status in (("held", "skipped"), ("spread", "ok"), ("env", "ok"))
        )

    assert wait_for(first_round, timeout=150), (
        f"cron did not fire all three: {[r.to_dict() for r in _runs(state_home)]}"
    )
    [held] = _finished(state_home, "held", "skipped")[:1]
    assert (held.trigger, held.reason) == ("cron", "paused")
    assert not [r for r in project.records() if r["env"].get("ORCHESTRATION_TASK") == "held"]

    spread = _finished(state_home, "spread", "ok")[-1]
    delay = jitter_delay("opt", "spread", JITTER)
    assert spread.trigger == "cron" and spread.scheduled_time % 60 == 0
    assert delay <= spread.started_at - spread.scheduled_time < delay + 15, (delay, spread.started_at)
    _check_env_run(project)

    assert cli("resume", "opt/held").exit_code == 0
    assert read_crontab() == installed
    assert wait_for(lambda: _finished(state_home, "held", "ok"), timeout=75), "the resumed task did not run"
    assert _finished(state_home, "held", "ok")[0].trigger == "cron"
    assert cli("uninstall", str(tasks)).exit_code == 0


def _timer(name: str, *properties: str) -> dict[str, str]:
    shown = subprocess.run(
        ["systemctl", "--user", "show", f"orchestration-opt-{name}.timer", *(f"-p{p}" for p in properties)],
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)


@pytest.mark.systemd
def test_the_user_manager_fires_paused_jittered_and_env_tasks(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    tasks = project.write(FIRING)
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    for unit in systemd_user.glob("orchestration-opt-*"):
        assert "t0ken-value" not in unit.read_text() and "hello world" not in unit.read_text()
    assert _timer("spread", "RandomizedDelayUSec", "FixedRandomDelay") == {
        "RandomizedDelayUSec": f"{JITTER}s",
        "FixedRandomDelay": "yes",
    }
    assert cli("pause", "opt/held").exit_code == 0
    assert _timer("held", "ActiveState")["ActiveState"] == "inactive"

    def first_round() -> bool:
        return all(_finished(state_home, task, "ok") for task in ("spread", "env"))

    assert wait_for(first_round, timeout=75 + JITTER), "the timers did not fire"
    spread = _finished(state_home, "spread", "ok")[-1]
    # systemd waited its fixed random delay; the run still belongs to the minute that fired it.
    assert spread.trigger == "systemd" and spread.scheduled_time % 60 == 0
    assert 0 <= spread.started_at - spread.scheduled_time < JITTER + 5
    _check_env_run(project)
    assert not [run for run in _runs(state_home) if run.task == "held"]  # a stopped timer fires nothing

    # A pause with an end: a transient timer resumes the task then.
    until = time.time() + 15
    assert cli("pause", "opt/held", "--until", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(until))).exit_code == 0
    assert wait_for(lambda: _timer("held", "ActiveState")["ActiveState"] == "active", timeout=40), "not resumed"
    assert time.time() >= until - 1
    assert not (state_home / "paused" / "opt.held").exists()
    assert wait_for(lambda: _finished(state_home, "held", "ok"), timeout=75), "the resumed timer did not fire"
    assert _finished(state_home, "held", "ok")[0].trigger == "systemd"
    assert cli("uninstall", str(tasks)).exit_code == 0
