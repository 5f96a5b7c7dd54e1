"""What a run knows about itself, handed to skip conditions and dynamic parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping


@dataclass(frozen=True)
class RunContext:
    """The run being decided: when it was scheduled, who it is, and how the last run went."""

    namespace: str
    task: str
    run_id: str
    scheduled_time: datetime
    now: datetime
    trigger: str = "cron"
    previous_status: str | None = None
    previous_time: datetime | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
