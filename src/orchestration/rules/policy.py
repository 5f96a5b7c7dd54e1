"""How runs of a task are bounded, and how much of their history is kept: what `add_task` and
`Orchestrator` set, the manifest stores and the shim applies."""

from __future__ import annotations

from ..frozen import Frozen

OVERLAP_POLICIES = ("skip", "queue", "allow")


class RunPolicy(Frozen):
    """Time limit (seconds, None for none), what a firing does while the previous run still runs
    ('skip', 'queue' or 'allow'), extra attempts after a failure and the wait between them, and
    whether a firing missed while the machine was down runs once when it is back."""

    timeout: float | None = None
    overlap: str = "skip"
    retries: int = 0
    retry_delay: float = 0
    catch_up: bool = False


class Retention(Frozen):
    """Runs kept per task, days they are kept, and bytes kept of each run's log; pruned by the
    runs themselves, no daemon needed."""

    keep_runs: int = 100
    keep_days: float = 30
    max_log_bytes: int = 10 * 1024 * 1024
