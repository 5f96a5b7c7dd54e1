"""Writing systemd units: the unit folder of a scope, and the manager told about the change.
What the units say is rendered by `targets.systemd`; only files that carry our marker are ever
touched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import ApplyError, FenceError, SchedulerUnavailableError
from ..state import remove_file, write_private
from ..targets import Rendered
from ..targets.systemd import MARKER, NAME, at_boot, unit_dir
from .crashpoints import checkpoint
from .systemctl import Systemctl


@dataclass
class UnitDirectory:
    """The unit files of one scope that carry our marker."""

    path: Path

    def owned(self, namespace: str) -> Rendered:
        """Our files for `namespace`, by file name."""
        found: Rendered = {}
        if not self.path.is_dir():
            return found
        prefix = f"orchestration-{namespace}-"
        for candidate in sorted(self.path.iterdir()):
            if not candidate.name.startswith(prefix) or candidate.suffix not in (".service", ".timer"):
                continue
            text = candidate.read_text(encoding="utf-8", errors="replace")
            owner = MARKER.search(text)
            if owner and owner.group(1) == namespace:
                found[candidate.name] = text
        return found

    def check_free(self, names: list[str], namespace: str) -> None:
        """Refuse to overwrite a unit that is not ours (or another namespace's)."""
        for name in names:
            path = self.path / name
            if not path.exists():
                continue
            owner = MARKER.search(path.read_text(encoding="utf-8", errors="replace"))
            if owner is None or owner.group(1) != namespace:
                whose = f"namespace '{owner.group(1)}'" if owner else "someone else (it has no orchestration marker)"
                raise FenceError(
                    f"the unit file {path} belongs to {whose}; orchestration will not overwrite it.",
                    hint="Nothing was changed. Rename the task or the namespace, or move that file away.",
                )


class SystemdScheduler:
    """Install and remove a namespace's units in the user or system manager."""

    name = NAME

    def __init__(self, scope: str = "user", systemctl: Systemctl | None = None) -> None:
        self.scope = scope
        self.directory = UnitDirectory(unit_dir(scope))
        self.systemctl = systemctl or Systemctl(scope)

    def installed(self, namespace: str) -> Rendered | None:
        return self.directory.owned(namespace) or None

    def apply(self, namespace: str, units: Rendered | None) -> bool:
        """Put `units` in place (None removes them all); whether anything changed."""
        desired = units or {}
        current = self.directory.owned(namespace)
        if desired == current:
            self._resume(desired)
            return False
        self.directory.check_free([name for name in desired if name not in current], namespace)
        written = {name: text for name, text in desired.items() if current.get(name) != text}
        removed = [name for name in current if name not in desired]
        self.systemctl.disable([name for name in removed if name.endswith(".timer")])
        try:
            # A timer whose unit changes is stopped and disabled before the manager reloads, so
            # that the reload forgets it, and enabled and started after: a timer the manager
            # still holds (running, or stopped but enabled) remembers its last elapse, and once
            # started again (systemd 252) it elapses at once for any time of the new schedule
            # since then: a reinstall would run the task. Loaded afresh, it waits for the next
            # time to come.
            self.systemctl.disable([name for name in written if name.endswith(".timer") and name in current])
            for name, text in written.items():
                write_private(self.directory.path / name, text)
            for name in removed:
                remove_file(self.directory.path / name)
            checkpoint("entries-written")
            self._activate(desired, written, current)
        except (OSError, ApplyError) as error:
            self._restore(current, desired)
            raise ApplyError(
                f"installing the systemd units of '{namespace}' failed: {error}; the previous units were put back"
            ) from None
        except BaseException:
            self._restore(current, desired)
            raise
        return True

    def _activate(self, desired: Rendered, written: Rendered, current: Rendered) -> None:
        """One reload; then start new and changed timers, which were stopped (@reboot timers
        only wait for the next boot, as cron's @reboot does)."""
        timers = [name for name in written if name.endswith(".timer")]
        self.systemctl.daemon_reload()
        checkpoint("manager-reloaded")
        self.systemctl.enable(timers)
        self.systemctl.start(name for name in timers if not at_boot(desired[name]))

    def _resume(self, units: Rendered) -> None:
        """Units in place whose timers an install killed half-way left stopped or unread: read
        and started again."""
        timers = [name for name in units if name.endswith(".timer")]
        inactive, disabled, reload = self.systemctl.stale(timers)
        self.systemctl.enable(disabled)
        if reload or disabled:
            self.systemctl.daemon_reload()
        self.systemctl.start(name for name in inactive if not at_boot(units[name]))

    def _restore(self, previous: Rendered, attempted: Rendered) -> None:
        fresh = [name for name in attempted if name not in previous]
        self.systemctl.disable([name for name in fresh if name.endswith(".timer")])
        for name in fresh:
            remove_file(self.directory.path / name)
        timers = [name for name in previous if name.endswith(".timer")]
        self.systemctl.disable(timers)  # see apply: stopped and disabled before the reload
        for name, text in previous.items():
            write_private(self.directory.path / name, text)
        try:
            self.systemctl.daemon_reload()
            self.systemctl.enable(timers)
            self.systemctl.start(name for name in timers if not at_boot(previous[name]))
        except (ApplyError, SchedulerUnavailableError):
            pass  # the files are back; the manager reads them at its next reload

    def next_elapses(self) -> dict[str, datetime]:
        """Next elapse of each timer, by timer unit name, as the manager reports it."""
        return self.systemctl.next_elapses()
