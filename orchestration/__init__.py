"""Define scheduled scripts in Python; cron or systemd runs them.

    from orchestration import Orchestrator, secret, skips, template

    orchestrator = Orchestrator()
    task = orchestrator.add_task('0 * * * *', 'bash')
    task.add_script('backup.sh', {'target': '/srv/backup', 'day': template('{{ yesterday }}')})
    task.add_skip(skips.weekend())
    orchestrator.execute_tasks()

Python runs this file before `orchestration.exec` on every firing, so it imports nothing itself:
the names below are loaded on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs start-up time on every firing
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Orchestrator", "Task", "RunContext", "OrchestrationError", "DefinitionError", "template", "secret",
]

_LAZY = {
    "Orchestrator": "model",
    "Task": "model",
    "RunContext": "context",
    "OrchestrationError": "errors",
    "DefinitionError": "errors",
    "template": "params",
    "secret": "params",
}

if TYPE_CHECKING:
    from .context import RunContext
    from .errors import DefinitionError, OrchestrationError
    from .model import Orchestrator, Task
    from .params import secret, template


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'orchestration' has no attribute {name!r}")
