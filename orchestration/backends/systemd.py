"""The systemd target: a `.service` and a `.timer` per task, rendered from templates/.

`render_units(manifest, path, scope)` returns file name -> text and is pure; `SystemdBackend.apply` writes
the files atomically, reloads the manager once, and enables, restarts or disables the timers. A
unit is ours when its first lines carry the marker `# orchestration:NAMESPACE:TASK`; files
without our marker are never touched.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import ApplyError, FenceError
from . import check_scope
from ..faults import checkpoint
from ..manifest import Manifest
from ..schedule import parse_schedule
from ..state import remove_file, write_private
from .systemctl import Systemctl
from .systemd_calendar import calendar_specs

NAME = "systemd"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
SYSTEMD_RUN = "/usr/bin/systemd-run"
_MARKER = re.compile(r"^# orchestration:([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)$", re.MULTILINE)

Units = dict[str, str]  # file name -> text


def user_unit_dir() -> Path:
    """Where the user manager reads units from: $XDG_CONFIG_HOME/systemd/user."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "systemd" / "user"


def unit_dir(scope: str) -> Path:
    return user_unit_dir() if scope == "user" else SYSTEM_UNIT_DIR


def unit_name(namespace: str, task_id: str) -> str:
    """`orchestration-NAMESPACE-TASK`; names are letters, digits, '-' and '_', so no escaping."""
    return f"orchestration-{namespace}-{task_id}"


def marker(namespace: str, task_id: str) -> str:
    return f"# orchestration:{namespace}:{task_id}"


# --- rendering --------------------------------------------------------------------------------


def render_units(manifest: Manifest, manifest_path: str, scope: str = "user") -> Units:
    """Every unit file of the namespace, by file name (pure: everything comes from the manifest,
    so the units installed before can be rendered again)."""
    units: Units = {}
    namespace = manifest["namespace"]
    for task_id, task in manifest["tasks"].items():
        name = unit_name(namespace, task_id)
        header = _header(manifest, task_id, scope)
        description = _specifiers(
            f"orchestration {namespace}/{task_id}: {task['description']} ({task['schedule'].strip()})"
        )
        schedule = parse_schedule(task["cron"])
        command = [manifest["exec"], manifest_path, task_id]
        if task.get("policy", {}).get("overlap") == "allow":
            command = _in_own_unit(command, f"orchestration {namespace}/{task_id} run", scope)
        units[f"{name}.service"] = _template("service.j2").render(
            header=header,
            description=description,
            exec_start=" ".join(systemd_quote(part) for part in command),
        )
        units[f"{name}.timer"] = _template("timer.j2").render(
            header=header,
            description=description,
            calendars=() if schedule.reboot else calendar_specs(schedule),
            on_boot=schedule.reboot,
            persistent=bool(task["policy"].get("catch_up")),
            service=f"{name}.service",
        )
    return units


def _in_own_unit(command: list[str], description: str, scope: str) -> list[str]:
    """systemd starts no unit that is still active, so runs that may overlap each get a
    transient unit of their own: the timer's service only launches it and ends."""
    scope_flag = ["--user"] if scope == "user" else []
    return [SYSTEMD_RUN, *scope_flag, "--no-block", "--collect", "--quiet",
            f"--description={description}", "--", *command]


def _header(manifest: Manifest, task_id: str, scope: str) -> str:
    cli = shlex.quote(manifest["cli"])
    scope_flag = "" if scope == "user" else " --scope system"
    return "\n".join([
        f"# Installed by orchestration from {manifest['tasks_file']}; edit that file, not this one.",
        f"# Update: {cli} install {shlex.quote(manifest['tasks_file'])} --backend systemd{scope_flag}",
        f"# Remove: {cli} uninstall --name {manifest['namespace']}{scope_flag}",
        marker(manifest["namespace"], task_id),
    ])


def _template(name: str):
    return _environment().get_template(name)


_jinja = None


