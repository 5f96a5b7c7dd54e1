"""The schedulers a namespace can be installed into, and how `--backend auto` picks one.

Each scheduler reads what is installed for a namespace (`installed`) and puts rendered output in
place (`apply`, None removes it); what the output says is the target's (`targets`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

from ..errors import SchedulerUnavailableError, UsageError
from ..frozen import Frozen
from ..rules.instants import processes
from .systemctl import Systemctl

if TYPE_CHECKING:
    from ..targets import Rendered

BACKENDS = ("crontab", "systemd", "kubernetes")
CRON_DAEMONS = ("cron", "crond")


class Scheduler(Protocol):
    name: str

    def installed(self, namespace: str) -> Rendered | None: ...

    def apply(self, namespace: str, rendered: Rendered | None) -> bool: ...


class Choice(Frozen):
    """The backend `auto` picked, and a warning when the choice is doubtful."""

    name: str
    warning: str | None = None


def check_scope(scope: str) -> None:
    """System scope writes to /etc/systemd/system and runs tasks as root: only root may."""
    if scope not in ("user", "system"):
        raise UsageError(f"unknown scope '{scope}'; use user or system")
    if scope == "system" and os.geteuid() != 0:
        raise UsageError(
            "--scope system writes to /etc/systemd/system and needs root; run it with sudo,"
            " or use --scope user (the default)"
        )


def make_scheduler(name: str, scope: str = "user", looking: bool = False) -> Scheduler:
    """The scheduler called `name` ('crontab', 'systemd' or 'kubernetes') for `scope`. `looking`:
    for a command that only reads entries, which reads the crontab once for all namespaces."""
    if name == "crontab":
        if scope != "user":
            raise UsageError(
                "--scope system is for the systemd backend; a crontab belongs to the user who"
                " installs it (as root, root's crontab); use --backend systemd --scope system"
            )
        from .crontab import CrontabAsRead, CrontabScheduler  # only when the crontab is used

        return CrontabScheduler(CrontabAsRead() if looking else None)
    if name == "systemd":
        from .systemd import SystemdScheduler

        return SystemdScheduler(scope)
    if name == "foreground":  # the cron daemon of `orchestration run-scheduler`
        from ..state import state_dir
        from .foreground import ForegroundScheduler

        return ForegroundScheduler(state_dir(system=scope == "system"))
    if name == "kubernetes":
        if scope != "user":
            raise UsageError(
                "--scope system is for the systemd backend; pods run as the image's user whatever"
                " the scope: leave --scope out with --backend kubernetes"
            )
        from ..state import state_dir
        from .kubernetes import KubernetesScheduler

        return KubernetesScheduler(state_dir())
    raise UsageError(f"unknown backend '{name}'; use auto, {', '.join(BACKENDS)}")


def choose_backend(scope: str = "user") -> Choice:
    """crontab when a cron daemon runs; else the systemd manager when it answers; else crontab
    with a warning when the crontab command exists; else an error naming both ways."""
    if scope == "system":
        return Choice("systemd")
    if cron_daemon_running():
        return Choice("crontab")
    if Systemctl("user").answers():
        return Choice("systemd")
    if crontab_command():
        return Choice(
            "crontab",
            "no cron daemon seems to run, so nothing will fire these entries until one starts"
            " (Debian/Ubuntu: `service cron start`); or, in a container, run the tasks in the"
            " foreground with `orchestration run-scheduler TASKS_FILE`",
        )
    raise SchedulerUnavailableError(
        "no scheduler found: no cron daemon runs, no systemd user manager answers, and there is no crontab command",
        hint=(
            "Either install and start cron (Debian/Ubuntu: `apt-get install cron && service cron"
            " start`), or use a systemd user session (`loginctl enable-linger $USER`, then log in"
            " again) with --backend systemd."
        ),
    )


def cron_daemon_running() -> bool:
    """Whether a process named cron or crond runs (read from /proc, no subprocess)."""
    return bool(processes(CRON_DAEMONS))


def crontab_command() -> str | None:
    """The crontab command, if this machine has one."""
    import shutil  # with its compression modules: only where a backend is chosen, not for listings

    return shutil.which("crontab")
