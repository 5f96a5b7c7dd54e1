"""What skip conditions and dynamic parameters may ask of the run they decide: its context, the
tasks file's functions, and a way to say something. The shim's run and `orchestration why` both
provide it."""

from __future__ import annotations

from typing import Any, Protocol

from ..compile.manifest import Skip
from ..rules.context import RunContext


class TaskFunctions(Protocol):
    """The installed task's functions, from its tasks file (loaded on first use)."""

    def skip_condition(self, skip: Skip, context: RunContext) -> bool: ...

    def parameter(self, step: int, run: int, key: str, what: str, context: RunContext, secret: bool = False) -> Any: ...

    def parameter_sets(self, step: int, what: str, context: RunContext) -> Any: ...


class RunInputs(Protocol):
    def context(self) -> RunContext:
        """The RunContext handed to conditions and dynamic parameters (one per run)."""
        ...

    def functions(self) -> TaskFunctions:
        """The task's functions from the tasks file (imported at most once per run)."""
        ...

    def note(self, message: str) -> None:
        """Say something about the run (in the log and on stdout)."""
        ...