def _environment():
    """Jinja2 with StrictUndefined: a missing value is an error, never an empty string."""
    global _jinja
    if _jinja is None:
        import jinja2  # noqa: PLC0415 - only installs render units

        _jinja = jinja2.Environment(
            loader=jinja2.FunctionLoader(_template_source),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
    return _jinja


def _template_source(name: str) -> str:
    # The templates ship as the package `orchestration.templates` (the top-level templates/).
    from importlib.resources import files  # noqa: PLC0415

    return files("orchestration.templates").joinpath(name).read_text(encoding="utf-8")


def _at_boot(timer: str) -> bool:
    return "OnBootSec=" in timer


def systemd_quote(word: str) -> str:
    """One ExecStart= argument: '%' and '$' escaped, quoted when it holds spaces or quotes."""
    word = word.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _specifiers(text: str) -> str:
    return text.replace("%", "%%")


# --- the unit directory ---------------------------------------------------------------------------


@dataclass
class UnitDirectory:
    """The unit files of one scope that carry our marker."""

    path: Path

    def owned(self, namespace: str) -> Units:
        """Our files for `namespace`, by file name."""
        found: Units = {}
        if not self.path.is_dir():
            return found
        prefix = f"orchestration-{namespace}-"
        for candidate in sorted(self.path.iterdir()):
            if not candidate.name.startswith(prefix) or candidate.suffix not in (".service", ".timer"):
                continue
            text = candidate.read_text(encoding="utf-8", errors="replace")
            owner = _MARKER.search(text)
            if owner and owner.group(1) == namespace:
                found[candidate.name] = text
        return found

    def check_free(self, names: list[str], namespace: str) -> None:
        """Refuse to overwrite a unit that is not ours (or another namespace's)."""
        for name in names:
            path = self.path / name
            if not path.exists():
                continue
            owner = _MARKER.search(path.read_text(encoding="utf-8", errors="replace"))
            if owner is None or owner.group(1) != namespace:
                whose = f"namespace '{owner.group(1)}'" if owner else "someone else (it has no orchestration marker)"
                raise FenceError(
                    f"the unit file {path} belongs to {whose}; orchestration will not overwrite it.",
                    hint="Nothing was changed. Rename the task or the namespace, or move that file away.",
                )


class SystemdBackend:
    """Install and remove a namespace's units in the user or system manager."""

    name = NAME

    def __init__(self, scope: str = "user", systemctl: Systemctl | None = None) -> None:
        check_scope(scope)
        self.scope = scope
        self.directory = UnitDirectory(unit_dir(scope))
        self.systemctl = systemctl or Systemctl(scope)

    def render(self, manifest: Manifest, manifest_path: str) -> Units:
        return render_units(manifest, manifest_path, self.scope)

    def installed(self, namespace: str) -> Units | None:
        return self.directory.owned(namespace) or None

    def apply(self, namespace: str, units: Units | None) -> bool:
        """Put `units` in place (None removes them all); whether anything changed."""
        desired = units or {}
        current = self.directory.owned(namespace)
        if desired == current:
            return False
        self.directory.check_free([name for name in desired if name not in current], namespace)
        written = {name: text for name, text in desired.items() if current.get(name) != text}
        removed = [name for name in current if name not in desired]
        self.systemctl.disable([name for name in removed if name.endswith(".timer")])
        try:
            for name, text in written.items():
                write_private(self.directory.path / name, text)
            for name in removed:
                remove_file(self.directory.path / name)
            checkpoint("entries-written")
            self._activate(desired, written, current)
        except (OSError, ApplyError) as error:
            self._restore(current, desired)
            raise ApplyError(f"installing the systemd units of '{namespace}' failed: {error}; the"
                             " previous units were put back") from None
        except BaseException:
            self._restore(current, desired)
            raise
        return True

    def _activate(self, desired: Units, written: Units, current: Units) -> None:
        """One reload; then start new timers and restart changed ones (@reboot timers only
        wait for the next boot, as cron's @reboot does)."""
        timers = [name for name in written if name.endswith(".timer")]
        fresh = [name for name in timers if name not in current]
        changed = [name for name in timers if name in current]
        self.systemctl.enable(fresh)
        self.systemctl.daemon_reload()
        checkpoint("manager-reloaded")
        self.systemctl.start(name for name in fresh if not _at_boot(desired[name]))
        self.systemctl.restart(name for name in changed if not _at_boot(desired[name]))

    def _restore(self, previous: Units, attempted: Units) -> None:
        fresh = [name for name in attempted if name not in previous]
        self.systemctl.disable([name for name in fresh if name.endswith(".timer")])
        for name in fresh:
            remove_file(self.directory.path / name)
        for name, text in previous.items():
            write_private(self.directory.path / name, text)
        timers = [name for name in previous if name.endswith(".timer")]
        try:
            self.systemctl.enable(timers)
            self.systemctl.daemon_reload()
            self.systemctl.restart(name for name in timers if not _at_boot(previous[name]))
        except ApplyError:
            pass  # the files are back; the manager reads them at its next reload

    def next_elapses(self) -> dict[str, datetime]:
        """Next elapse of each timer, by timer unit name, as the manager reports it."""
        return self.systemctl.next_elapses()
