"""Bad definitions: each gives one exact message naming the task, the field and the fix, exit
code 2, no traceback, and the crontab and manifests stay exactly as they were."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import Project, read_crontab
from orchestration.cli import main

T = "task #1 ('* * * * *')"
DYNAMIC = "from orchestration import skips, template, secret\no = Orchestrator()\n"
CASES = [
    *(
        (
            f"o = Orchestrator()\no.add_task('* * * * *', 'bash', jitter={value})",
            f"{{file}}:3: {T}: add_task: jitter {value} must be a whole number of seconds from 0 to 86400"
            " (each run starts within that many seconds after its firing time, at a delay of its own)",
        )
        for value in ("1.5", "-5", "True", "'30'", "86401")
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', env=['A'])",
        f"{{file}}:3: {T}: add_task: env must be a dict of variable name to value, not list ['A']",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', env={'1X': 'a'})",
        f"{{file}}:3: {T}: add_task: env: '1X' is not a variable name; use letters, digits and '_', not"
        " starting with a digit",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', env={'orchestration_task': 'a'})",
        f"{{file}}:3: {T}: add_task: env: 'orchestration_task' starts with ORCHESTRATION_, which"
        " orchestration sets itself; choose another name",
    ),
    (
        DYNAMIC + "o.add_task('* * * * *', 'bash', env={'DAY': template('{{ today }}')})",
        f"{{file}}:4: {T}: add_task: env: 'DAY' is a template or a function; a variable takes a plain"
        " str, int, float, bool or pathlib.Path, or secret() of one (values worked out at each run are parameters)",
    ),
    (
        DYNAMIC + "o.add_task('* * * * *', 'bash', env={'KEY': secret(lambda: 'x')})",
        f"{{file}}:4: {T}: add_task: env: 'KEY' is a template or a function; a variable takes a plain"
        " str, int, float, bool or pathlib.Path, or secret() of one (values worked out at each run are parameters)",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', env={'LIST': [1]})",
        f"{{file}}:3: {T}: add_task: env: 'LIST' has a value of type list; use a str, int, float, bool or"
        " pathlib.Path, or secret() of one",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', env={'NUL': 'a\\0b'})",
        f"{{file}}:3: {T}: add_task: env 'NUL' contains a NUL byte, which no program argument can carry; remove it",
    ),
    (
        "o = Orchestrator()\no.add_task('61 * * * *', 'bash')",
        "{file}:3: task #1 ('61 * * * *'): cron expression '61 * * * *' has the minute 61, which is out of range 0-59",
    ),
    (
        "o = Orchestrator()\no.add_task('0 0 30 2 *', 'bash')",
        "{file}:3: task #1 ('0 0 30 2 *'): cron expression '0 0 30 2 *' never fires: February has no day 30",
    ),
    (
        "o = Orchestrator()\no.add_task('0 0 * * 5#6', 'bash', name='monthly')",
        "{file}:3: task 'monthly': cron expression '0 0 * * 5#6' has '5#6' in the day-of-week field;"
        " the n of 'day#n' is 1 to 5",
    ),
    (
        "o = Orchestrator()\no.add_task('0 9 * * *', 'bash', name='ny', timezone='America/NewYork')",
        "{file}:3: task 'ny': add_task: timezone 'America/NewYork' is not a time zone this machine"
        " knows; give an IANA name such as 'America/New_York', 'Europe/Berlin' or 'UTC'\n"
        "Did you mean 'America/New_York'?",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'perl')",
        f"{{file}}:3: {T}: add_task: unknown script_type 'perl'; valid types are 'bash', 'python'",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'pyhton')",
        f"{{file}}:3: {T}: add_task: unknown script_type 'pyhton'; valid types are 'bash', 'python'\n"
        "Did you mean 'python'?",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', -1)",
        f"{{file}}:3: {T}: add_task: interval -1 is negative; give the seconds to wait between"
        " scripts (0 or more, default 1)",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', '5')",
        f"{{file}}:3: {T}: add_task: interval must be a number of seconds between scripts, not '5'",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', name='x').add_script('missing.sh')",
        "{file}:3: task 'x': add_script: script {dir}/missing.sh does not exist\n"
        "Relative paths are resolved from the tasks file's folder {dir}.",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', name='x')\no.add_task('* * * * *', 'bash', name='x')",
        "{file}:4: task 'x': add_task: the name 'x' is already used by another task of this"
        " Orchestrator; task names must be unique",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('record.sh', ['a'])",
        f"{{file}}:3: {T}: add_script: script_parameters must be a dict of parameter name to value, not list ['a']",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('record.sh', {'a': [1]})",
        f"{{file}}:3: {T}: add_script: parameter 'a' has a value of type list ([1]); use str, int,"
        " float, bool or pathlib.Path, or work it out at each run with template('...') or a function",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('record.sh', {'a-b': 1})",
        f"{{file}}:3: {T}: add_script: parameter name 'a-b' in script_parameters must be a string of"
        " letters, digits and '_' that does not start with a digit (it is also exported as"
        " ORCHESTRATION_PARAM_<NAME>)",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('record.sh', {'a': 'x\\0y'})",
        f"{{file}}:3: {T}: add_script: parameter 'a' contains a NUL byte, which no program argument"
        " can carry; remove it",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_repeat('record.sh', [])",
        f"{{file}}:3: {T}: add_repeat: script_parameters is an empty list, so the script would never"
        " run; give at least one dict of parameters",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_repeat('record.sh', [{'a': 1}, 'b'])",
        f"{{file}}:3: {T}: add_repeat: script_parameters[1] must be a dict of parameter name to value, not str 'b'",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_skip('yes')",
        f"{{file}}:3: {T}: add_skip: condition must be True/False, a condition from"
        " orchestration.skips or a function returning True/False, not str 'yes'",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('record.sh').add_skip(lambda a, b: True)",
        "{file}:3: task 'record': add_skip: the skip condition <lambda>() takes (a, b); a function of the tasks file is"
        " called at each run with no argument or with one, the run's RunContext",
    ),
    (
        "o = Orchestrator()\ndef day(context, offset):\n    return 1\n"
        "o.add_task('* * * * *', 'bash').add_script('record.sh', {'d': day})",
        f"{{file}}:5: {T}: add_script: parameter 'd': day() takes (context, offset); a function of the tasks"
        " file is called at each run with no argument or with one, the run's RunContext",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_repeat('record.sh', lambda a, b: [])",
        f"{{file}}:3: {T}: add_repeat: script_parameters: <lambda>() takes (a, b); a function of the tasks"
        " file is called at each run with no argument or with one, the run's RunContext",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash')",
        f"{{file}}:3: {T}: has no scripts, so it would do nothing; add one with task.add_script(path)",
    ),
    (
        "o = Orchestrator(name='empty')",
        "{file}: Orchestrator 'empty' has no tasks; add one with orchestrator.add_task('0 * * * *', 'bash')",
    ),
    (
        "o = Orchestrator(name='bad name')",
        "{file}:2: Orchestrator(name=...): namespace 'bad name' must be 1-64 letters, digits, '-' or"
        " '_', starting with a letter or digit (it becomes part of crontab markers and unit file"
        " names)",
    ),
    (
        "a = Orchestrator(name='same')\na.add_task('* * * * *', 'bash').add_script('record.sh')\n"
        "b = Orchestrator(name='same')\nb.add_task('* * * * *', 'bash').add_script('record.sh')",
        "{file}: two Orchestrators share the namespace 'same'; give each its own name with Orchestrator(name='...')",
    ),
    (
        "x = 1",
        "tasks file {file} creates no Orchestrator; create one with `orchestrator ="
        " Orchestrator()` and add tasks to it\nTo remove what was installed from it: `orchestration uninstall {file}`.",
    ),
    (
        "raise RuntimeError('boom')",
        "{file}:2: importing the tasks file raised RuntimeError: boom; fix the file and try again",
    ),
    (
        "import not_a_module_anywhere",
        "{file}:2: importing the tasks file raised ModuleNotFoundError: No module named"
        " 'not_a_module_anywhere'; fix the file and try again",
    ),
    ("def f(:\n    pass", "{file}:2: syntax error: invalid syntax; fix the file and try again"),
    # Skip conditions and dynamic parameters: each builder is refused at its own line.
    (
        f"{DYNAMIC}o.add_task('* * * * *', 'bash', name='x').add_script('record.sh')\\\n"
        "    .add_skip(skips.outside_hours('9:00', '25:00'))",
        "{file}:5: skips.outside_hours: end '25:00' is not a time of day; write it as 'HH:MM' (24-hour"
        " clock), such as '09:00' or '17:30'",
    ),
    (
        f"{DYNAMIC}o.add_task('* * * * *', 'bash').add_skip(skips.weekend)",
        f"{{file}}:4: {T}: add_skip: skips.weekend makes a condition; call it: add_skip(skips.weekend(...))",
    ),
    (
        f"{DYNAMIC}business = skips.any_of(skips.weekend(), lambda: True)",
        "{file}:4: skips.any_of: condition 2 is a function; it combines conditions from"
        " orchestration.skips only\nTo combine your own function with them, write one function and give"
        " it to add_skip: task.add_skip(lambda ctx: is_holiday(ctx) or skips.weekend().evaluate(ctx)).",
    ),
    (
        f"{DYNAMIC}o.add_task('* * * * *', 'bash').add_script('record.sh', {{'day': template('{{{{ yesterdy }}}}')}})",
        "{file}:4: template('{{{{ yesterdy }}}}'): unknown name 'yesterdy'; a template can use"
        " scheduled_time, now, today, yesterday, tomorrow, task, namespace, run_id, trigger, env and the"
        " functions days, hours, minutes\nDid you mean 'yesterday'?",
    ),
    (
        f"{DYNAMIC}o.add_task('* * * * *', 'bash').add_script('record.sh', {{'key': secret(b'bytes')}})",
        "{file}:4: secret(): the value must be a str, int, float, bool or pathlib.Path, a template('...')"
        " or a function, not bytes",
    ),
    (
        f"{DYNAMIC}o.add_task('* * * * *', 'bash').add_repeat('record.sh', {{'a': 1}})",
        f"{{file}}:4: {T}: add_repeat: script_parameters must be a list of dicts, one per run, or a"
        " function that returns one at each run, not dict\nUse add_script for a single run:"
        " task.add_script(path, {{'key': 'value'}})",
    ),
    (
        f"{DYNAMIC}o.add_task('* * * * *', 'bash').add_script('record.sh', {{'when': skips.weekend()}})",
        f"{{file}}:4: {T}: add_script: parameter 'when' has a value of type Condition (<skip condition:"
        " weekend (Saturday or Sunday)>); use str, int, float, bool or pathlib.Path, or work it out at"
        " each run with template('...') or a function",
    ),
    (
        f"{DYNAMIC}o.add_task('* * * * *', 'bash').add_script('record.sh', {{'key': secret('x', argument='no')}})",
        "{file}:4: secret(): argument must be True (an argument and an environment variable) or False (the"
        " environment variable only), not 'no'",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', timeout=0)",
        f"{{file}}:3: {T}: add_task: timeout 0 must be a number of seconds above 0, or None for no limit",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', overlap='wait')",
        f"{{file}}:3: {T}: add_task: overlap 'wait' must be one of 'skip', 'queue', 'allow' (skip a firing"
        " while the previous run still runs, queue it, or allow both)",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', retries=1.5)",
        f"{{file}}:3: {T}: add_task: retries 1.5 must be a whole number of extra attempts, from 0 to 1000",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', retries=1001)",
        f"{{file}}:3: {T}: add_task: retries 1001 must be a whole number of extra attempts, from 0 to 1000",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', jitter=10**400)",
        f"{{file}}:3: {T}: add_task: jitter {10**400} must be a whole number of seconds from 0 to 86400"
        " (each run starts within that many seconds after its firing time, at a delay of its own)",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', interval=10**400)",
        f"{{file}}:3: {T}: add_task: interval must be a number of seconds between scripts, not {10**400}",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', env={'N': 10**5000})",
        f"{{file}}:3: {T}: add_task: env 'N' is a number of more than 900 digits; pass it as a text, or a path to"
        " a file that holds it",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash').add_script('record.sh', {'n': 10**5000})",
        f"{{file}}:3: {T}: add_script: parameter 'n' is a number of more than 900 digits; pass it as a text, or a"
        " path to a file that holds it",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', retry_delay=-1)",
        f"{{file}}:3: {T}: add_task: retry_delay -1 must be a number of seconds, 0 or more",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', catch_up='yes')",
        f"{{file}}:3: {T}: add_task: catch_up 'yes' must be True (run a firing missed while the machine was"
        " down once it is back) or False",
    ),
    (
        "o = Orchestrator()\no.add_task('@reboot', 'bash', name='boot', catch_up=True)",
        "{file}:3: task 'boot': add_task: catch_up=True has nothing to catch up on an @reboot task, which"
        " runs at every start; remove catch_up",
    ),
    (
        "o = Orchestrator()\no.add_task('* * * * *', 'bash', tiemout=5)",
        "{file}:3: add_task() has no option 'tiemout'; its options are cron_expression, script_type, interval,"
        " name, timeout, overlap, retries, retry_delay, catch_up, jitter, env, timezone, notify, ping, verbose\n"
        "Did you mean 'timeout'?",
    ),
    (
        "o = Orchestrator(keep_run=5)",
        "{file}:2: Orchestrator() has no option 'keep_run'; its options are name, python, keep_runs, keep_days,"
        " max_log_bytes, timezone, notify, ping, verbose, metrics_dir\nDid you mean 'keep_runs'?",
    ),
    (
        DYNAMIC + "o.add_task('* * * * *', 'bash').add_script('record.sh', {'k': secret('v', arg=False)})",
        "{file}:4: secret() has no option 'arg'; its options are value, argument\nDid you mean 'argument'?",
    ),
    (
        DYNAMIC + "o.add_task('* * * * *', 'bash').add_skip(skips.env_set(nam='X'))",
        "{file}:4: env_set() has no option 'nam'; its options are name\nDid you mean 'name'?",
    ),
    (  # the file's own function of an API function's name is the file's
        "from orchestration import notify\ndef email(address):\n    pass\nemail(adress=1)\no = Orchestrator()",
        "{file}:5: importing the tasks file raised TypeError: email() got an unexpected keyword argument 'adress';"
        " fix the file and try again",
    ),
    (  # a wrong call in the file's own code is the file's: said as Python says it
        "def f(a):\n    pass\nf(b=1)\no = Orchestrator()",
        "{file}:4: importing the tasks file raised TypeError: f() got an unexpected keyword argument 'b';"
        " fix the file and try again",
    ),
]


@pytest.mark.parametrize(("body", "message"), CASES)
def test_bad_definition_is_refused_and_changes_nothing(
    real_crontab: str, project: Project, body: str, message: str
) -> None:
    good = project.write(
        "o = Orchestrator(name='kept')\no.add_task('0 1 * * *', 'bash').add_script('record.sh')\n", name="kept.py"
    )
    assert CliRunner().invoke(main, ["install", str(good)]).exit_code == 0
    before = read_crontab()
    manifests = sorted(p.read_bytes() for p in (project.root.parent / "state" / "manifests").iterdir())
    tasks = project.write(body + "\n")
    result = CliRunner().invoke(main, ["install", str(tasks)])
    expected = message.format(file=tasks, dir=project.root)
    assert result.output == f"Error: {expected}\n"
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert read_crontab() == before
    assert sorted(p.read_bytes() for p in (project.root.parent / "state" / "manifests").iterdir()) == manifests


def test_missing_tasks_file(project: Project) -> None:
    result = CliRunner().invoke(main, ["install", str(project.root / "nothere.py")])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: tasks file {project.root}/nothere.py does not exist\n"
        "Give the path of a Python file that creates an Orchestrator.\n"
    )


def test_unreadable_tasks_file_is_refused(project: Project, tmp_path) -> None:
    directory = project.root / "folder.py"
    directory.mkdir()
    result = CliRunner().invoke(main, ["install", str(directory)])
    assert result.exit_code == 2
    assert result.output == f"Error: tasks file {directory} is not a file; give the path of a .py file\n"


def test_no_crontab_command_says_how_to_get_one(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # The one seam where a machine without cron cannot be had in a test: the crontab program.
    from orchestration.installer import crontab

    monkeypatch.setattr(crontab, "CRONTAB_COMMAND", str(project.root / "no-such-crontab"))
    tasks = project.write("o = Orchestrator(name='x')\no.add_task('0 1 * * *', 'bash').add_script('record.sh')\n")
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "crontab"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: there is no crontab command ({project.root}/no-such-crontab) on this machine\n"
        "Install a cron daemon and its crontab command (Debian/Ubuntu: `apt-get install cron`, then"
        " `service cron start`), or use `--backend systemd`.\n"
    )
    assert not list((project.root.parent / "state" / "manifests").glob("x.*"))


def test_an_unknown_option_is_named_in_the_words_of_python_3_13_too(tmp_path) -> None:
    """Python 3.13 adds its own "Did you mean" to the TypeError: the option is still found."""
    from orchestration.define.loader import unknown_option

    tasks_file = tmp_path / "tasks.py"
    said = "Orchestrator.add_task() got an unexpected keyword argument 'tiemout'. Did you mean 'timeout'?"
    try:
        exec(compile(f"raise TypeError({said!r})", str(tasks_file), "exec"), {})
    except TypeError as error:
        found = unknown_option(error, tasks_file)
    assert found is not None
    assert found.message.startswith("add_task() has no option 'tiemout'; its options are cron_expression,")
    assert found.hint == "Did you mean 'timeout'?"
