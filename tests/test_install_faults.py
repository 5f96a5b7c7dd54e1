"""Installs under faults: a failure or a kill at every point of an install leaves the previous
crontab, units and manifests (or, past the switch, the new ones) and never a mix; parallel
installs are serialised; hand-edited fences are detected and never cost a foreign line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab, write_crontab
from orchestration.cli import main
from orchestration.targets.crontab import find_block

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")

PROGRAM = str(Path(sys.executable).with_name("orchestration"))
V1 = "o = Orchestrator(name='atom')\no.add_task('0 1 * * *', 'bash', name='a').add_script('record.sh', {'v': '1'})\n"
V2 = (
    "o = Orchestrator(name='atom')\no.add_task('0 2 * * *', 'bash', name='a').add_script('record.sh', {'v': '2'})\n"
    "o.add_task('0 3 * * *', 'bash', name='b').add_script('record.sh')\n"
)


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def install_in_subprocess(tasks: Path, *extra: str, crash_at: str | None = None, how: str = "raise"):
    env = {**os.environ}
    if crash_at:
        env.update(ORCHESTRATION_CRASH_AT=crash_at, ORCHESTRATION_CRASH_HOW=how)
    return subprocess.run([PROGRAM, "install", str(tasks), *extra], capture_output=True, text=True, env=env)


def snapshot(state: Path, unit_dir: Path | None = None) -> dict:
    """Everything an install can touch: the manifest files, and the crontab or our unit files."""
    manifests = {p.name: p.read_text() for p in sorted((state / "manifests").glob("*.json"))}
    if unit_dir is None:
        return {"crontab": read_crontab(), "manifests": manifests}
    units = {p.name: p.read_text() for p in sorted(unit_dir.glob("orchestration-atom-*"))} if unit_dir.is_dir() else {}
    return {"units": units, "manifests": manifests}


def assert_consistent(state: Path, rendered_in: str) -> dict:
    """The entries name a manifest file that exists and holds exactly the tasks they run."""
    [listing] = [json.loads(cli("list", "--json").output)]
    named = {item["task"]: item["schedule"] for item in listing if item["namespace"] == "atom"}
    referenced = [name for name in os.listdir(state / "manifests") if name in rendered_in]
    assert len(referenced) == 1, (referenced, rendered_in)
    manifest = json.loads((state / "manifests" / referenced[0]).read_text())
    assert {task: entry["timing"]["expression"] for task, entry in manifest["tasks"].items()} == named
    for task in named:
        assert f"{referenced[0]} {task}" in rendered_in or f"{referenced[0]}' {task}" in rendered_in
    return named


CRONTAB_POINTS = ["manifest-written", "entries-written", "entries-applied"]


@pytest.mark.parametrize("point", CRONTAB_POINTS)
def test_a_failure_at_any_point_leaves_the_previous_install(
    real_crontab, project: Project, state_home: Path, point: str
) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    before = snapshot(state_home)
    project.write(V2)
    result = install_in_subprocess(tasks, "--backend", "crontab", crash_at=point)
    assert result.returncode != 0 and f"crash point {point}" in result.stderr
    assert snapshot(state_home) == before


# One file, two namespaces: 'kept' never changes, 'atom' is defined as the environment says, so
# the file's bytes (part of every manifest) stay the same and 'kept' is left in place.
KEPT_AND_ATOM = """
import os
k = Orchestrator(name='kept')
k.add_task('0 4 * * *', 'bash', name='k').add_script('record.sh')
if os.environ.get('ATOM'):
    o = Orchestrator(name='atom')
    o.add_task('0 1 * * *', 'bash', name='a').add_script('record.sh', {'v': os.environ['ATOM']})
