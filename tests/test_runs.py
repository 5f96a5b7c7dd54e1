"""Runs under faults: time limits stop the whole process group, overlapping firings are skipped,
queued or allowed, failed runs are retried with each attempt recorded, and signals to the shim
reach the script and end the run as 'killed'. On systemd: timer elapses dropped during a run are
recorded, overlapping runs get units of their own, and stopping the unit records 'killed'."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, manifest_file, run_log, wait_for
from orchestration.cli import main
from orchestration.runtime.journal import Journal

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")

EXEC = str(Path(sys.executable).with_name("orchestration-exec"))
PROGRAM = str(Path(sys.executable).with_name("orchestration"))

SCRIPTS = {
    # Forks two children into its process group and waits for them.
    "hang.sh": "#!/bin/bash\nsleep 3001 & sleep 3002 & wait\n",
    # Ignores SIGTERM, and so do its children: only SIGKILL ends it.
    "stubborn.sh": "#!/bin/bash\ntrap '' TERM\nsleep 3003 & wait\n",
    # Runs until the file 'release' appears; notes when it started and ended.
    "hold.sh": "#!/bin/bash\necho start $(date +%s.%N) >> times\nwhile [ ! -e release ]; do sleep 0.05; done\n"
    "echo end $(date +%s.%N) >> times\n",
    # Fails until its third attempt.
    "flaky.sh": "#!/bin/bash\necho x >> attempts\n[ $(wc -l < attempts) -ge 3 ]\n",
    # Says which signal reached it, then stops.
    "trap.sh": "#!/bin/bash\ntrap 'echo TERM > got; exit 143' TERM\ntrap 'echo INT > got; exit 130' INT\n"
    "touch ready\nwhile true; do sleep 0.05; done\n",
}


@pytest.fixture
def scripts(project: Project) -> Project:
    for name, text in SCRIPTS.items():
        (project.root / name).write_text(text)
    return project


def install(project: Project, body: str, backend: str = "crontab") -> None:
    tasks = project.write("o = Orchestrator(name='runs')\n" + body)
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", backend], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def start(state: Path, task: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [EXEC, str(manifest_file(state, "runs")), task],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def runs(state: Path, task: str) -> list:
    return list(reversed(Journal(state / "journal.sqlite3").runs(task=task)))


def alive(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


def test_a_timeout_stops_the_whole_process_group(real_crontab, scripts: Project, state_home: Path) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='hang', timeout=1).add_script('hang.sh')\n")
    began = time.monotonic()
    shim = start(state_home, "hang")
    out, _ = shim.communicate(timeout=30)
    assert shim.returncode == 124
    assert time.monotonic() - began < 10
    assert not alive("sleep 300[12]")
    [run] = runs(state_home, "hang")
    assert (run.status, run.exit_code, run.reason) == ("timeout", 124, "timed out after 1s; hang.sh was stopped")
    assert run.steps[0].status == "timeout"
    assert "orchestration runs/hang: timeout: timed out after 1s; hang.sh was stopped" in out


def test_a_script_that_ignores_sigterm_is_killed_after_the_grace_period(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='stubborn', timeout=1).add_script('stubborn.sh')\n")
    shim = start(state_home, "stubborn", ORCHESTRATION_KILL_GRACE="1")
    shim.communicate(timeout=30)
    assert shim.returncode == 124
    assert not alive("sleep 3003")
    assert runs(state_home, "stubborn")[0].status == "timeout"


def test_overlap_skip_records_the_firing_and_names_the_running_run(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='hold').add_script('hold.sh')\n")
    first = start(state_home, "hold")
    assert wait_for(lambda: (scripts.root / "times").exists(), 10)
    second = start(state_home, "hold")
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 0
    (scripts.root / "release").touch()
    first.communicate(timeout=30)
    ok, overlap = sorted(runs(state_home, "hold"), key=lambda r: r.status != "ok")
    assert ok.status == "ok"
    assert overlap.status == "overlap"
    assert overlap.reason == (
        f"the previous run is still running (run {ok.run_id} (pid {first.pid})); this firing was skipped"
    )
    assert out == ""  # an overlap is a skipped firing: nothing for cron to mail
    assert run_log(overlap) == f"orchestration runs/hold: overlap: {overlap.reason}\n"
    assert (scripts.root / "times").read_text().count("start") == 1


def test_overlap_queue_waits_for_the_previous_run(real_crontab, scripts: Project, state_home: Path) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='hold', overlap='queue').add_script('hold.sh')\n")
    first = start(state_home, "hold")
    assert wait_for(lambda: (scripts.root / "times").exists(), 10)
    second = start(state_home, "hold")
    time.sleep(1)
    assert second.poll() is None  # waiting its turn
    assert (scripts.root / "times").read_text().count("start") == 1
    (scripts.root / "release").touch()
    first.communicate(timeout=30)
    second.communicate(timeout=30)
    times = [line.split() for line in (scripts.root / "times").read_text().splitlines()]
    assert [kind for kind, _ in times] == ["start", "end", "start", "end"]
    assert [r.status for r in runs(state_home, "hold")] == ["ok", "ok"]


def test_overlap_allow_runs_both_at_once(real_crontab, scripts: Project, state_home: Path) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='hold', overlap='allow').add_script('hold.sh')\n")
    first = start(state_home, "hold")
    second = start(state_home, "hold")
    assert wait_for(
        lambda: (scripts.root / "times").exists() and (scripts.root / "times").read_text().count("start") == 2, 10
    )
    (scripts.root / "release").touch()
    first.communicate(timeout=30)
    second.communicate(timeout=30)
    assert [r.status for r in runs(state_home, "hold")] == ["ok", "ok"]


def test_a_failed_run_is_retried_and_every_attempt_recorded(real_crontab, scripts: Project, state_home: Path) -> None:
    install(
        scripts, "o.add_task('0 1 * * *', 'bash', name='flaky', retries=3, retry_delay=0.5).add_script('flaky.sh')\n"
    )
    shim = start(state_home, "flaky")
    out, _ = shim.communicate(timeout=30)
    assert shim.returncode == 0
    attempts = runs(state_home, "flaky")
    assert [(r.attempt, r.status, r.exit_code) for r in attempts] == [(1, "failed", 1), (2, "failed", 1), (3, "ok", 0)]
    assert len({r.run_id for r in attempts}) == 3
    assert len({r.scheduled_time for r in attempts}) == 1
    assert all(b.started_at - a.finished_at >= 0.5 for a, b in itertools.pairwise(attempts))
    assert "orchestration runs/flaky: attempt 2 of 4 after failed run" in out
    history = json.loads(CliRunner().invoke(main, ["history", "runs/flaky", "--json"]).output)
    assert [run["attempt"] for run in history] == [1, 2, 3]


def test_retries_stop_when_they_run_out(real_crontab, scripts: Project, state_home: Path) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='flaky', retries=1).add_script('flaky.sh')\n")
    shim = start(state_home, "flaky")
    shim.communicate(timeout=30)
    assert shim.returncode == 1
    assert [(r.attempt, r.status) for r in runs(state_home, "flaky")] == [(1, "failed"), (2, "failed")]
    # One firing failed, whatever its attempts: status counts firings, as notifications do.
    [status] = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert status["failures_in_a_row"] == 1


def test_sigterm_to_the_shim_reaches_the_script_and_records_killed(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='trap', retries=2).add_script('trap.sh')\n")
    shim = start(state_home, "trap")
    assert wait_for(lambda: (scripts.root / "ready").exists(), 10)
    shim.send_signal(signal.SIGTERM)
    shim.communicate(timeout=30)
    assert shim.returncode == 143
    assert (scripts.root / "got").read_text() == "TERM\n"
    [run] = runs(state_home, "trap")  # killed runs are not retried
    assert (run.status, run.exit_code, run.reason) == ("killed", 143, "stopped by SIGTERM while trap.sh ran")


def test_ctrl_c_on_orchestration_run_is_recorded_as_killed(real_crontab, scripts: Project, state_home: Path) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='trap').add_script('trap.sh')\n")
    # As a terminal does: SIGINT to the whole foreground process group.
    person = subprocess.Popen(
        [PROGRAM, "run", "runs/trap"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    assert wait_for(lambda: (scripts.root / "ready").exists(), 10)
    os.killpg(person.pid, signal.SIGINT)
    person.communicate(timeout=30)
    assert person.returncode == 130
    assert (scripts.root / "got").read_text() == "INT\n"
    [run] = runs(state_home, "trap")
    assert (run.trigger, run.status, run.exit_code) == ("manual", "killed", 130)


def test_a_signal_between_scripts_ends_the_run(real_crontab, scripts: Project, state_home: Path) -> None:
    (scripts.root / "quick.sh").write_text("#!/bin/bash\necho quick >> quick\n")
    install(
        scripts,
        "t = o.add_task('0 1 * * *', 'bash', name='two', interval=30)\n"
        "t.add_script('quick.sh').add_script('quick.sh')\n",
    )
    shim = start(state_home, "two")
    assert wait_for(lambda: (scripts.root / "quick").exists(), 10)
    time.sleep(0.5)
    shim.send_signal(signal.SIGTERM)
    shim.communicate(timeout=10)
    assert shim.returncode == 143
    assert (scripts.root / "quick").read_text() == "quick\n"
    assert runs(state_home, "two")[0].status == "killed"


def test_a_script_removed_after_install_fails_the_run_with_the_fix(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='gone').add_script('hold.sh')\n")
    (scripts.root / "hold.sh").unlink()
    shim = start(state_home, "gone")
    _out, _ = shim.communicate(timeout=30)
    assert shim.returncode == 1
    [run] = runs(state_home, "gone")
    assert run.status == "error"
    assert run.reason == (
        f"the script {scripts.root}/hold.sh is gone since the install; restore it, or fix"
        f" the tasks file and run `orchestration install {scripts.tasks_file}`"
    )
    status = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)[0]
    assert status["problems"] == [
        f"{scripts.root}/hold.sh is gone; runs of this task fail until it is back or reinstalled"
    ]


def test_systemd_drops_elapses_during_a_run_which_are_recorded_or_given_units_of_their_own(
    systemd_user: Path, scripts: Project, state_home: Path
) -> None:
    # Each script's first run lasts past the next minute; later runs end at once.
    for name in ("skip", "allow"):
        (scripts.root / f"{name}.sh").write_text(
            f"#!/bin/bash\necho $(date +%s) >> {name}.starts\n[ $(wc -l < {name}.starts) -eq 1 ] && sleep 75\nexit 0\n"
        )
    install(
        scripts,
        "o.add_task('* * * * *', 'bash', name='skip').add_script('skip.sh')\n"
        "o.add_task('* * * * *', 'bash', name='allow', overlap='allow').add_script('allow.sh')\n",
        backend="systemd",
    )
    service = (systemd_user / "orchestration-runs-allow.service").read_text()
    assert "ExecStart=/usr/bin/systemd-run --user --no-block --collect --quiet" in service

    def settled() -> bool:
        skip, allow = runs(state_home, "skip"), runs(state_home, "allow")
        return (
            any(r.status == "overlap" for r in skip)
            and any(r.status == "ok" for r in skip)
            and sum(r.status == "ok" for r in allow) >= 2
        )

    assert wait_for(settled, timeout=210), (runs(state_home, "skip"), runs(state_home, "allow"))
    skip = runs(state_home, "skip")
    first_ok = next(r for r in skip if r.status == "ok")
    overlap = next(r for r in skip if r.status == "overlap")
    assert overlap.scheduled_time == first_ok.scheduled_time + 60
    assert overlap.trigger == "systemd"
    assert f"run {first_ok.run_id}" in overlap.reason
    allow = [r for r in runs(state_home, "allow") if r.status == "ok"]
    assert allow[1].started_at < allow[0].finished_at  # the second ran while the first still did
    assert (scripts.root / "skip.starts").read_text().count("\n") >= 1
    CliRunner().invoke(main, ["uninstall", "--name", "runs"])


def test_stopping_the_unit_records_killed(systemd_user: Path, scripts: Project, state_home: Path) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='trap').add_script('trap.sh')\n", backend="systemd")
    unit = "orchestration-runs-trap.service"
    subprocess.run(["systemctl", "--user", "start", "--no-block", unit], check=True)
    assert wait_for(lambda: (scripts.root / "ready").exists(), 20)
    subprocess.run(["systemctl", "--user", "stop", unit], check=True)
    assert wait_for(lambda: runs(state_home, "trap") and runs(state_home, "trap")[0].status != "running", 20)
    [run] = runs(state_home, "trap")
    assert (run.trigger, run.status, run.exit_code) == ("systemd", "killed", 143)
    assert (scripts.root / "got").read_text() == "TERM\n"
    CliRunner().invoke(main, ["uninstall", "--name", "runs"])


def test_scripts_start_with_default_signal_dispositions(real_crontab, scripts: Project, state_home: Path) -> None:
    # Python ignores SIGPIPE; a script must not inherit that (`yes | head -1` would never end).
    (scripts.root / "pipe.sh").write_text(
        "#!/bin/bash\nset -o pipefail\nyes | head -1 > /dev/null\necho $? > code\n"
        "grep SigIgn /proc/$$/status > ignored\n"
    )
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='pipe').add_script('pipe.sh')\n")
    shim = start(state_home, "pipe")
    shim.communicate(timeout=20)
    assert (scripts.root / "code").read_text() == "141\n"  # killed by SIGPIPE, as under cron
    ignored = int((scripts.root / "ignored").read_text().split()[1], 16)
    assert ignored & (1 << (signal.SIGPIPE - 1)) == 0


def test_a_script_that_ignores_the_forwarded_signal_is_killed_after_the_grace_period(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    (scripts.root / "deaf.sh").write_text("#!/bin/bash\ntrap '' TERM\ntouch ready\nsleep 3004 & wait\n")
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='deaf').add_script('deaf.sh')\n")
    shim = start(state_home, "deaf", ORCHESTRATION_KILL_GRACE="1")
    assert wait_for(lambda: (scripts.root / "ready").exists(), 10)
    shim.send_signal(signal.SIGTERM)
    shim.communicate(timeout=20)
    assert shim.returncode == 143
    assert not alive("sleep 3004")
    assert runs(state_home, "deaf")[0].status == "killed"


def test_a_closed_stdout_costs_neither_the_run_nor_its_record(real_crontab, scripts: Project, state_home: Path) -> None:
    (scripts.root / "talk.sh").write_text("#!/bin/bash\nsleep 0.3\nfor i in $(seq 1 2000); do echo line $i; done\n")
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='talk').add_script('talk.sh')\n")
    reader, writer = os.pipe()
    shim = subprocess.Popen(
        [EXEC, str(manifest_file(state_home, "runs")), "talk"], stdout=writer, stderr=subprocess.PIPE
    )
    os.close(writer)
    os.close(reader)  # whoever read the output went away
    shim.communicate(timeout=30)
    assert shim.returncode == 0
    [run] = runs(state_home, "talk")
    assert run.status == "ok"
    assert run.warnings and run.warnings[-1].startswith("stdout could not be written")
    assert "line 2000" in run_log(run)


def test_a_run_killed_outright_is_closed_by_the_next_one(real_crontab, scripts: Project, state_home: Path) -> None:
    install(scripts, "o.add_task('0 1 * * *', 'bash', name='hold').add_script('hold.sh')\n")
    first = start(state_home, "hold")
    assert wait_for(lambda: (scripts.root / "times").exists(), 10)
    first.kill()  # SIGKILL: no chance to record anything
    first.wait()
    subprocess.run(["pkill", "-KILL", "-f", "hold.sh"])
    # The shim's keeper held the task's lock while the script lived; it goes with it.
    assert wait_for(lambda: not alive(str(manifest_file(state_home, "runs"))), 10)
    (scripts.root / "release").touch()
    assert runs(state_home, "hold")[0].status == "running"
    second = start(state_home, "hold")
    second.communicate(timeout=20)
    stale, fresh = runs(state_home, "hold")
    assert (stale.status, stale.reason) == (
        "killed",
        "ended without a record: killed outright (SIGKILL, out of memory, a reboot)",
    )
    assert fresh.status == "ok"


HANGING = """
import pathlib
import time

