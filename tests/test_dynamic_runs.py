"""Skip conditions and dynamic parameters in real runs of orchestration-exec: what the journal
records, what scripts receive, secrets kept out of every output, conditions and values that fail,
a tasks file edited after install, and what a run imports."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from conftest import Project, manifest_file, read_crontab, run_log
from orchestration.runtime.journal import Journal
from test_journal import cli, fire, install

# Every test here installs into a crontab or a user manager: only inside the private sandbox.
pytestmark = pytest.mark.usefixtures("sandbox")


def journal(state: Path) -> Journal:
    return Journal(state / "journal.sqlite3")


def newest(state: Path, task: str):
    return journal(state).runs(task=task, limit=1)[0]


BUILTINS = """
from orchestration import skips
o = Orchestrator(name='ns', verbose=True)  # each run says what it did on stdout
o.add_task('0 1 * * *', 'bash', name='arrived', interval=0).add_script('record.sh', {'step': 'arrived'}) \\
    .add_skip(skips.file_missing('inbox/data.csv'))
o.add_task('0 1 * * *', 'bash', name='always', interval=0).add_script('record.sh') \\
    .add_skip(skips.any_of(skips.weekend(), skips.weekdays()))
o.add_task('0 1 * * *', 'bash', name='holiday', interval=0).add_script('record.sh') \\
    .add_skip(False).add_skip(skips.on_dates_in_file('holidays.txt'))
o.add_task('0 1 * * *', 'bash', name='mode', interval=0).add_script('record.sh', {'step': 'mode'}) \\
    .add_skip(skips.env_equals('MODE', 'maintenance'))
o.add_task('0 1 * * *', 'bash', name='broken', interval=0).add_script('record.sh') \\
    .add_skip(skips.on_dates_in_file('missing-holidays.txt'))
o.add_task('0 1 * * *', 'bash', name='hangs', interval=0).add_script('record.sh') \\
    .add_skip(skips.command_succeeds(['sleep', '5'], timeout=0.3))
