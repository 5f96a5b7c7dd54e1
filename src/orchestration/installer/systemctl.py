"""The one place that runs systemctl: argv lists, output captured, failures as ApplyError."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from datetime import datetime

from ..errors import ApplyError

SYSTEMCTL = "systemctl"


class Systemctl:
    """systemctl for the user manager (`--user`) or the system manager."""

    def __init__(self, scope: str = "user") -> None:
        self.scope = scope
        self.argv = [SYSTEMCTL, "--user"] if scope == "user" else [SYSTEMCTL]

    def run(self, *arguments: str) -> str:
        """Run systemctl; its stdout, or ApplyError with what it said."""
        try:
            result = subprocess.run([*self.argv, *arguments], capture_output=True, text=True)
        except FileNotFoundError:
            raise ApplyError(f"there is no {SYSTEMCTL} command on this machine") from None
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip()
            raise ApplyError(f"`{' '.join([*self.argv, *arguments])}` failed: {said}")
        return result.stdout

    def answers(self) -> bool:
        """Whether the manager is up (running, or degraded by some other unit)."""
        try:
            result = subprocess.run([*self.argv, "is-system-running"], capture_output=True, text=True, timeout=10)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            return False
        return result.stdout.strip() in ("running", "degraded", "starting", "initializing")

    def daemon_reload(self) -> None:
        self.run("daemon-reload")

    def enable(self, units: Iterable[str]) -> None:
        """Link units into their targets, without the implicit reload (we reload once)."""
        units = list(units)
        if units:
            self.run("enable", "--no-reload", *units)

    def start(self, units: Iterable[str]) -> None:
        units = list(units)
        if units:
            self.run("start", *units)

    def restart(self, units: Iterable[str]) -> None:
        units = list(units)
        if units:
            self.run("restart", *units)

    def stale(self, units: Iterable[str]) -> tuple[list[str], list[str], bool]:
        """Of `units`, those not active and those not enabled; and whether the manager has not
        read some of them since their files changed (an install killed half-way leaves them so)."""
        units = list(units)
        if not units:
            return [], [], False
        result = subprocess.run(
            [*self.argv, "show", "--property=Id,ActiveState,UnitFileState,NeedDaemonReload", *units],
            capture_output=True,
            text=True,
        )
        inactive, disabled, reload = [], [], False
        for block in result.stdout.split("\n\n"):
            fields = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
            if fields.get("Id") not in units:
                continue
            if fields.get("ActiveState") != "active":
                inactive.append(fields["Id"])
            if fields.get("UnitFileState") != "enabled":
                disabled.append(fields["Id"])
            reload = reload or fields.get("NeedDaemonReload") == "yes"
        return inactive, disabled, reload

    def stop(self, units: Iterable[str]) -> None:
        """Stop units; units the manager does not know are fine."""
        units = list(units)
        if units:
            subprocess.run([*self.argv, "stop", *units], capture_output=True, text=True)

    def disable(self, units: Iterable[str]) -> None:
        """Stop and unlink; units that are already gone are fine."""
        units = list(units)
        if units:
            subprocess.run([*self.argv, "disable", "--no-reload", *units], capture_output=True, text=True)
            subprocess.run([*self.argv, "stop", *units], capture_output=True, text=True)

    def next_elapses(self) -> dict[str, datetime]:
        """When systemd will next fire each timer, as it reports it, by timer unit name."""
        try:
            listing = json.loads(self.run("list-timers", "--all", "--output=json"))
        except (ApplyError, ValueError):
            return {}
        return {
            timer["unit"]: datetime.fromtimestamp(timer["next"] / 1_000_000).astimezone()
            for timer in listing
            if timer.get("next")
        }
