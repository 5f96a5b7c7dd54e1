"""The systemd target: units pass `systemd-analyze verify` silently; a real user manager fires the
timer, reinstalling changes and reloads nothing, edits restart the timer, uninstall removes it;
foreign units are never touched; `auto` picks the scheduler; system scope needs root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, skip_or_fail, wait_for
from orchestration.api import render as render_files
from orchestration.cli import main
from orchestration.runtime.journal import Journal

LITERAL = [
    "two words",
    'it\'s "quoted"',
    "100% done",
    "$(touch /tmp/pwned-by-systemd)",
    "a;b",
    "`id`",
    "$HOME",
    "naïve café ✓",
    "-n",
    "#hash",
    "x\\y",
]
GOLDEN_CASES = sorted((Path(__file__).parent / "golden" / "cases").glob("*.tasks.py"))


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def list_timers() -> str:
    return subprocess.run(["systemctl", "--user", "list-timers", "--all"], capture_output=True, text=True).stdout


def reloads() -> int:
    """How often the manager has reloaded (it logs 'Reloading.' each time)."""
    log = os.environ.get("SYSTEMD_USER_MANAGER_LOG")
    if not log:
        skip_or_fail("the manager's log is unknown; run through scripts/with-systemd-user.sh")
    return Path(log).read_text(errors="replace").count("Reloading.")


@pytest.mark.parametrize("tasks_file", GOLDEN_CASES, ids=[case.name.split(".")[0] for case in GOLDEN_CASES])
def test_every_unit_passes_systemd_analyze_verify_silently(tasks_file: Path, tmp_path: Path, state_home: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        skip_or_fail("systemd-analyze is not installed (Debian package systemd)")
    folder = tmp_path / "units"
    folder.mkdir()
    for name, text in render_files(tasks_file, "systemd").items():
        (folder / name).write_text(text)
    units = sorted(str(path) for path in folder.iterdir())
    assert units
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    # verify exits 0 even when it ignores a line it cannot parse: any output is a failure.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_compile_writes_units_into_a_folder_and_touches_nothing_else(project: Project, tmp_path: Path) -> None:
    tasks = project.write(
        "o = Orchestrator(name='c')\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh', {'secret': 'hunter2'})\n"
    )
    out = tmp_path / "units"
    result = cli("compile", str(tasks), "--target", "systemd", "--output", str(out))
    assert result.output == f"Wrote {out}/orchestration-c-t.service\nWrote {out}/orchestration-c-t.timer\n"
    assert "OnCalendar=*-*-* 01:00:00" in (out / "orchestration-c-t.timer").read_text()
    assert "hunter2" not in (out / "orchestration-c-t.service").read_text()
    assert not (project.root.parent / "state").exists()
    printed = cli("compile", str(tasks), "--target", "systemd").output
    assert printed.startswith("# --- orchestration-c-t.service ---\n")


def test_a_real_user_manager_fires_the_timer_with_literal_parameters(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    params = {f"p{i}": value for i, value in enumerate(LITERAL)}
    tasks = project.write(
        "o = Orchestrator(name='sd')\n"
        f"o.add_task('* * * * *', 'bash', name='every-minute').add_script('record.sh', {params!r})\n"
    )
    result = cli("install", str(tasks), "--backend", "systemd")
    assert result.output.startswith(f"Installed namespace 'sd' (systemd) from {tasks}:\n")
    service = systemd_user / "orchestration-sd-every-minute.service"
    timer = systemd_user / "orchestration-sd-every-minute.timer"
    assert "OnCalendar=*-*-* *:*:00" in timer.read_text()
    assert "AccuracySec=1s" in timer.read_text() and "Persistent=false" in timer.read_text()
    assert "two words" not in service.read_text()  # parameter values stay in the manifest
    assert (systemd_user / "timers.target.wants" / timer.name).exists()
    assert "orchestration-sd-every-minute.timer" in list_timers()

    assert wait_for(lambda: project.records(), timeout=75), "the timer did not fire within a minute"
    [record] = project.records()[:1]
    assert record["argv"] == LITERAL
    assert record["cwd"] == str(project.root)
    assert not Path("/tmp/pwned-by-systemd").exists()
    assert wait_for(
        lambda: (
            Journal(state_home / "journal.sqlite3").runs()
            and Journal(state_home / "journal.sqlite3").runs()[-1].status == "ok"
        ),
        20,
    )
    first = Journal(state_home / "journal.sqlite3").runs()[-1]
    assert (first.trigger, first.status, first.scheduled_time % 60) == ("systemd", "ok", 0)

    listing = json.loads(cli("list", "--json").output)
    assert listing[0]["backend"] == "systemd"
    assert listing[0]["next"] is not None

    reloaded, modified = reloads(), timer.stat().st_mtime_ns
    assert cli("install", str(tasks), "--backend", "systemd").output.endswith("nothing changed.\n")
    assert reloads() == reloaded and timer.stat().st_mtime_ns == modified

    project.write(
        "o = Orchestrator(name='sd')\n"
        f"o.add_task('*/2 * * * *', 'bash', name='every-minute').add_script('record.sh', {params!r})\n"
    )
    edited = cli("install", str(tasks), "--backend", "systemd").output
    assert "  ~ every-minute  */2 * * * *  (every 2 minutes)\n" in edited
    assert reloads() == reloaded + 1
    shown = subprocess.run(
        ["systemctl", "--user", "show", timer.name, "-p", "TimersCalendar"], capture_output=True, text=True
    ).stdout
    assert "OnCalendar=*-*-* *:00..58/2:00" in shown

    assert cli("uninstall", str(tasks)).output == "Removed namespace 'sd' (systemd): 1 task(s) every-minute\n"
    assert "orchestration-sd-" not in list_timers()
    assert not service.exists() and not timer.exists()


def test_units_we_did_not_write_are_never_touched(systemd_user: Path, project: Project) -> None:
    systemd_user.mkdir(parents=True, exist_ok=True)
    foreign = systemd_user / "orchestration-own-keep.service"
    foreign.write_text("[Service]\nExecStart=/bin/true\n")
    neighbour = systemd_user / "backup.timer"
    neighbour.write_text("[Timer]\nOnCalendar=daily\n")
    try:
        tasks = project.write(
            "o = Orchestrator(name='own')\no.add_task('0 1 * * *', 'bash', name='keep').add_script('record.sh')\n"
        )
        result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "systemd"])
        assert result.exit_code == 2
        assert result.output == (
            f"Error: the unit file {foreign} belongs to someone else (it has no orchestration marker);"
            " orchestration will not overwrite it.\n"
            "Nothing was changed. Rename the task or the namespace, or move that file away.\n"
        )
        assert foreign.read_text() == "[Service]\nExecStart=/bin/true\n"
        assert not (systemd_user / "orchestration-own-keep.timer").exists()
        other = project.write(
            "o = Orchestrator(name='own')\no.add_task('0 1 * * *', 'bash', name='other').add_script('record.sh')\n"
        )
        assert cli("install", str(other), "--backend", "systemd").exit_code == 0
        assert cli("uninstall", "--name", "own").exit_code == 0
        assert foreign.read_text() == "[Service]\nExecStart=/bin/true\n"
        assert neighbour.read_text() == "[Timer]\nOnCalendar=daily\n"
    finally:
        foreign.unlink()
        neighbour.unlink()


def test_auto_picks_cron_when_its_daemon_runs_else_the_user_manager(
    systemd_user: Path, real_crontab: str, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orchestration.installer.schedulers as backends

    tasks = project.write(
        "o = Orchestrator(name='auto')\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    # The one seam: whether a cron daemon runs is read from /proc; the machine's own cannot be
    # stopped for a test, so that answer is set here and both real schedulers do the rest.
    monkeypatch.setattr(backends, "cron_daemon_running", lambda: True)
    assert "(crontab)" in cli("install", str(tasks)).output
    assert "# orchestration:auto:t" in read_crontab()
    assert cli("uninstall", "--name", "auto").exit_code == 0
    monkeypatch.setattr(backends, "cron_daemon_running", lambda: False)
    assert "(systemd)" in cli("install", str(tasks)).output
    assert (systemd_user / "orchestration-auto-t.timer").exists()
    assert read_crontab() == real_crontab
    # `auto` leaves an installed namespace where it is; an explicit backend moves it.
    monkeypatch.setattr(backends, "cron_daemon_running", lambda: True)
    project.write("o = Orchestrator(name='auto')\no.add_task('0 2 * * *', 'bash', name='t').add_script('record.sh')\n")
    assert "(systemd)" in cli("install", str(tasks)).output
    moved = cli("install", str(tasks), "--backend", "crontab").output
    assert moved.startswith(f"Installed namespace 'auto' (crontab, moved from systemd) from {tasks}:\n")
    assert not (systemd_user / "orchestration-auto-t.timer").exists()
    assert "# orchestration:auto:t" in read_crontab()
    assert cli("uninstall", "--name", "auto").exit_code == 0
    assert read_crontab() == real_crontab


def test_no_scheduler_at_all_names_both_ways(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import orchestration.installer.schedulers as backends
    from orchestration.installer import systemctl

    monkeypatch.setattr(backends, "cron_daemon_running", lambda: False)
    monkeypatch.setattr(backends, "crontab_command", lambda: None)
    monkeypatch.setattr(systemctl, "SYSTEMCTL", "/nonexistent/systemctl")
    tasks = project.write(
        "o = Orchestrator(name='none')\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    result = CliRunner().invoke(main, ["install", str(tasks)])
    assert result.exit_code == 2
    assert result.output == (
        "Error: no scheduler found: no cron daemon runs, no systemd user manager answers, and there"
        " is no crontab command\n"
        "Either install and start cron (Debian/Ubuntu: `apt-get install cron && service cron"
        " start`), or use a systemd user session (`loginctl enable-linger $USER`, then log in"
        " again) with --backend systemd.\n"
    )


def test_system_scope_needs_root(tmp_path: Path) -> None:
    import tempfile

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        skip_or_fail("dropping to another user needs root and setpriv")
    shared = Path(tempfile.mkdtemp(prefix="orchestration-system-scope-"))
    try:
        shared.chmod(0o777)
        (shared / "job.sh").write_text("#!/bin/bash\ntrue\n")
        tasks = shared / "tasks.py"
        tasks.write_text(
            "from orchestration import Orchestrator\n"
            "o = Orchestrator(name='sys')\no.add_task('0 1 * * *', 'bash', name='t').add_script('job.sh')\n"
        )
        program = str(Path(sys.executable).with_name("orchestration"))
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                program,
                "install",
                str(tasks),
                "--backend",
                "systemd",
                "--scope",
                "system",
            ],
            capture_output=True,
            text=True,
            env={"PATH": os.environ["PATH"], "HOME": str(shared), "ORCHESTRATION_HOME": str(shared / "state")},
        )
    finally:
        shutil.rmtree(shared)
    assert result.stderr == (
        "Error: --scope system writes to /etc/systemd/system and needs root; run it with sudo, or use"
        " --scope user (the default)\n"
    )
    assert result.returncode == 2


def test_system_scope_refuses_files_another_user_can_write(project: Project, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        skip_or_fail("system scope is for root")
    tasks = project.write(
        "o = Orchestrator(name='sys')\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    script = project.root / "record.sh"
    script.chmod(0o666)
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "systemd", "--scope", "system"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: --scope system runs tasks as root, but {script} is writable by group or others"
        " (mode -rw-rw-rw-), which would let another user run code as root\n"
        f"Make it owned by root and not writable by group or others: chown root {script} &&"
        f" chmod go-w {script}\n"
    )
    assert not (Path("/etc/systemd/system") / "orchestration-sys-t.timer").exists()


def test_a_renamed_namespace_leaves_the_user_manager_with_its_install(systemd_user: Path, project: Project) -> None:
    tasks = project.write(
        "o = Orchestrator(name='before')\no.add_task('0 1 * * *', 'bash', name='job').add_script('record.sh')\n"
    )
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    assert "orchestration-before-job.timer" in list_timers()
    project.write(
        "o = Orchestrator(name='after')\no.add_task('0 1 * * *', 'bash', name='job').add_script('record.sh')\n"
    )
    result = cli("install", str(tasks), "--backend", "systemd")
    assert f"Removed namespace 'before' (systemd): {tasks} no longer defines it:\n  - job\n" in result.output
    timers = list_timers()
    assert "orchestration-before-job.timer" not in timers and "orchestration-after-job.timer" in timers
    assert not list(systemd_user.glob("orchestration-before-*"))
    assert cli("uninstall", str(tasks)).output == "Removed namespace 'after' (systemd): 1 task(s) job\n"


def test_a_timer_in_its_own_zone_is_listed_in_that_zone(systemd_user: Path, project: Project) -> None:
    from datetime import datetime

    tasks = project.write(
        "o = Orchestrator(name='zoned')\n"
        "o.add_task('30 9 * * *', 'bash', name='ny', timezone='America/New_York').add_script('record.sh')\n"
    )
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    try:
        [row] = json.loads(cli("list", "--json").output)
        moment = datetime.fromisoformat(row["next"])
        assert (moment.hour, moment.minute) == (9, 30)  # the manager's elapse, on New York's clock
        assert moment.strftime("%z") in ("-0500", "-0400")
    finally:
        cli("uninstall", str(tasks))


def test_a_namespace_that_cannot_leave_its_manager_stops_the_install_whole(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    tasks = project.write(
        "o = Orchestrator(name='timers')\no.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    try:
        units = sorted(path.name for path in systemd_user.glob("orchestration-timers-*"))
        manifests = sorted(path.name for path in (state_home / "manifests").glob("*.json"))
        project.write(
            "o = Orchestrator(name='lines')\no.add_task('0 2 * * *', 'bash', name='t').add_script('record.sh')\n"
        )
        no_bus = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
        program = str(Path(sys.executable).with_name("orchestration"))
        result = subprocess.run(
            [program, "install", str(tasks), "--backend", "crontab"], capture_output=True, text=True, env=no_bus
        )
        assert result.returncode == 2
        assert result.stderr.startswith(
            f"Error: namespace 'timers', which {tasks} no longer defines, could not be removed from systemd, so"
            " nothing was changed: `systemctl --user` failed: Failed to connect to bus"
        ), result.stderr
        assert "Traceback" not in result.stderr
        assert "orchestration:lines" not in read_crontab()
        assert sorted(path.name for path in systemd_user.glob("orchestration-timers-*")) == units
        assert sorted(path.name for path in (state_home / "manifests").glob("*.json")) == manifests
    finally:
        cli("uninstall", "--all")
