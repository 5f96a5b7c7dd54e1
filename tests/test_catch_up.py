"""catch_up=True: a firing missed while the machine or its scheduler was down runs once when it is
back, as the firing it missed. The shim's --catch-up decides from the journal and the install
time; the real cron daemon runs the @reboot entry at its start-up, and a real systemd user manager
starts a Persistent= timer's service when the timer is back after a missed elapse."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MANAGER_HOME, Project, manifest_file, run_log, start_cron, stop_cron, wait_for
from orchestration.cli import main
from orchestration.runtime.journal import Journal

EXEC = str(Path(sys.executable).with_name("orchestration-exec"))
HOUR = 3600


def missed_hour() -> tuple[str, float]:
    """A daily schedule whose firing was an hour or so ago (and not in this minute), and that firing."""
    now = datetime.now()
    firing = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return f"0 {firing.hour} * * *", firing.timestamp()


def install_catching_up(project: Project, state: Path, backend: str) -> tuple[Path, float]:
    """Install a catch-up task whose last firing came after its install time, which is set to
    three hours ago (as if installed then); the manifest and that firing."""
    cron, firing = missed_hour()
    tasks = project.write(
        f"o = Orchestrator(name='late')\n"
        f"o.add_task({cron!r}, 'bash', name='report', catch_up=True).add_script('record.sh')\n"
    )
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", backend])
    assert result.exit_code == 0, result.output
    manifest = manifest_file(state, "late")
    then = time.time() - 3 * HOUR
    os.utime(manifest, (then, then))
    return manifest, firing


def runs(state: Path) -> list:
    return Journal(state / "journal.sqlite3").runs(task="report") if (state / "journal.sqlite3").exists() else []


def catch_up(manifest: Path) -> subprocess.CompletedProcess:
    return subprocess.run([EXEC, str(manifest), "report", "--catch-up"], capture_output=True, text=True, timeout=60)


def test_a_missed_firing_runs_once_as_itself(real_crontab, project: Project, state_home: Path) -> None:
    manifest, firing = install_catching_up(project, state_home, "crontab")

    first = catch_up(manifest)
    assert first.returncode == 0, first.stderr
    [run] = runs(state_home)
    assert (run.trigger, run.status, run.scheduled_time) == ("catch-up", "ok", firing)
    assert len(project.records()) == 1
    assert (
        project.records()[0]["env"]["ORCHESTRATION_SCHEDULED_TIME"]
        == datetime.fromtimestamp(firing).astimezone().isoformat()
    )
    when = datetime.fromtimestamp(firing).astimezone().isoformat(timespec="seconds")
    assert first.stdout == ""  # it ended well and its script printed nothing: nothing for cron to mail
    assert run_log(run).startswith(
        f"orchestration late/report: catching up on the firing of {when},"
        " missed while the machine or its scheduler was down\n"
    )

    again = catch_up(manifest)  # the firing has its run now: nothing to catch up
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert len(runs(state_home)) == 1


def test_nothing_is_caught_up_that_came_before_the_install_or_already_ran(
    real_crontab, project: Project, state_home: Path
) -> None:
    manifest, _firing = install_catching_up(project, state_home, "crontab")
    now = time.time()
    os.utime(manifest, (now, now))  # installed after the firing: it was never due
    assert catch_up(manifest).stdout == ""
    assert runs(state_home) == []

    os.utime(manifest, (now - 3 * HOUR, now - 3 * HOUR))
    regular = subprocess.run([EXEC, str(manifest), "report"], capture_output=True, text=True, timeout=60)
    assert regular.returncode == 0  # a run at this minute, later than the firing: it is covered
    assert catch_up(manifest).stdout == ""
    assert [run.trigger for run in runs(state_home)] == ["cron"]


def foreign_reboot_entries() -> list[str]:
    """@reboot lines in the machine's crontabs that are not ours (a fake start-up would run them)."""
    found = []
    for folder in ("/var/spool/cron/crontabs", "/etc/cron.d"):
        files = sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []
        for path in [*files, Path("/etc/crontab")] if folder == "/etc/cron.d" else files:
            lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
            found += [
                f"{path}: {line}"
                for line in lines
                if line.strip().startswith("@reboot") and "# orchestration:" not in line
            ]
    return found


