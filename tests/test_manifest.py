"""The typed manifest: one conversion to and from JSON that gives back the same value, a format
version, and clear refusals of a manifest that is damaged, of another version, or that another
user could have changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import Project
from orchestration.compile import manifest as manifests
from orchestration.compile.environment import capture_environment
from orchestration.compile.manifest import FORMAT, Manifest
from orchestration.errors import ManifestError
from orchestration.installer.apply import compile_file

TASKS = """
from orchestration import skips, secret, template
o = Orchestrator(name='ns', keep_runs=7)
o.add_task('*/5 9-17 * * mon-fri', 'bash', name='a', timeout=30, overlap='queue', retries=2, jitter=90,
           env={'PLAIN': 'v', 'PORT': 8080, 'TOKEN': secret('t')}) \\
    .add_script('record.sh', {'plain': 'x', 'flag': True, 'key': secret('s', argument=False)}) \\
    .add_repeat('record.sh', [{'day': template('{{ today }}')}, {'day': 'fixed'}]) \\
    .add_skip(skips.weekend()).add_skip(lambda: False).add_skip(True)
o.add_task('@reboot', 'python', name='b').add_repeat('record.py', lambda: [{'n': 1}])
"""


@pytest.fixture
def compiled(project: Project, state_home: Path) -> Manifest:
    [manifest] = compile_file(project.write(TASKS), capture_environment(state_home))
    return manifest.placed("crontab", "user")


def test_json_gives_back_the_same_manifest(compiled: Manifest) -> None:
    assert Manifest.from_json(compiled.to_json()) == compiled
    assert compiled.to_json() == Manifest.from_json(compiled.to_json()).to_json()  # stable bytes


def test_what_the_json_holds(compiled: Manifest) -> None:
    data = json.loads(compiled.to_json())
    assert data["format"] == FORMAT
    task = data["tasks"]["a"]
    assert task["timing"]["expression"] == "*/5 9-17 * * mon-fri"
    assert task["timing"]["fields"]["weekdays"] == [1, 2, 3, 4, 5]
    assert task["timing"]["fields"]["wildcard"] is True
    assert task["timing"]["zone"] is None
    assert task["policy"] == {
        "timeout": 30,
        "overlap": "queue",
        "retries": 2,
        "retry_delay": 0,
        "catch_up": False,
        "jitter": 90,
    }
    assert task["environment"] == {"PLAIN": "v", "PORT": "8080", "TOKEN": {"value": "t", "secret": True}}
    assert data["tasks"]["b"]["environment"] == {}
    assert task["retention"]["keep_runs"] == 7
    assert task["steps"][0]["runs"] == [
        {"plain": "x", "flag": "true", "key": {"value": "s", "secret": True, "argument": False}}
    ]
    assert task["steps"][1]["runs"][0] == {"day": {"template": "{{ today }}"}}
    assert [skip["kind"] for skip in task["skips"]] == ["builtin", "callable", "static"]
    assert data["tasks"]["b"]["timing"]["fields"] is None
    assert data["tasks"]["b"]["steps"][0]["runs_from"] == "<lambda>()"
    masked = json.loads(compiled.to_json(masked=True))
    assert masked["tasks"]["a"]["steps"][0]["runs"][0]["key"]["value"] == "***"
    assert masked["tasks"]["a"]["environment"]["TOKEN"] == {"value": "***", "secret": True}


@pytest.mark.parametrize("version, which", [(FORMAT + 1, "a newer"), (1, "an older")])
def test_another_format_is_refused_with_what_to_do(compiled: Manifest, version: int, which: str) -> None:
    data = json.loads(compiled.to_json())
    data["format"] = version
    with pytest.raises(ManifestError) as raised:
        Manifest.from_json(json.dumps(data), "manifest m.json")
    assert str(raised.value) == (
        f"manifest m.json has format {version}, and this version of orchestration reads format {FORMAT}:"
        f" it was written by {which} version; reinstall it with `orchestration install TASKS_FILE` with"
        " the orchestration you mean to run it with"
    )


@pytest.mark.parametrize(
    "damage, detail",
    [
        (lambda data: data["tasks"]["a"].pop("policy"), "'policy' is missing or not a dict"),
        (lambda data: data["tasks"]["a"]["timing"]["fields"].pop("hours"), "'hours' is missing or not a list"),
        (
            lambda data: data["tasks"]["a"]["policy"].update(colour="red"),
            "RunPolicy: unexpected or repeated field 'colour'",
        ),
        (lambda data: data["tasks"]["a"]["skips"][0].update(kind="magic"), "unknown kind of skip condition 'magic'"),
    ],
)
def test_a_damaged_manifest_says_where(compiled: Manifest, damage, detail: str) -> None:
    data = json.loads(compiled.to_json())
    damage(data)
    with pytest.raises(ManifestError) as raised:
        Manifest.from_json(json.dumps(data), "manifest m.json")
    assert str(raised.value).startswith("manifest m.json is damaged (")
    assert detail in str(raised.value)
    assert str(raised.value).endswith("; reinstall it with `orchestration install TASKS_FILE`")
    with pytest.raises(ManifestError, match="is not valid JSON"):
        Manifest.from_json("{", "manifest m.json")


def test_a_manifest_others_can_write_is_not_read(compiled: Manifest, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(compiled.to_json())
    path.chmod(0o600)
    assert manifests.read(path) == compiled
    path.chmod(0o620)
    with pytest.raises(ManifestError, match=r"can be written by group or others \(mode 620\); nothing was run"):
        manifests.read(path)
    path.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(path, 65534, -1)
        with pytest.raises(ManifestError, match="belongs to uid 65534, not to uid 0 who runs it; nothing was run"):
            manifests.read(path)


def test_a_run_reads_its_own_task_alone(compiled: Manifest, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    text = compiled.to_json()
    path.write_text(text)
    path.chmod(0o600)
    first, *task_lines = text.splitlines(keepends=True)
    # The first line holds everything but the tasks, and where each task's object lies after it.
    assert first.endswith(', "tasks": {\n') and len(task_lines) == len(compiled.tasks) + 1
    index = json.loads(first[: -len(', "tasks": {\n')] + "}")["index"]
    body = "".join(task_lines).encode()
    for task_id, (offset, length) in index.items():
        assert json.loads(body[offset : offset + length]) == json.loads(text)["tasks"][task_id]
        alone = manifests.read(path, task_id)
        assert alone == compiled.replace(tasks={task_id: compiled.task(task_id)})
    assert manifests.read(path, "nope").tasks == {}
    assert manifests.read(path) == compiled


def test_a_manifest_without_an_index_is_read_whole(compiled: Manifest, tmp_path: Path) -> None:
    """Manifests written before the index: one line of JSON."""
    data = json.loads(compiled.to_json())
    del data["index"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data) + "\n")
    path.chmod(0o600)
    assert manifests.read(path, "a") == compiled
    assert manifests.read(path) == compiled


def test_a_manifest_edited_by_hand_is_read_whole(compiled: Manifest, tmp_path: Path) -> None:
    """An edit that moves the tasks' objects makes the index wrong: the file is then read whole."""
    text = compiled.to_json()
    path = tmp_path / "m.json"
    path.write_text(text.replace('"plain": "x"', '"plain": "longer"'))
    path.chmod(0o600)
    [step] = manifests.read(path, "b").task("b").steps  # after the edit: its index is off
    assert step.runs_from == "<lambda>()"
    edited = manifests.read(path, "a")
    assert edited.task("a").steps[0].runs[0]["plain"].text == "longer"
    assert edited == manifests.read(path)  # read whole: the index no longer says where "a" ends
