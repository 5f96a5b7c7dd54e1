"""Installing into the real crontab through the CLI: the block, foreign lines kept byte for byte,
idempotence, edits, dry runs, uninstall, identity, and the listing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import Project, manifest_file, read_crontab
from orchestration.cli import main
from orchestration.targets.crontab import find_block

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")

TWO_TASKS = """
o = Orchestrator(name="demo")
o.add_task("*/5 * * * *", "bash", name="fetch").add_script("record.sh", {"url": "https://x"})
o.add_task("0 3 * * *", "python", name="report").add_script("record.py")
"""


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_install_writes_one_readable_block_and_keeps_every_foreign_line(real_crontab: str, project: Project) -> None:
    tasks = project.write(TWO_TASKS)
    result = invoke("install", str(tasks))
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Installed namespace 'demo' (crontab) from {tasks}:\n"
        "  + fetch  */5 * * * *  (every 5 minutes)\n"
        "  + report  0 3 * * *  (at 03:00)\n"
        "  2 added, 0 changed, 0 removed, 0 unchanged.\n"
    )
    crontab = read_crontab()
    assert crontab.startswith(real_crontab)
    block = crontab[len(real_crontab) :]
    assert block == find_block(crontab, "demo")
    lines = block.splitlines()
    assert lines[0] == "# BEGIN orchestration:demo"
    assert lines[1] == f"# Installed by orchestration from {tasks}; edit that file, not these lines."
    assert lines[2].endswith(f"orchestration install {tasks}")
    assert lines[3].endswith("orchestration uninstall --name demo")
    assert lines[4] == "# Task fetch: every 5 minutes (*/5 * * * *)"
    manifest = manifest_file(project.root.parent / "state", "demo")
    assert lines[5].startswith("*/5 * * * * /")
    assert lines[5].endswith(f"/orchestration-exec {manifest} fetch # orchestration:demo:fetch")
    assert lines[-1] == "# END orchestration:demo"
    assert "https://x" not in crontab  # parameter values live in the manifest only
    assert manifest.stat().st_mode & 0o777 == 0o600
    assert json.loads(manifest.read_text())["tasks"]["fetch"]["steps"][0]["runs"] == [{"url": "https://x"}]


def test_installing_the_same_file_again_changes_nothing(real_crontab: str, project: Project) -> None:
    tasks = project.write(TWO_TASKS)
    invoke("install", str(tasks))
    before = read_crontab()
    manifest = manifest_file(project.root.parent / "state", "demo")
    modified = manifest.stat().st_mtime_ns
    result = invoke("install", str(tasks))
    assert result.output == (f"Namespace 'demo' (crontab) is up to date with {tasks}; nothing changed.\n")
    assert read_crontab() == before
    assert manifest.stat().st_mtime_ns == modified


def test_an_edited_file_brings_the_block_in_line(real_crontab: str, project: Project) -> None:
    tasks = project.write(TWO_TASKS)
    invoke("install", str(tasks))
    project.write(
        """