@pytest.mark.cron_daemon
def test_the_cron_daemon_runs_the_catch_up_entry_at_start_up(
    cron_crontab: str, project: Project, state_home: Path
) -> None:
    """Debian's cron runs @reboot entries when it starts and /run/crond.reboot is absent (it
    creates that file): a daemon started that way is the start-up of a machine, for cron."""
    assert not foreign_reboot_entries()  # the sandbox's crontab holds only what the test wrote
    _, firing = install_catching_up(project, state_home, "crontab")
    stop_cron()
    try:
        Path("/run/crond.reboot").unlink(missing_ok=True)  # the sandbox's own /run
    finally:
        start_cron()

    assert wait_for(lambda: [r.status for r in runs(state_home)] == ["ok"], 30), "cron ran no @reboot entry"
    [run] = runs(state_home)
    assert (run.trigger, run.scheduled_time) == ("catch-up", firing)
    assert CliRunner().invoke(main, ["uninstall", "--name", "late"]).exit_code == 0


@pytest.mark.systemd
def test_a_user_manager_catches_up_when_the_timer_is_back(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    """systemd keeps a timer's last trigger in a stamp file (made when the timer first starts);
    with Persistent=true, a timer started after an elapse it missed starts its service at once."""
    _, firing = install_catching_up(project, state_home, "systemd")
    timer = "orchestration-late-report.timer"
    subprocess.run(["systemctl", "--user", "stop", timer], check=True)
    [stamp] = Path(MANAGER_HOME).glob(f".local/share/systemd/timers/stamp-{timer}")
    then = time.time() - 2 * HOUR  # the timer last ran before the firing
    os.utime(stamp, (then, then))
    subprocess.run(["systemctl", "--user", "start", timer], check=True)

    assert wait_for(lambda: [r.status for r in runs(state_home)] == ["ok"], 30), "systemd caught nothing up"
    [run] = runs(state_home)
    assert (run.trigger, run.scheduled_time) == ("catch-up", firing)

    # Started by hand, with nothing missed: a run like any other.
    subprocess.run(["systemctl", "--user", "start", "orchestration-late-report.service"], check=True)
    assert wait_for(lambda: len(runs(state_home)) == 2 and runs(state_home)[0].status == "ok", 30)
    by_hand = runs(state_home)[0]
    assert (by_hand.trigger, by_hand.scheduled_time) == ("systemd", by_hand.started_at - by_hand.started_at % 60)
    assert CliRunner().invoke(main, ["uninstall", "--name", "late"]).exit_code == 0


def test_a_systemd_start_off_the_schedule_runs_only_what_is_due(
    real_crontab, project: Project, state_home: Path
) -> None:
    """How the shim reads a start by systemd outside the schedule (INVOCATION_ID is how it knows
    systemd started it): a missed firing is caught up; with that firing run already, it is a
    start by hand and runs; a firing from before the install (systemd may remember an older timer
    of the same name) is not run."""
    manifest, firing = install_catching_up(project, state_home, "crontab")
    now = time.time()
    os.utime(manifest, (now, now))
    by_systemd = {**os.environ, "INVOCATION_ID": "0123456789abcdef0123456789abcdef"}

    def start() -> subprocess.CompletedProcess:
        return subprocess.run(
            [EXEC, str(manifest), "report"], capture_output=True, text=True, timeout=60, env=by_systemd
        )

    before_install = start()
    assert (before_install.returncode, before_install.stdout) == (
        0,
        "orchestration late/report: started off its schedule,"
        " and its last firing came before the install: nothing to catch up, no run\n",
    )
    assert runs(state_home) == []

    os.utime(manifest, (now - 3 * HOUR, now - 3 * HOUR))
    assert start().returncode == 0
    assert [(r.trigger, r.scheduled_time) for r in runs(state_home)] == [("catch-up", firing)]
    assert start().returncode == 0
    by_hand = runs(state_home)[0]
    assert (by_hand.trigger, by_hand.scheduled_time) == ("systemd", by_hand.started_at - by_hand.started_at % 60)
