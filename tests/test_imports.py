"""What the shim imports on a firing, seen from outside: the console script `orchestration-exec`
that pip wrote (its wrapper included) runs a task in a fresh interpreter under `-X importtime`,
which lists every module imported. A task without functions or templates loads the standard
library and the runtime's own modules only; jinja2 comes with a template, the definitions with a
function of the tasks file."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Project
from orchestration.api import compile_file
from orchestration.compile.environment import capture_environment
from orchestration.installer import manifests

EXEC = str(Path(sys.executable).with_name("orchestration-exec"))

# The package modules a static run may load: the runtime and what it is allowed to read.
STATIC_RUN = {
    "orchestration",
    "orchestration.errors",
    "orchestration.frozen",
    "orchestration.state",
    "orchestration.compile",
    "orchestration.compile.manifest",
    "orchestration.rules",
    "orchestration.rules.firing",
    "orchestration.rules.policy",
    "orchestration.rules.values",
    "orchestration.rules.context",
    "orchestration.rules.conditions",
    "orchestration.runtime",
    "orchestration.runtime.exec",
    "orchestration.runtime.gate",
    "orchestration.runtime.run",
    "orchestration.runtime.catchup",
    "orchestration.runtime.conditions",
    "orchestration.runtime.environment",
    "orchestration.runtime.fallback",
    "orchestration.runtime.inputs",
    "orchestration.runtime.journal",
    "orchestration.runtime.overlap",
    "orchestration.runtime.parameters",
    "orchestration.runtime.recorder",
    "orchestration.runtime.records",
    "orchestration.runtime.supervise",
    "orchestration.runtime.transcript",
}

TASKS = """
from orchestration import skips, secret, template
o = Orchestrator(name='ns')
o.add_task('0 1 * * *', 'bash', name='static').add_script('record.sh', {'a': 'x', 'key': secret('s')}) \\
    .add_skip(False).add_skip(skips.all_of(skips.weekend(), skips.weekdays(), skips.previous_failed()))
o.add_task('0 1 * * *', 'bash', name='templated').add_script('record.sh', {'day': template('{{ today }}')})
o.add_task('0 1 * * *', 'bash', name='jinja').add_script('record.sh', {'day': template('{{ today | string | upper }}')})
o.add_task('0 1 * * *', 'bash', name='function').add_script('record.sh', {'n': lambda: 1})
"""

# A namespace with notifications (the shim reads a namespace's manifest whole).
NOTIFYING = """
from orchestration import notify
o = Orchestrator(name='alerts')
o.add_task('0 1 * * *', 'bash', name='quiet', notify=notify.on_skip(notify.webhook('http://127.0.0.1:9/x'))) \
    .add_script('record.sh')
o.add_task('0 1 * * *', 'bash', name='notified', notify=notify.on_success(notify.webhook('http://127.0.0.1:9/x'),
           notify.email('root'))).add_script('record.sh')
"""


def written(project: Project, state_home: Path, tasks: str, name: str = "tasks.py") -> Path:
    """The tasks' manifest, written where an install writes it (no scheduler is involved)."""
    [compiled] = compile_file(project.write(tasks, name), capture_environment(state_home))
    placed = compiled.placed("crontab", "user")
    path = manifests.versioned_path(state_home, placed)
    manifests.write(path, placed)
    return path


@pytest.fixture
def manifest(project: Project, state_home: Path) -> Path:
    return written(project, state_home, TASKS)


def imported_by_a_firing(manifest: Path, task: str) -> set[str]:
    """Every module a run of `task` through the console script imports (not the interpreter's own
    start-up, which `python -c pass` pays too)."""
    baseline = _imported([sys.executable, "-X", "importtime", "-c", "pass"])
    return _imported([sys.executable, "-X", "importtime", EXEC, str(manifest), task]) - baseline


def _imported(argv: list[str]) -> set[str]:
    result = subprocess.run(argv, capture_output=True, text=True, cwd="/")
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")} - {
        "package"
    }


def ours_and_others(modules: set[str]) -> tuple[set[str], set[str]]:
    """Our modules, and those from outside the standard library (not counting what the standard
    library only tries, such as copy's `org.python.core` for Jython)."""
    ours = {name for name in modules if name == "orchestration" or name.startswith("orchestration.")}
    others = {
        name
        for name in modules - ours
        if name.split(".")[0] not in sys.stdlib_module_names and importlib.util.find_spec(name.split(".")[0])
    }
    return ours, others


# Standard modules that would cost a static firing milliseconds, and that it does not need.
COSTLY = {"typing", "dataclasses", "inspect", "pathlib", "hashlib", "subprocess"}


def test_a_static_task_loads_the_standard_library_and_the_runtime_only(manifest: Path) -> None:
    imported = imported_by_a_firing(manifest, "static")
    ours, others = ours_and_others(imported)
    assert others == set()
    assert imported & COSTLY == set()
    assert ours <= STATIC_RUN, sorted(ours - STATIC_RUN)
    assert "orchestration.runtime.exec" in ours  # the probe saw the run


NOTIFY_RUN = {"orchestration.rules.notify", "orchestration.runtime.notify", "orchestration.runtime.delivery"}


def test_a_task_with_notifications_adds_them_and_the_http_client_only_when_it_sends(
    project: Project, state_home: Path
) -> None:
    """A webhook for skips on a run that is not skipped: the notification modules, but no HTTP
    client; a webhook that sends (to a closed port on loopback): the standard library's client.
    (A namespace without notifications loads none of them: the test above.)"""
    manifest = written(project, state_home, NOTIFYING, "alerts.py")
    imported = imported_by_a_firing(manifest, "quiet")
    ours, others = ours_and_others(imported)
    assert ours - STATIC_RUN == NOTIFY_RUN
    assert others == set()
    assert "urllib.request" not in imported
    imported = imported_by_a_firing(manifest, "notified")
    ours, others = ours_and_others(imported)
    assert ours - STATIC_RUN == NOTIFY_RUN
    assert others == set()
    assert {"urllib.request", "http.client", "subprocess", "email.message"} <= imported


def test_a_template_adds_jinja2_and_a_function_adds_the_definitions(manifest: Path) -> None:
    imported = imported_by_a_firing(manifest, "templated")
    ours, others = ours_and_others(imported)
    assert ours - STATIC_RUN == {"orchestration.rules.quick_templates"}  # a simple template: no jinja2
    assert others == set() and imported & COSTLY == set()
    ours, others = ours_and_others(imported_by_a_firing(manifest, "jinja"))
    assert ours - STATIC_RUN == {"orchestration.rules.quick_templates", "orchestration.rules.templates"}
    assert {name.split(".")[0] for name in others} == {"jinja2", "markupsafe"}
    imported = imported_by_a_firing(manifest, "function")
    ours, others = ours_and_others(imported)
    assert {"orchestration.define.orchestrator", "orchestration.runtime.usercode"} <= ours
    # The definitions are records of our own and a plain function's arguments are read from its
    # code: loading the tasks file for a lambda costs neither dataclasses, inspect nor typing.
    assert imported & {"dataclasses", "inspect", "typing"} == set()
    assert not {"click", "croniter", "crontab"} & {name.split(".")[0] for name in others}
