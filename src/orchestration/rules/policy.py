"""How runs of a task are bounded, and how much of their history is kept: what `add_task` and
`Orchestrator` set, the manifest stores and the shim applies."""

from __future__ import annotations

from ..frozen import Frozen

OVERLAP_POLICIES = ("skip", "queue", "allow")
# After a script's time is up (or a signal passed on to it), seconds before SIGKILL follows SIGTERM.
KILL_GRACE_SECONDS = 5
# What a firing may take besides its attempts: starting, deciding, recording.
RUN_SLACK_SECONDS = 60


class RunPolicy(Frozen):
    """Time limit (seconds, None for none), what a firing does while the previous run still runs
    ('skip', 'queue' or 'allow'), extra attempts after a failure and the wait between them, and
    whether a firing missed while the machine was down runs once when it is back; `jitter`:
    the width in seconds of the window after each firing time in which the run starts, at a
    delay of its own that stays the same from one firing to the next (0: none)."""

    timeout: float | None = None
    overlap: str = "skip"
    retries: int = 0
    retry_delay: float = 0
    catch_up: bool = False
    jitter: int = 0

    def longest_firing(self) -> int | None:
        """Seconds beyond which a firing (every attempt, the waits between them, and stopping a
        script that ignores SIGTERM) cannot be still going unless the shim itself hangs; None
        without a time limit."""
        if self.timeout is None:
            return None
        attempts = self.retries + 1
        seconds = attempts * (self.timeout + KILL_GRACE_SECONDS) + self.retries * self.retry_delay
        return int(-(-(seconds + RUN_SLACK_SECONDS) // 1))


class Retention(Frozen):
    """Runs kept per task, days they are kept, and bytes kept of each run's log; pruned by the
    runs themselves, no daemon needed."""

    keep_runs: int = 100
    keep_days: float = 30
    max_log_bytes: int = 10 * 1024 * 1024


def jitter_delay(namespace: str, task: str, jitter: int) -> float:
    """The task's own delay within its jitter window, in seconds: the same for every firing and
    every install, spread over [0, jitter) by a hash of its name (FNV-1a: no import needed)."""
    if jitter <= 0:
        return 0.0
    digest = 0xCBF29CE484222325
    for byte in f"{namespace}/{task}".encode():
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return (digest % (jitter * 1000)) / 1000