"""


def why_at(reference: str, moment: float, *extra: str) -> dict:
    when = datetime.fromtimestamp(moment).isoformat()
    result = cli("why", reference, "--at", when, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_built_in_conditions_decide_runs_and_why_agrees(
    real_crontab, project: Project, state_home: Path, monkeypatch
) -> None:
    today = date.today()
    (project.root / "holidays.txt").write_text(
        f"# ours\n{today}\n{today + timedelta(days=1)}  # in case midnight passes\n"
    )
    install(project, BUILTINS)

    def fired(task: str, **env: str) -> subprocess.CompletedProcess:
        """Fire the task, then ask `why` about the minute it was scheduled for: same decision."""
        result = fire(state_home, "ns", task, env=env)
        row = newest(state_home, task)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        explained = why_at(f"ns/{task}", row.scheduled_time)
        assert explained["conditions_outcome"] == {"ok": "run", "skipped": "skipped"}[row.status]
        assert explained["conditions"][-1]["verdict"] == {"ok": "run", "skipped": "skip"}[row.status]
        return result

    missing = fired("arrived")
    assert (missing.returncode, missing.stdout) == (
        0,
        f"orchestration ns/arrived: skipped by file {project.root}/inbox/data.csv is missing\n",
    )
    (project.root / "inbox").mkdir()
    (project.root / "inbox" / "data.csv").write_text("a,b\n")
    assert fired("arrived").returncode == 0
    assert [r["argv"] for r in project.records()] == [["arrived"]]

    always = fired("always")
    assert (
        always.stdout
        == "orchestration ns/always: skipped by weekend (Saturday or Sunday) or weekday (Monday to Friday)\n"
    )
    holiday = fired("holiday")
    assert holiday.stdout == f"orchestration ns/holiday: skipped by on a date listed in {project.root}/holidays.txt\n"
    assert fired("mode", MODE="maintenance").stdout == (
        "orchestration ns/mode: skipped by environment variable MODE is 'maintenance'\n"
    )
    assert fired("mode", MODE="normal").returncode == 0
    assert [r["argv"] for r in project.records()] == [["arrived"], ["mode"]]

    rows = journal(state_home).runs()
    assert [(r.task, r.status, r.exit_code, r.reason) for r in reversed(rows)] == [
        ("arrived", "skipped", 0, f"skipped by file {project.root}/inbox/data.csv is missing"),
        ("arrived", "ok", 0, None),
        ("always", "skipped", 0, "skipped by weekend (Saturday or Sunday) or weekday (Monday to Friday)"),
        ("holiday", "skipped", 0, f"skipped by on a date listed in {project.root}/holidays.txt"),
        ("mode", "skipped", 0, "skipped by environment variable MODE is 'maintenance'"),
        ("mode", "ok", 0, None),
    ]


def test_a_condition_that_cannot_decide_is_an_error_run(real_crontab, project: Project, state_home: Path) -> None:
    install(project, BUILTINS)
    broken = fire(state_home, "ns", "broken")
    assert broken.returncode == 1
    expected = (
        f"skip condition 'on a date listed in {project.root}/missing-holidays.txt' failed: cannot read"
        f" the dates file {project.root}/missing-holidays.txt: No such file or directory"
    )
    assert broken.stdout == f"orchestration ns/broken: error: {expected}\n"
    hangs = fire(state_home, "ns", "hangs")
    assert hangs.returncode == 1
    assert hangs.stdout == (
        "orchestration ns/hangs: error: skip condition 'command `sleep 5` succeeds' failed: command"
        " `sleep 5` did not finish within 0.3s\n"
    )
    assert project.records() == []
    rows = {row.task: row for row in journal(state_home).runs()}
    assert (rows["broken"].status, rows["broken"].exit_code, rows["broken"].reason) == ("error", 1, expected)
    assert rows["broken"].steps == [] and rows["hangs"].status == "error"
    assert run_log(rows["broken"]) == f"orchestration ns/broken: error: {expected}\n"


HISTORY = """
from orchestration import skips
o = Orchestrator(name='ns', verbose=True)  # each run says what it did on stdout
o.add_task('*/10 * * * *', 'bash', name='retry', interval=0).add_script('flaky.sh') \\
    .add_skip(skips.succeeded_today())
o.add_task('0 1 * * *', 'bash', name='careful', interval=0).add_script('flaky.sh') \\
    .add_skip(skips.previous_failed())
o.add_task('0 1 * * *', 'bash', name='peek', interval=0) \\
    .add_script('record.sh', {'previous': lambda ctx: f'{ctx.previous_status} {ctx.previous_time is not None}'})
"""


def test_conditions_on_earlier_runs_read_the_journal(real_crontab, project: Project, state_home: Path) -> None:
    flaky = project.root / "flaky.sh"
    flaky.write_text('#!/bin/bash\nexit $(cat "$(dirname "$0")/code")\n')
    code = project.root / "code"
    install(project, HISTORY)

    code.write_text("3")
    assert fire(state_home, "ns", "retry").returncode == 3
    code.write_text("0")
    assert fire(state_home, "ns", "retry").returncode == 0  # failed earlier today: tries again
    assert fire(state_home, "ns", "retry").stdout == "orchestration ns/retry: skipped by already succeeded today\n"
    assert [r.status for r in reversed(journal(state_home).runs(task="retry"))] == ["failed", "ok", "skipped"]

    code.write_text("4")
    assert fire(state_home, "ns", "careful").returncode == 4
    assert fire(state_home, "ns", "careful").stdout == "orchestration ns/careful: skipped by the previous run failed\n"
    assert fire(state_home, "ns", "careful").returncode == 4  # the previous run was skipped, not failed
    assert fire(state_home, "ns", "peek").returncode == 0
    assert fire(state_home, "ns", "peek").returncode == 0
    assert [r["argv"] for r in project.records()] == [["None False"], ["ok True"]]


DYNAMIC = """
import os
from pathlib import Path
from orchestration import template
o = Orchestrator(name='ns', verbose=True)  # each run says what it did on stdout
prefix = 'report'
def inbox(context):
    folder = Path(__file__).parent / 'inbox'
    return [{'file': path, 'n': number} for number, path in enumerate(sorted(folder.iterdir()), start=1)]
