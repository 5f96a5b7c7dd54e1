"""The one place that runs systemctl: argv lists, output captured, failures as ApplyError."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from datetime import datetime

from ..errors import ApplyError, SchedulerUnavailableError

SYSTEMCTL = "systemctl"
SYSTEMD_RUN = "systemd-run"
NO_BUS = "Failed to connect to bus"
NO_USER_MANAGER_HINT = (
    "No systemd user manager answers for this user: it runs while you are logged in. Log in (a"
    " desktop or `ssh` session, not `su`), or let it run without a session with `loginctl"
    " enable-linger $USER` (as root: `loginctl enable-linger USER`), or install into your"
    " crontab instead with `--backend crontab`."
)


class Systemctl:
    """systemctl for the user manager (`--user`) or the system manager."""

    def __init__(self, scope: str = "user") -> None:
        self.scope = scope
        self.argv = [SYSTEMCTL, "--user"] if scope == "user" else [SYSTEMCTL]

    def run(self, *arguments: str) -> str:
        """Run systemctl; its stdout, or ApplyError with what it said."""
        return self._call([*self.argv, *arguments])

    def _call(self, command: list[str]) -> str:
        """Run a command that talks to the manager; its stdout, or ApplyError with what it said
        (SchedulerUnavailableError with the way to get a manager when there is none)."""
        try:
            result = subprocess.run(command, capture_output=True, text=True)
        except FileNotFoundError:
            raise ApplyError(f"there is no {command[0]} command on this machine") from None
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip()
            self._refuse_without_manager(said)
            raise ApplyError(f"`{' '.join(command)}` failed: {said}")
        return result.stdout

    def _refuse_without_manager(self, said: str) -> None:
        """systemctl's "Failed to connect to bus": no manager to talk to, and how to get one."""
        if NO_BUS in said and self.scope == "user":
            raise SchedulerUnavailableError(f"`{' '.join(self.argv)}` failed: {said}", hint=NO_USER_MANAGER_HINT)

    def stop_quietly(self, units: Iterable[str]) -> None:
        """Stop units that may not exist."""
        units = list(units)
        if units:
            subprocess.run([*self.argv, "stop", *units], capture_output=True, text=True)

    def transient_timer(self, unit: str, calendar: str, argv: list[str], environment: dict[str, str]) -> None:
        """A one-off timer `unit` that runs `argv` at `calendar` (systemd-run), then goes away."""
        scope = ["--user"] if self.scope == "user" else []
        command = [
            SYSTEMD_RUN,
            *scope,
            f"--unit={unit}",
            f"--on-calendar={calendar}",
            "--timer-property=AccuracySec=1s",
            "--collect",
            "--quiet",
            *(f"--setenv={key}={value}" for key, value in environment.items()),
            "--",
            *argv,
        ]
        self._call(command)

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