o = Orchestrator(name="demo")
o.add_task("*/10 * * * *", "bash", name="fetch").add_script("record.sh", {"url": "https://x"})
o.add_task("@hourly", "bash", name="clean").add_script("record.sh")
"""
    )
    result = invoke("install", str(tasks))
    assert result.output == (
        f"Installed namespace 'demo' (crontab) from {tasks}:\n"
        "  + clean  @hourly  (at minute 0 of every hour)\n"
        "  ~ fetch  */10 * * * *  (every 10 minutes)\n"
        "  - report\n"
        "  1 added, 1 changed, 1 removed, 0 unchanged.\n"
    )
    block = find_block(read_crontab(), "demo")
    assert "*/10 * * * * " in block and "# orchestration:demo:clean" in block
    assert "report" not in block
    assert read_crontab().startswith(real_crontab)


def test_a_namespace_the_file_no_longer_defines_is_removed_by_its_install(real_crontab: str, project: Project) -> None:
    tasks = project.write(
        TWO_TASKS + TWO_TASKS.replace('"demo"', '"second"').replace("o = ", "p = ").replace("o.", "p.")
    )
    other = project.write(TWO_TASKS.replace('"demo"', '"other"'), name="other.py")
    invoke("install", str(tasks))
    invoke("install", str(other))
    project.write(TWO_TASKS.replace('"demo"', '"renamed"'))  # one renamed, the other deleted
    state = project.root.parent / "state"
    planned = invoke("install", str(tasks), "--dry-run", "--json")
    plan = {item["namespace"]: item for item in json.loads(planned.output)["namespaces"]}
    assert sorted(plan) == ["demo", "renamed", "second"]
    assert plan["demo"]["no_longer_defined"] and plan["demo"]["removed"] == ["fetch", "report"]
    assert not plan["renamed"]["no_longer_defined"]
    assert find_block(read_crontab(), "demo") is not None  # a dry run writes nothing
    result = invoke("install", str(tasks))
    assert result.exit_code == 0, result.output
    assert (
        f"Removed namespace 'demo' (crontab): {tasks} no longer defines it:\n  - fetch\n  - report\n" in result.output
    )
    assert f"Removed namespace 'second' (crontab): {tasks} no longer defines it:\n" in result.output
    crontab = read_crontab()
    assert find_block(crontab, "demo") is None and find_block(crontab, "second") is None
    assert find_block(crontab, "renamed") is not None and find_block(crontab, "other") is not None
    assert crontab.startswith(real_crontab)
    assert sorted(path.name.split(".")[0] for path in (state / "manifests").glob("*.json")) == ["other", "renamed"]
    assert invoke("install", str(tasks)).output == (
        f"Namespace 'renamed' (crontab) is up to date with {tasks}; nothing changed.\n"
    )


def test_python_tasks_py_names_the_other_namespaces_of_its_file_and_leaves_them(
    real_crontab: str, project: Project
) -> None:
    import subprocess
    import sys

    tasks = project.write(TWO_TASKS)
    invoke("install", str(tasks))
    project.write(TWO_TASKS.replace('"demo"', '"renamed"') + "o.execute_tasks(follow=False)\n")
    ran = subprocess.run([sys.executable, str(tasks)], capture_output=True, text=True, cwd=project.root)
    assert ran.returncode == 0, ran.stderr
    assert (
        f"Warning: namespace 'demo' is installed from {tasks} too; if the file no longer defines it (a renamed"
        f" Orchestrator), `orchestration install {tasks}` removes it.\n"
    ) in ran.stdout
    assert find_block(read_crontab(), "demo") is not None  # one Orchestrator cannot tell: it stays
    assert "Removed namespace 'demo'" in invoke("install", str(tasks)).output
    assert find_block(read_crontab(), "demo") is None


def test_dry_run_prints_the_changes_and_writes_nothing(real_crontab: str, project: Project) -> None:
    tasks = project.write(TWO_TASKS)
    result = invoke("install", str(tasks), "--dry-run")
    assert result.exit_code == 0
    assert result.output.startswith(f"Would install namespace 'demo' (crontab) from {tasks}:\n")
    assert result.output.endswith("Dry run: nothing was written.\n")
    assert read_crontab() == real_crontab
    assert not list((project.root.parent / "state" / "manifests").glob("demo.*"))


def test_uninstall_restores_the_crontab_byte_for_byte(real_crontab: str, project: Project) -> None:
    tasks = project.write(TWO_TASKS)
    invoke("install", str(tasks))
    other = project.write(TWO_TASKS.replace('"demo"', '"other"'), name="other.py")
    invoke("install", str(other))
    result = invoke("uninstall", str(tasks))
    assert result.output == "Removed namespace 'demo' (crontab): 2 task(s) fetch, report\n"
    assert find_block(read_crontab(), "demo") is None
    assert find_block(read_crontab(), "other") is not None
    result = invoke("uninstall", "--name", "other")
    assert result.exit_code == 0
    assert read_crontab() == real_crontab
    assert not list((project.root.parent / "state" / "manifests").glob("*.json"))


def test_uninstall_all_and_nothing_installed(real_crontab: str, project: Project) -> None:
    invoke("install", str(project.write(TWO_TASKS)))
    invoke("install", str(project.write(TWO_TASKS.replace('"demo"', '"other"'), name="other.py")))
    assert invoke("uninstall", "--all").output == (
        "Removed namespace 'demo' (crontab): 2 task(s) fetch, report\n"
        "Removed namespace 'other' (crontab): 2 task(s) fetch, report\n"
    )
    assert read_crontab() == real_crontab
    assert invoke("uninstall", "--all").output == "Nothing is installed.\n"
    result = CliRunner().invoke(main, ["uninstall", "--name", "demo"])
    assert result.exit_code == 2
    assert result.output == "Error: namespace 'demo' is not installed; `orchestration list` shows what is\n"


def test_a_namespace_belongs_to_the_file_it_was_installed_from(real_crontab: str, project: Project) -> None:
    first = project.write(TWO_TASKS)
    invoke("install", str(first))
    second = project.write(TWO_TASKS, name="copy.py")
    result = CliRunner().invoke(main, ["install", str(second)])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: namespace 'demo' is installed from {first}, not from {second}\n"
        "Uninstall it first (`orchestration uninstall --name demo`), or give this file its own"
        " namespace with Orchestrator(name='...').\n"
    )
    manifest = json.loads(manifest_file(project.root.parent / "state", "demo").read_text())
    assert manifest["tasks_file"] == str(first)  # the first install stays


def test_unnamed_orchestrator_gets_a_namespace_from_its_file(real_crontab: str, project: Project) -> None:
    tasks = project.write('o = Orchestrator()\no.add_task("0 1 * * *", "bash").add_script("record.sh")\n')
    invoke("install", str(tasks))
    listing = json.loads(invoke("list", "--json").output)
    assert len(listing) == 1
    namespace = listing[0]["namespace"]
    assert namespace.startswith("tasks-") and len(namespace) == len("tasks-") + 6
    assert listing[0]["task"] == "record"
    assert f"# orchestration:{namespace}:record" in read_crontab()


def test_list_shows_schedule_next_time_backend_and_file(real_crontab: str, project: Project) -> None:
    tasks = project.write(TWO_TASKS)
    invoke("install", str(tasks))
    listing = json.loads(invoke("list", "--json").output)
    assert [
        (item["namespace"], item["task"], item["schedule"], item["backend"], item["tasks_file"]) for item in listing
    ] == [
        ("demo", "fetch", "*/5 * * * *", "crontab", str(tasks)),
        ("demo", "report", "0 3 * * *", "crontab", str(tasks)),
    ]
    assert listing[1]["next"].endswith(("T03:00:00+00:00", "T03:00:00Z")) or "T03:00:00" in listing[1]["next"]
    table = invoke("list").output.splitlines()
    assert table[0].split() == ["TASK", "SCHEDULE", "WHEN", "NEXT", "LAST", "BACKEND", "TASKS", "FILE"]
    assert table[2].startswith("demo/report  0 3 * * *")
    assert table[2].rstrip().endswith(f"-     crontab  {tasks}")


def test_compile_prints_the_block_and_touches_nothing(real_crontab: str, project: Project) -> None:
    tasks = project.write(TWO_TASKS)
    result = invoke("compile", str(tasks), "--target", "crontab")
    assert result.output.startswith("# BEGIN orchestration:demo\n")
    assert result.output.endswith("# END orchestration:demo\n")
    assert read_crontab() == real_crontab
    assert not (project.root.parent / "state").exists()


def test_a_new_secret_keeps_the_manifest_name_and_reaches_the_next_run(
    real_crontab, project: Project, monkeypatch
) -> None:
    state = project.root.parent / "state"
    tasks = project.write(
        "import os\nfrom orchestration import secret\no = Orchestrator(name='sec')\n"
        "o.add_task('0 1 * * *', 'bash', name='t').add_script('record.sh', {'token': secret(os.environ['TOKEN'])})\n"
    )
    monkeypatch.setenv("TOKEN", "first-secret")
    invoke("install", str(tasks))
    name = manifest_file(state, "sec").name
    monkeypatch.setenv("TOKEN", "second-secret")
    result = invoke("install", str(tasks))
    assert "  ~ t  0 1 * * *" in result.output
    assert manifest_file(state, "sec").name == name  # the name, seen in `ps`, owes nothing to the secret
    assert "second-secret" in manifest_file(state, "sec").read_text()
    assert "first-secret" not in manifest_file(state, "sec").read_text()
    assert invoke("run", "sec/t").exit_code == 0
    assert project.records()[-1]["argv"] == ["second-secret"]