"""


@pytest.mark.parametrize("point", CRONTAB_POINTS)
def test_a_failure_after_a_namespace_left_in_place_leaves_it_installed(
    real_crontab, project: Project, state_home: Path, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = project.write(KEPT_AND_ATOM)
    monkeypatch.setenv("ATOM", "1")
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    before = snapshot(state_home)
    monkeypatch.setenv("ATOM", "2")  # 'kept' is in place and staged first; 'atom' changes and fails
    result = install_in_subprocess(tasks, "--backend", "crontab", crash_at=point)
    assert result.returncode != 0 and f"crash point {point}" in result.stderr
    assert snapshot(state_home) == before


def test_a_failed_removal_of_a_namespace_the_file_no_longer_defines_changes_nothing(
    real_crontab, project: Project, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = project.write(KEPT_AND_ATOM)
    monkeypatch.setenv("ATOM", "1")
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    before = snapshot(state_home)
    monkeypatch.delenv("ATOM")  # 'kept' stays in place; removing 'atom' fails as the crontab is written
    result = install_in_subprocess(tasks, "--backend", "crontab", crash_at="entries-written")
    assert result.returncode != 0 and "crash point entries-written" in result.stderr
    assert snapshot(state_home) == before
    assert "Removed namespace 'atom'" in install_in_subprocess(tasks, "--backend", "crontab").stdout
    assert find_block(read_crontab(), "atom") is None and find_block(read_crontab(), "kept") is not None


@pytest.mark.parametrize("point", CRONTAB_POINTS)
def test_a_kill_at_any_point_leaves_entries_with_the_manifest_they_name(
    real_crontab, project: Project, state_home: Path, point: str
) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    project.write(V2)
    result = install_in_subprocess(tasks, "--backend", "crontab", crash_at=point, how="kill")
    assert result.returncode == -9
    named = assert_consistent(state_home, find_block(read_crontab(), "atom"))
    assert named in ({"a": "0 1 * * *"}, {"a": "0 2 * * *", "b": "0 3 * * *"})
    assert read_crontab().startswith(real_crontab)
    # The next install finishes the job and leaves one manifest file.
    assert install_in_subprocess(tasks, "--backend", "crontab").returncode == 0
    assert assert_consistent(state_home, find_block(read_crontab(), "atom")) == {"a": "0 2 * * *", "b": "0 3 * * *"}
    assert len(list((state_home / "manifests").glob("atom.*.json"))) == 1


SYSTEMD_POINTS = ["manifest-written", "entries-written", "manager-reloaded", "entries-applied"]


@pytest.mark.parametrize("how", ["raise", "kill"])
@pytest.mark.parametrize("point", SYSTEMD_POINTS)
def test_systemd_installs_survive_failures_and_kills(
    systemd_user: Path, project: Project, state_home: Path, point: str, how: str
) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    before = snapshot(state_home, systemd_user)
    project.write(V2)
    result = install_in_subprocess(tasks, "--backend", "systemd", crash_at=point, how=how)
    assert result.returncode != 0
    if how == "raise":
        assert snapshot(state_home, systemd_user) == before
    units = "".join(p.read_text() for p in systemd_user.glob("orchestration-atom-*.service"))
    assert_consistent(state_home, units.replace('"', "'"))
    assert install_in_subprocess(tasks, "--backend", "systemd").returncode == 0
    assert cli("uninstall", "--name", "atom").exit_code == 0
    assert not list(systemd_user.glob("orchestration-atom-*"))


def test_moving_between_backends_fails_back_to_where_it_was(
    systemd_user: Path, real_crontab, project: Project, state_home: Path
) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    before = snapshot(state_home), snapshot(state_home, systemd_user)
    result = install_in_subprocess(tasks, "--backend", "systemd", crash_at="previous-removed")
    assert result.returncode != 0
    assert (snapshot(state_home), snapshot(state_home, systemd_user)) == before
    assert cli("uninstall", "--name", "atom").exit_code == 0


def test_parallel_installs_of_many_namespaces_all_land(real_crontab, project: Project, tmp_path: Path) -> None:
    files = []
    for number in range(12):
        files.append(
            project.write(
                f"o = Orchestrator(name='par{number}')\no.add_task('{number} 1 * * *', 'bash', name='t').add_script('record.sh')\n",
                name=f"tasks{number}.py",
            )
        )

    def install(index: int) -> int:
        # Half of them with a state directory of their own: one crontab, different homes.
        env = {**os.environ, "ORCHESTRATION_HOME": str(tmp_path / f"home{index % 2}")}
        return subprocess.run(
            [PROGRAM, "install", str(files[index]), "--backend", "crontab"], capture_output=True, env=env
        ).returncode

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert list(pool.map(install, range(12))) == [0] * 12
    crontab = read_crontab()
    assert crontab.startswith(real_crontab)
    for number in range(12):
        assert f"# orchestration:par{number}:t" in crontab

    def uninstall(index: int) -> int:
        env = {**os.environ, "ORCHESTRATION_HOME": str(tmp_path / f"home{index % 2}")}
        return subprocess.run([PROGRAM, "uninstall", "--name", f"par{index}"], capture_output=True, env=env).returncode

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert list(pool.map(uninstall, range(12))) == [0] * 12
    assert read_crontab() == real_crontab


DAMAGES = [
    (
        "the END line deleted",
        lambda block: block.replace("# END orchestration:atom\n", ""),
        "expected one '# BEGIN orchestration:atom' line followed by one '# END orchestration:atom' line, found 1 and 0",
    ),
    (
        "a foreign job put inside the block",
        lambda block: block.replace(
            "# END orchestration:atom\n", "*/5 * * * * /usr/bin/my-job\n# END orchestration:atom\n"
        ),
        "line(s) 17 inside its block are not entries orchestration wrote; move them outside the block",
    ),
    (
        "the marker comment of an entry deleted",
        lambda block: block.replace(" # orchestration:atom:a", ""),
        "line(s) 16 inside its block are not entries orchestration wrote; move them outside the block",
    ),
]


@pytest.mark.parametrize(("what", "damage", "found"), DAMAGES, ids=[d[0] for d in DAMAGES])
def test_a_damaged_fence_stops_install_and_uninstall(
    real_crontab, project: Project, state_home: Path, what, damage, found
) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    block = find_block(read_crontab(), "atom")
    damaged = real_crontab + damage(block)
    write_crontab(damaged)
    for args in (["install", str(tasks)], ["uninstall", "--name", "atom"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.output == (
            f"Error: the crontab block of namespace 'atom' was edited by hand: {found}.\n"
            "Nothing was changed. Repair it with `crontab -e`: keep your own lines outside the block,"
            " and either restore the block or delete every line from '# BEGIN orchestration:atom' to"
            " '# END orchestration:atom' (and any line ending in '# orchestration:atom:...'), then"
            " run the command again.\n"
        )
        assert read_crontab() == damaged


def test_our_entry_outside_the_block_is_reported(real_crontab, project: Project, state_home: Path) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    crontab = read_crontab()
    entry = next(line for line in crontab.splitlines() if line.endswith("# orchestration:atom:a"))
    moved = crontab.replace(entry + "\n", "") + entry + "\n"
    write_crontab(moved)
    result = CliRunner().invoke(main, ["install", str(tasks)])
    assert result.exit_code == 2
    assert "line(s) 17 carry its marker outside its block" in result.output
    assert read_crontab() == moved


def test_an_edited_entry_is_reported_and_replaced(real_crontab, project: Project, state_home: Path) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    installed = read_crontab()
    write_crontab(installed.replace("0 1 * * * ", "30 1 * * * "))
    result = CliRunner().invoke(main, ["install", str(tasks)])
    assert result.exit_code == 0
    entry = next(line for line in installed.splitlines() if line.startswith("0 1 * * * "))
    assert result.stderr == (
        f"Warning: the crontab entries of namespace 'atom' were changed by hand (deleted: {entry};"
        f" added: {entry.replace('0 1 * * * ', '30 1 * * * ')}); they are replaced by what {tasks} defines\n"
    )
    assert read_crontab() == installed


def test_lines_moved_by_hand_are_said_as_such(real_crontab, project: Project, state_home: Path) -> None:
    tasks = project.write(V2)
    assert cli("install", str(tasks), "--backend", "crontab").exit_code == 0
    installed = read_crontab()
    lines = installed.splitlines(keepends=True)
    first, second = (n for n, line in enumerate(lines) if "# orchestration:atom:" in line)
    lines[first], lines[second] = lines[second], lines[first]
    write_crontab("".join(lines))
    status = cli("status").output
    assert "its crontab entries were changed by hand (lines moved)" in status
    removed = CliRunner().invoke(main, ["uninstall", str(tasks)])
    assert removed.stderr == (
        "Warning: the crontab entries of namespace 'atom' were changed by hand (lines moved); they are removed\n"
    )
    assert "orchestration:atom" not in read_crontab()


def test_deleted_and_edited_unit_files_are_reported_and_restored(
    systemd_user: Path, project: Project, state_home: Path
) -> None:
    tasks = project.write(V1)
    assert cli("install", str(tasks), "--backend", "systemd").exit_code == 0
    timer = systemd_user / "orchestration-atom-a.timer"
    original = timer.read_text()
    timer.write_text(original.replace("OnCalendar=*-*-* 01:00:00", "OnCalendar=*-*-* 05:00:00"))
    result = CliRunner().invoke(main, ["install", str(tasks)])
    assert result.stderr.startswith(
        "Warning: the systemd entries of namespace 'atom' were changed by hand"
        " (edited: orchestration-atom-a.timer); they are replaced by what"
    )
    assert timer.read_text() == original
    timer.unlink()
    result = CliRunner().invoke(main, ["install", str(tasks)])
    assert result.stderr.startswith(
        "Warning: the systemd entries of namespace 'atom' were changed by hand"
        " (deleted: orchestration-atom-a.timer); they are replaced by what"
    )
    assert timer.read_text() == original
    assert cli("uninstall", "--name", "atom").exit_code == 0


def test_a_crontab_that_is_not_utf8_is_carried_byte_for_byte(real_crontab, project: Project) -> None:
    before = real_crontab.encode() + b"# caf\xe9 in Latin-1\n"
    subprocess.run(["crontab", "-"], input=before, check=True)
    assert CliRunner().invoke(main, ["install", str(project.write(V1)), "--backend", "crontab"]).exit_code == 0
    after = subprocess.run(["crontab", "-l"], capture_output=True).stdout
    assert after.startswith(before) and b"# BEGIN orchestration:atom" in after
    assert cli("uninstall", "--name", "atom").exit_code == 0
    assert subprocess.run(["crontab", "-l"], capture_output=True).stdout == before