t = o.add_task('0 1 * * *', 'bash', name='dyn', interval=0)
t.add_script('record.sh', {
    'day': template('{{ yesterday }}'),
    'minute': template("{{ scheduled_time | strftime('%Y-%m-%dT%H:%M') }}"),
    'label': lambda context: f'{prefix}-{context.task}-{context.trigger}',
    'count': lambda: len(os.listdir(Path(__file__).parent / 'inbox')),
    'fixed': 'as is',
})
t.add_repeat('record.sh', inbox)
t.add_repeat('record.sh', lambda: [])
"""


def test_dynamic_parameters_are_worked_out_at_each_run(real_crontab, project: Project, state_home: Path) -> None:
    (project.root / "inbox").mkdir()
    for name in ("b.csv", "a.csv"):
        (project.root / "inbox" / name).write_text("")
    install(project, DYNAMIC)
    (project.root / "inbox" / "c.csv").write_text("")  # arrives after install: the run sees it

    result = fire(state_home, "ns", "dyn")
    assert result.returncode == 0, result.stdout + result.stderr
    records = project.records()
    first = records[0]
    scheduled = first["env"]["ORCHESTRATION_SCHEDULED_TIME"]
    day_before = (date.fromisoformat(scheduled[:10]) - timedelta(days=1)).isoformat()
    assert first["argv"] == [day_before, scheduled[:16], "report-dyn-cron", "3", "as is"]
    assert first["env"]["ORCHESTRATION_PARAM_LABEL"] == "report-dyn-cron"
    inbox = project.root / "inbox"
    assert [r["argv"] for r in records[1:]] == [
        [f"{inbox}/a.csv", "1"],
        [f"{inbox}/b.csv", "2"],
        [f"{inbox}/c.csv", "3"],
    ]

    lines = result.stdout.splitlines()
    assert lines[0] == (
        "orchestration ns/dyn: script 3 (record.sh) does not run this time: its parameter sets from"
        " <lambda>() are an empty list"
    )
    assert lines[1] == (
        f"orchestration ns/dyn: record.sh [1/4] parameters: day={day_before} minute={scheduled[:16]}"
        " label=report-dyn-cron count=3 fixed='as is'"
    )
    assert lines[3] == f"orchestration ns/dyn: record.sh [2/4] parameters: file={inbox}/a.csv n=1"
    row = newest(state_home, "dyn")
    assert row.status == "ok" and len(row.steps) == 4
    assert [run["parameters"] for run in row.parameters] == [
        {"day": day_before, "minute": scheduled[:16], "label": "report-dyn-cron", "count": "3", "fixed": "as is"},
        {"file": f"{inbox}/a.csv", "n": "1"},
        {"file": f"{inbox}/b.csv", "n": "2"},
        {"file": f"{inbox}/c.csv", "n": "3"},
    ]
    assert datetime.fromtimestamp(row.scheduled_time).strftime("%Y-%m-%dT%H:%M") == scheduled[:16]


SECRETS = """
from orchestration import secret, template
o = Orchestrator(name='ns', verbose=True)  # each run says what it did on stdout
o.add_task('0 1 * * *', 'bash', name='keys', interval=0).add_script('record.sh', {
    'user': 'alice',
    'password': secret('hunter2-static'),
    'token': secret(lambda: 'tok-from-function'),
    'header': secret(template('Bearer {{ env.API_KEY }}')),
})
o.add_task('0 1 * * *', 'bash', name='fanout', interval=0).add_repeat('record.sh',
    lambda: [{'host': 'db1', 'key': secret('key-of-db1')}])