def never_decides():
    try:
        time.sleep(3600)
    except Exception:  # user code that catches everything still cannot hold the run
        return False

def never_answers(context):
    pathlib.Path(__file__).with_name('deciding').touch()
    time.sleep(3600)
"""


def test_a_condition_that_hangs_ends_at_the_time_limit(real_crontab, scripts: Project, state_home: Path) -> None:
    (scripts.root / "mark.sh").write_text("#!/bin/bash\ntouch ran\n")
    install(
        scripts,
        HANGING + "o.add_task('0 1 * * *', 'bash', name='stuck', timeout=1, retries=2)"
        ".add_script('mark.sh').add_skip(never_decides)\n",
    )
    shim = start(state_home, "stuck")
    out, _ = shim.communicate(timeout=30)
    assert shim.returncode == 124
    [run] = runs(state_home, "stuck")  # conditions are asked once per firing: no retry
    assert (run.status, run.exit_code, run.reason) == (
        "timeout",
        124,
        "timed out after 1s in the skip condition never_decides()",
    )
    assert not (scripts.root / "ran").exists()
    assert "orchestration runs/stuck: timeout: timed out after 1s in the skip condition never_decides()" in out


def test_a_dynamic_value_that_hangs_ends_the_attempt_at_the_time_limit(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    (scripts.root / "mark.sh").write_text("#!/bin/bash\ntouch ran\n")
    install(
        scripts,
        HANGING + "o.add_task('0 1 * * *', 'bash', name='stuck', timeout=1, retries=1)"
        ".add_script('mark.sh', {'day': never_answers})\n",
    )
    shim = start(state_home, "stuck")
    shim.communicate(timeout=30)
    assert shim.returncode == 124
    attempts = runs(state_home, "stuck")
    assert [(r.attempt, r.status, r.reason) for r in attempts] == [
        (1, "timeout", "timed out after 1s while working out the parameters"),
        (2, "timeout", "timed out after 1s while working out the parameters"),
    ]
    assert not (scripts.root / "ran").exists()


def test_a_signal_stops_a_hanging_dynamic_value(real_crontab, scripts: Project, state_home: Path) -> None:
    (scripts.root / "mark.sh").write_text("#!/bin/bash\ntouch ran\n")
    install(
        scripts,
        HANGING + "o.add_task('0 1 * * *', 'bash', name='stuck').add_script('mark.sh', {'day': never_answers})\n",
    )
    shim = start(state_home, "stuck")
    assert wait_for(lambda: (scripts.root / "deciding").exists(), 10)
    shim.send_signal(signal.SIGTERM)
    shim.communicate(timeout=30)
    assert shim.returncode == 143
    [run] = runs(state_home, "stuck")
    assert (run.status, run.exit_code, run.reason) == ("killed", 143, "stopped by SIGTERM")
    assert not (scripts.root / "ran").exists()


def test_a_tasks_file_whose_import_hangs_in_a_run_ends_at_the_time_limit(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    (scripts.root / "mark.sh").write_text("#!/bin/bash\ntouch ran\n")
    hang = scripts.root / "hang-on-import"  # made after the install: only the run's import hangs
    install(
        scripts,
        f"import os, time\nif os.path.exists({str(hang)!r}):\n"
        "    time.sleep(3600)\n"
        "o.add_task('0 1 * * *', 'bash', name='stuck', timeout=1).add_script('mark.sh', {'day': lambda: 'x'})\n",
    )
    hang.touch()
    shim = start(state_home, "stuck")
    shim.communicate(timeout=30)
    assert shim.returncode == 124
    [run] = runs(state_home, "stuck")
    assert (run.status, run.reason) == ("timeout", "timed out after 1s while working out the parameters")
    assert not (scripts.root / "ran").exists()


def test_random_kills_of_the_shim_lose_no_run_double_none_and_leave_nothing_running_past_its_limit(
    real_crontab, scripts: Project, state_home: Path
) -> None:
    """kill -9 of the shim at any point of a run, 50 times, each followed at once by the next
    firing: every script that started has its run recorded (closed as killed by a later run),
    no run is recorded twice, no two scripts of the task ever run at once (overlap='skip'), and
    no process of a run outlives its time limit by more than the grace period."""
    import random

    limit, grace = 1.0, 1.0
    (scripts.root / "busy.sh").write_text(
        "#!/bin/bash\nexec 9>>turn\nflock -n 9 || echo $ORCHESTRATION_RUN_ID >> two-at-once\n"
        "echo $ORCHESTRATION_RUN_ID >> started\nsleep 3009\n"
    )
    install(scripts, f"o.add_task('0 1 * * *', 'bash', name='busy', timeout={limit}).add_script('busy.sh')\n")
    environment = {**os.environ, "ORCHESTRATION_KILL_GRACE": str(grace)}
    manifest = str(manifest_file(state_home, "runs"))
    oldest: list[float] = []

    def outlived() -> list[int]:
        """Script processes older than the time limit, the grace period and a margin."""
        found = subprocess.run(["pgrep", "-f", "sleep 3009"], capture_output=True, text=True).stdout.split()
        ticks, boot = os.sysconf("SC_CLK_TCK"), time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
        late = []
        for pid in found:
            try:
                started = boot + int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
            except (OSError, IndexError):
                continue
            oldest.append(time.time() - started)
            if time.time() - started > limit + grace + 0.8:
                late.append(int(pid))
        return late

    rng = random.Random(12)
    for _ in range(50):
        shim = subprocess.Popen(
            [EXEC, manifest, "busy"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment
        )
        deadline = time.monotonic() + rng.uniform(0, 1.5)
        while time.monotonic() < deadline:
            assert outlived() == []
            time.sleep(0.05)
        shim.kill()
        shim.wait()
    assert wait_for(lambda: outlived() == [] and not alive("sleep 3009") and not alive(manifest), 10)
    final = subprocess.run([EXEC, manifest, "busy"], capture_output=True, text=True, env=environment)
    assert final.returncode == 124  # a run of its own: nothing of the others is left

    recorded = Journal(state_home / "journal.sqlite3").runs(task="busy")
    by_id = {run.run_id: run for run in recorded}
    started = (scripts.root / "started").read_text().split()
    assert len(started) == len(set(started)), "a run started its script twice"
    assert len(by_id) == len(recorded), "a run was recorded twice"
    assert set(started) <= set(by_id), "a run whose script started was not recorded"
    assert {run.status for run in recorded} <= {"killed", "timeout", "overlap"}
    assert not (scripts.root / "two-at-once").exists(), "two runs of the task ran at once"
    assert max(oldest) <= limit + grace + 0.8
