"""The one exception tree of orchestration.

    OrchestrationError                 exit 1: something went wrong doing the work
    ├── DefinitionError                exit 2: the tasks file or a call in it is wrong
    │   ├── ScheduleError              a cron expression the daemon would not read as shown
    │   └── TasksFileError             the tasks file cannot be read, imported or found
    ├── UsageError                     exit 2: a command was called wrongly
    │   └── NotInstalledError          the namespace or task is not installed
    ├── SchedulerUnavailableError      exit 2: no crontab command / systemd manager to talk to
    ├── FenceError                     exit 2: our block in the crontab was edited by hand
    ├── ManifestError                  exit 2: a manifest is damaged, from another version, or
    │                                  not private to its owner
    ├── UnsafeStateError               exit 2: a folder or file of ours that another user controls
    ├── SchedulerFullError             exit 2: the scheduler cannot hold what was asked
    ├── ApplyError                     exit 1: writing the crontab or unit files failed
    └── RunError                       exit 1: a run cannot go on: a skip condition or dynamic
                                       parameter failed, or the manifest or tasks file changed

The library raises these and never prints or exits; the CLI catches OrchestrationError once and
prints "Error: <message>" with the exception's exit code. Anything else is a bug.
"""

from __future__ import annotations


class OrchestrationError(Exception):
    """Base of every error orchestration raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class DefinitionError(OrchestrationError):
    """A task definition is wrong: names the task, the field and the fix."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        task: str | None = None,  # how the task is named in messages: "task 'backup'"
        field: str | None = None,  # the argument that is wrong: "cron_expression"
        hint: str | None = None,
    ) -> None:
        self.task = task
        self.field = field
        super().__init__(f"{task}: {message}" if task else message, hint=hint)

    def located(self, location: str) -> DefinitionError:
        """Prefix the message with where in the tasks file the wrong call is (file:line)."""
        self.message = f"{location}: {self.message}"
        return self


class ScheduleError(DefinitionError):
    """A cron expression that is invalid, never fires, or is outside the supported dialect."""


class TasksFileError(DefinitionError):
    """The tasks file is missing, unreadable, raises on import or defines nothing."""


class UsageError(OrchestrationError):
    """A command-line call that cannot be carried out as asked."""

    exit_code = 2


class NotInstalledError(UsageError):
    """The namespace or task asked for is not installed."""


class SchedulerUnavailableError(OrchestrationError):
    """No scheduler to install into (no crontab command, no systemd manager)."""

    exit_code = 2


class FenceError(OrchestrationError):
    """Lines we own in the crontab (or unit files) were changed by someone else."""

    exit_code = 2


class ManifestError(OrchestrationError):
    """A manifest that cannot be used: unreadable, damaged, written by another version of
    orchestration, or not private to the user who runs it. Reinstalling writes a good one."""

    exit_code = 2


class UnsafeStateError(OrchestrationError):
    """A state folder or file that another user owns or can write: using it would let them
    change what runs as you."""

    exit_code = 2


class SchedulerFullError(OrchestrationError):
    """The scheduler refuses to hold this much (Debian's crontab takes at most 10,000 lines)."""

    exit_code = 2


class ApplyError(OrchestrationError):
    """Writing to the scheduler or the state directory failed; the old state was kept."""


class RunError(OrchestrationError):
    """A run cannot go on: the shim records it as an `error` run with this message."""