o.add_task('0 1 * * *', 'bash', name='badsecret', interval=0).add_script('record.sh', {
    'token': secret(lambda: {'token': 'leaked-through-repr'}),
})
"""


def test_secrets_reach_the_script_and_are_shown_nowhere(real_crontab, project: Project, state_home: Path) -> None:
    install(project, SECRETS)
    keys = fire(state_home, "ns", "keys", env={"API_KEY": "k-from-env"})
    fanout = fire(state_home, "ns", "fanout")
    bad = fire(state_home, "ns", "badsecret")
    assert (keys.returncode, fanout.returncode, bad.returncode) == (0, 0, 1)
    assert [r["argv"] for r in project.records()] == [
        ["alice", "hunter2-static", "tok-from-function", "Bearer k-from-env"],
        ["db1", "key-of-db1"],
    ]
    assert keys.stdout.splitlines()[0] == (
        "orchestration ns/keys: record.sh [1/1] parameters: user=alice password=*** token=*** header=***"
    )
    assert bad.stdout == (
        "orchestration ns/badsecret: error: script record.sh: parameter 'token' from <lambda>() returned"
        " dict (a secret: its value is not shown); return str, int, float, bool or pathlib.Path, or"
        " secret() of one\n"
    )
    assert newest(state_home, "keys").parameters[0]["parameters"] == {
        "user": "alice",
        "password": "***",
        "token": "***",
        "header": "***",
    }
    shown = [
        keys.stdout,
        keys.stderr,
        fanout.stdout,
        bad.stdout,
        read_crontab(),
        cli("history", "--json").output,
        cli("history").output,
        cli("logs", "ns/keys").output,
        cli("logs", "ns/fanout").output,
        cli("status", "--json").output,
        cli("list", "--json").output,
        cli("why", "ns/keys", "--json").output,
        *(path.read_text() for path in (state_home / "logs").rglob("*.log")),
    ]
    for secret_text in ("hunter2-static", "tok-from-function", "k-from-env", "key-of-db1", "leaked-through-repr"):
        assert not any(secret_text in text for text in shown), secret_text
    manifest = manifest_file(state_home, "ns")
    assert manifest.stat().st_mode & 0o777 == 0o600
    assert "hunter2-static" in manifest.read_text()  # the one place a secret is kept


COPIED = """
from orchestration import secret, template
o = Orchestrator(name='ns')
hidden = {'TOKEN': secret('s3cr3t-of-env')}
o.add_task('0 1 * * *', 'bash', name='copies', env=hidden).add_script(
    'record.sh', {'t': template('{{ env.TOKEN }}'), 'f': lambda ctx: 'with ' + ctx.environ['TOKEN']})
o.add_task('0 1 * * *', 'bash', name='quotes', env=hidden).add_script('record.sh').add_skip(
    lambda ctx: int(ctx.environ['TOKEN']))
"""


def test_a_secret_copied_into_a_plain_value_or_a_message_is_hidden_too(
    real_crontab, project: Project, state_home: Path
) -> None:
    """A template or a function can copy a secret into a value that is not secret, and an error
    can quote one: what the run says and records hides it by its value."""
    install(project, COPIED)
    copies, quotes = fire(state_home, "ns", "copies"), fire(state_home, "ns", "quotes")
    assert (copies.returncode, quotes.returncode) == (0, 1)
    assert project.records()[0]["argv"] == ["s3cr3t-of-env", "with s3cr3t-of-env"]  # the script gets it
    assert newest(state_home, "copies").parameters[0]["parameters"] == {"t": "***", "f": "with ***"}
    assert newest(state_home, "quotes").reason == (
        "skip condition <lambda>() raised ValueError: invalid literal for int() with base 10: '***'"
    )
    shown = [
        copies.stdout,
        quotes.stdout,
        cli("history", "--json").output,
        cli("logs", "ns/copies").output,
        cli("logs", "ns/quotes").output,
        cli("why", "ns/quotes").output,
    ]
    assert not any("s3cr3t-of-env" in text for text in shown)
    assert "'***'" in shown[-1]


WRONG_VALUES = """
from orchestration import template
o = Orchestrator(name='ns', verbose=True)  # each run says what it did on stdout
o.add_task('0 1 * * *', 'bash', name='listy').add_script('record.sh', {'ok': 'x', 'ids': lambda: [1, 2]})
o.add_task('0 1 * * *', 'bash', name='undefined').add_script('record.sh', {'key': template('{{ env.NOT_SET_ANYWHERE }}')})
o.add_task('0 1 * * *', 'bash', name='raises').add_script('record.sh', {'n': lambda ctx: int('x')})
o.add_task('0 1 * * *', 'bash', name='sets').add_repeat('record.sh', lambda: {'a': 1})
o.add_task('0 1 * * *', 'bash', name='setitem').add_repeat('record.sh', lambda: [{'a': 1}, ['b']])
o.add_task('0 1 * * *', 'bash', name='later').add_script('record.sh', {'a': 1}) \\
    .add_repeat('record.sh', [{'v': 1}, {'v': lambda: None}])
