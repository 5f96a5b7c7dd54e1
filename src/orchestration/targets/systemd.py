"""The systemd target: a `.service` and a `.timer` per task, rendered from the templates in
`targets/templates/`.

`render(manifest, path)` returns file name -> text and is pure; writing the files and talking to
the manager is the installer's (`installer.systemd`). A unit is ours when its first lines carry
the marker `# orchestration:NAMESPACE:TASK`.
"""

from __future__ import annotations

import os
import re
import shlex
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from ..compile.manifest import Manifest, Timing
from ..rules.firing import Fields
from .calendar import calendar_specs, minute_list
from .clock import EVERY_DAY, EVERY_WEEKDAY, YEARS_AHEAD, systemd_extras

if TYPE_CHECKING:
    import jinja2

NAME = "systemd"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
SYSTEMD_RUN = "/usr/bin/systemd-run"
MARKER = re.compile(r"^# orchestration:([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)$", re.MULTILINE)


def user_unit_dir() -> Path:
    """Where the user manager reads units from: $XDG_CONFIG_HOME/systemd/user."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "systemd" / "user"


def unit_dir(scope: str) -> Path:
    return user_unit_dir() if scope == "user" else SYSTEM_UNIT_DIR


def at_boot(timer: str) -> bool:
    """Whether a rendered timer fires at boot (@reboot) rather than on a calendar."""
    return "OnBootSec=" in timer


def unit_name(namespace: str, task_id: str) -> str:
    """`orchestration-NAMESPACE-TASK`; names are letters, digits, '-' and '_', so no escaping."""
    return f"orchestration-{namespace}-{task_id}"


def marker(namespace: str, task_id: str) -> str:
    return f"# orchestration:{namespace}:{task_id}"


# --- rendering --------------------------------------------------------------------------------


def render(manifest: Manifest, manifest_path: str) -> dict[str, str]:
    """Every unit file of the namespace, by file name (pure: everything comes from the manifest,
    so the units installed before can be rendered again)."""
    units: dict[str, str] = {}
    namespace, scope = manifest.namespace, manifest.scope
    for task_id, task in manifest.tasks.items():
        name = unit_name(namespace, task_id)
        header = _header(manifest, task_id, scope)
        description = _specifiers(f"orchestration {namespace}/{task_id}: {task.description} ({task.expression})")
        gated = any(fields.extended for fields in task.all_fields)
        command = [manifest.exec_program, manifest_path, task_id, *(["--gate"] if gated else [])]
        # With a time limit, the manager ends a firing that outlives every attempt of it (a hung
        # shim), and with it every process left in its cgroup. Queued firings run in the same
        # unit one after the other, so no limit holds for them.
        longest = task.policy.longest_firing() if task.policy.overlap != "queue" else None
        if task.policy.overlap == "allow":
            command = _in_own_unit(command, f"orchestration {namespace}/{task_id} run", scope, longest)
            longest = None  # the timer's unit only starts the run's own unit
        units[f"{name}.service"] = _template("service.j2").render(
            header=header,
            description=description,
            exec_start=" ".join(systemd_quote(part) for part in command),
            time_limit=longest,
        )
        units[f"{name}.timer"] = _template("timer.j2").render(
            header=header,
            description=description,
            # Several schedules: every one's values; the timer elapses once at an instant they share.
            calendars=tuple(dict.fromkeys(spec for timing in task.timings for spec in _calendars(timing))),
            extras=_extras(manifest, task.timings),
            through=manifest.install_year + YEARS_AHEAD - 1,
            on_boot=task.reboot,
            persistent=task.policy.catch_up,
            jitter=task.policy.jitter,
            service=f"{name}.service",
        )
    return units


def _calendars(timing: Timing) -> tuple[str, ...]:
    """The OnCalendar= values of the schedule, in its zone when it has one. Days read with L, W
    or # are every day here: the shim's gate runs only theirs."""
    if timing.fields is None:
        return ()
    fields = timing.fields
    if fields.extended:
        fields = Fields(fields.minutes, fields.hours, EVERY_DAY, fields.months, EVERY_WEEKDAY, False)
    suffix = f" {timing.zone}" if timing.zone else ""
    return tuple(spec + suffix for spec in calendar_specs(fields))


def _extras(manifest: Manifest, timings: tuple[Timing, ...]) -> tuple[str, ...]:
    """OnCalendar= values, in UTC, for the instants of the rule that systemd would not fire
    itself around clock changes: a fixed time the clock skips, a wildcard time it repeats."""
    moments = {
        moment
        for timing in timings
        if timing.fields is not None and not timing.fields.extended
        for moment in systemd_extras(timing.fields, timing.zone, manifest.machine_zone, manifest.install_year)
    }
    by_hour: dict[str, set[int]] = {}
    for moment in moments:
        when = datetime.fromtimestamp(moment, timezone.utc)
        by_hour.setdefault(when.strftime("%Y-%m-%d %H"), set()).add(when.minute)
    return tuple(f"{hour}:{minute_list(minutes)}:00 UTC" for hour, minutes in sorted(by_hour.items()))


def _in_own_unit(command: list[str], description: str, scope: str, longest: int | None) -> list[str]:
    """systemd starts no unit that is still active, so runs that may overlap each get a
    transient unit of their own: the timer's service only launches it and ends."""
    scope_flag = ["--user"] if scope == "user" else []
    limit = [f"--property=RuntimeMaxSec={longest}"] if longest is not None else []
    return [
        SYSTEMD_RUN,
        *scope_flag,
        "--no-block",
        "--collect",
        "--quiet",
        f"--description={description}",
        *limit,
        "--",
        *command,
    ]


def _header(manifest: Manifest, task_id: str, scope: str) -> str:
    cli = shlex.quote(manifest.cli_program)
    scope_flag = "" if scope == "user" else " --scope system"
    return "\n".join(
        [
            f"# Installed by orchestration from {manifest.tasks_file}; edit that file, not this one.",
            f"# Update: {cli} install {shlex.quote(manifest.tasks_file)} --backend systemd{scope_flag}",
            f"# Remove: {cli} uninstall --name {manifest.namespace}{scope_flag}",
            marker(manifest.namespace, task_id),
        ]
    )


def _template(name: str) -> jinja2.Template:
    return _environment().get_template(name)


_jinja: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    """Jinja2 with StrictUndefined: a missing value is an error, never an empty string."""
    global _jinja
    if _jinja is None:
        import jinja2

        _jinja = jinja2.Environment(
            loader=jinja2.FunctionLoader(_template_source),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
    return _jinja


def _template_source(name: str) -> str:
    return files("orchestration.targets").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


def systemd_quote(word: str) -> str:
    """One ExecStart= argument: '%' and '$' escaped, quoted when it holds spaces or quotes."""
    word = word.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _specifiers(text: str) -> str:
    return text.replace("%", "%%")