"""


def test_a_wrong_dynamic_value_is_an_error_run_naming_the_parameter(
    real_crontab, project: Project, state_home: Path
) -> None:
    install(project, WRONG_VALUES)
    expected = {
        "listy": "script record.sh: parameter 'ids' from <lambda>() returned list [1, 2]; return str,"
        " int, float, bool or pathlib.Path, or secret() of one",
        "undefined": "script record.sh: parameter 'key': template '{{ env.NOT_SET_ANYWHERE }}' raised"
        " UndefinedError: 'dict object' has no attribute 'NOT_SET_ANYWHERE'",
        "raises": "script record.sh: parameter 'n' from <lambda>() raised ValueError: invalid literal for"
        " int() with base 10: 'x'",
        "sets": "script record.sh: parameter sets from <lambda>() returned dict {'a': 1}; return a list of"
        " dicts, one per run",
        "setitem": "script record.sh: parameter sets from <lambda>(): item 2 is list ['b'], not a dict of"
        " parameter name to value",
        "later": "script record.sh (parameter set 2): parameter 'v' from <lambda>() returned NoneType None;"
        " return str, int, float, bool or pathlib.Path, or secret() of one",
    }
    for task, message in expected.items():
        result = fire(state_home, "ns", task)
        assert (result.returncode, result.stdout) == (1, f"orchestration ns/{task}: error: {message}\n")
        row = newest(state_home, task)
        assert (row.status, row.exit_code, row.reason, row.steps) == ("error", 1, message, [])
    assert project.records() == []  # parameters are worked out before any script runs


EDITED = """
from orchestration import skips
o = Orchestrator(name='ns', verbose=True)  # each run says what it did on stdout
t = o.add_task('0 1 * * *', 'bash', name='job', interval=0)
t.add_script('record.sh', {'when': lambda ctx: ctx.scheduled_time.strftime('%H:%M')})
t.add_skip(lambda: False)
"""


def test_a_tasks_file_edited_after_install(real_crontab, project: Project, state_home: Path) -> None:
    """Runs import the tasks file as it was installed (a private copy beside the manifest): an
    edit, even one saved half-way, changes no run until it is installed; each run warns of the
    drift, and `status` shows it."""
    tasks = install(project, EDITED)
    assert fire(state_home, "ns", "job").returncode == 0
    warning = (
        f"orchestration ns/job: warning: the tasks file {tasks} changed since it was installed; run"
        f" `orchestration install {tasks}` to apply the changes\n"
    )
    edits = [
        EDITED.replace("t.add_skip(lambda: False)", "t.add_skip(skips.weekend())\nt.add_skip(lambda: False)"),
        EDITED.replace("{'when': lambda ctx: ctx.scheduled_time.strftime('%H:%M')}", "{'when': 'noon'}"),
        EDITED.replace("name='job'", "name='renamed'"),
        EDITED.replace("'%H:%M'", "'%H'"),
        EDITED[: len(EDITED) // 2],  # saved half-way: a syntax error
    ]
    for edit in edits:
        project.write(edit)
        result = fire(state_home, "ns", "job")
        assert (result.returncode, result.stderr) == (0, warning)
    assert [len(record["argv"][0]) for record in project.records()] == [5] * 6  # '%H:%M' as installed
    status = cli("status", "--json").output
    assert "the tasks file changed since it was installed (drift)" in status


def test_without_the_copy_a_run_reads_the_tasks_file_as_it_is(real_crontab, project: Project, state_home: Path) -> None:
    """A namespace installed before runs kept a copy of the tasks file: its runs import the file
    as it is now, and refuse it when its tasks no longer have the installed shape."""
    tasks = install(project, EDITED)
    [copy] = (state_home / "manifests").glob("tasks-*.py")
    copy.unlink()
    fix = f"run `orchestration install {tasks}` again"
    project.write(EDITED.replace("t.add_skip(lambda: False)", "t.add_skip(skips.weekend())\nt.add_skip(lambda: False)"))
    result = fire(state_home, "ns", "job")
    assert (result.returncode, result.stdout) == (
        1,
        (
            f"orchestration ns/job: error: task 'job' in {tasks} no longer matches what was installed: its"
            f" skip conditions were [function] and are now [built-in, function]; {fix}\n"
        ),
    )
    project.write(EDITED.replace("{'when': lambda ctx: ctx.scheduled_time.strftime('%H:%M')}", "{'when': 'noon'}"))
    assert fire(state_home, "ns", "job").stdout == (
        f"orchestration ns/job: error: task 'job' in {tasks} no longer matches what was installed:"
        f" script 1 was record.sh (when=function) and is now record.sh (when=value); {fix}\n"
    )
    project.write(EDITED.replace("name='job'", "name='renamed'"))
    assert fire(state_home, "ns", "job").stdout == (
        f"orchestration ns/job: error: the tasks file {tasks} no longer defines task 'job' of namespace 'ns'; {fix}\n"
    )
    project.write(EDITED.replace("'%H:%M'", "'%H'"))  # same shape: the edited function is used
    assert fire(state_home, "ns", "job").returncode == 0
    assert len(project.records()[-1]["argv"][0]) == 2


def imported_by_a_run(state: Path, task: str) -> list:
    """Run the shim in a fresh interpreter; its exit code and the heavy modules it loaded."""
    probe = (
        "import json, sys\n"
        "from orchestration.runtime.exec import main\n"
        f"code = main([{str(manifest_file(state, 'ns'))!r}, {task!r}])\n"
        "heavy = ['click', 'jinja2', 'croniter', 'crontab', 'orchestration.define.orchestrator',"
        " 'orchestration.define.loader', 'orchestration.compile.plan', 'orchestration.runtime.usercode',"
        " 'orchestration.rules.templates']\n"
        "print(json.dumps([code, [m for m in heavy if m in sys.modules]]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/")
    return json.loads(result.stdout.splitlines()[-1])


LIGHT = """
from orchestration import skips, secret, template
o = Orchestrator(name='ns', verbose=True)  # each run says what it did on stdout
o.add_task('0 1 * * *', 'bash', name='builtin').add_script('record.sh', {'a': 'x', 'key': secret('s')}) \\
    .add_skip(False).add_skip(skips.all_of(skips.weekend(), skips.weekdays(), skips.previous_failed())) \\
    .add_skip(skips.file_exists('/no/such/file')).add_skip(skips.not_(skips.inside_hours('00:00', '23:59')))
o.add_task('0 1 * * *', 'bash', name='templated').add_script('record.sh', {'day': template('{{ today }}')})
o.add_task('0 1 * * *', 'bash', name='jinja').add_script('record.sh', {'day': template('{{ today | string }}')})
o.add_task('0 1 * * *', 'bash', name='function').add_script('record.sh', {'n': lambda: 1})
"""


def test_what_a_run_imports(real_crontab, project: Project, state_home: Path) -> None:
    install(project, LIGHT)
    assert imported_by_a_run(state_home, "builtin") == [0, []]
    assert imported_by_a_run(state_home, "templated") == [0, []]  # a simple template: no jinja2
    assert imported_by_a_run(state_home, "jinja") == [0, ["jinja2", "orchestration.rules.templates"]]
    # The tasks file's functions run in a child process: the shim itself never loads them.
    assert imported_by_a_run(state_home, "function") == [0, []]
