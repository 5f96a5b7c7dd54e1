"""Define scheduled scripts in Python; cron or systemd runs them.

    from orchestration import Orchestrator, notify, secret, skips, template

    orchestrator = Orchestrator()
    task = orchestrator.add_task('0 * * * *', 'bash')
    task.add_script('backup.sh', {'target': '/srv/backup', 'day': template('{{ yesterday }}')})
    task.add_skip(skips.weekend())
    orchestrator.execute_tasks()

Python runs this file before the shim (`orchestration.runtime.exec`) on every firing, so it
imports nothing itself: the names below are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True

__all__ = [
    "DefinitionError",
    "OrchestrationError",
    "Orchestrator",
    "RunContext",
    "Task",
    "history",
    "install",
    "installed",
    "logs",
    "metrics",
    "next_times",
    "notify",
    "notify_test",
    "pause",
    "render",
    "resume",
    "run",
    "run_scheduler",
    "secret",
    "skips",
    "template",
    "uninstall",
    "upcoming",
    "why",
]

# name -> the module that defines it ("" for a module that is itself the name)
_LAZY = {
    "Orchestrator": ".api",
    "Task": ".define.orchestrator",
    "RunContext": ".rules.context",
    "OrchestrationError": ".errors",
    "DefinitionError": ".errors",
    "template": ".define.parameters",
    "secret": ".define.parameters",
    "skips": ".define.skips",
    "notify": ".define.notify",
    "install": ".api",
    "uninstall": ".api",
    "render": ".api",
    "installed": ".api",
    "next_times": ".api",
    "history": ".api",
    "logs": ".api",
    "why": ".api",
    "run": ".api",
    "pause": ".api",
    "resume": ".api",
    "upcoming": ".api",
    "run_scheduler": ".api",
    "metrics": ".api",
    "notify_test": ".api",
}

if TYPE_CHECKING:
    from typing import Any

    from .api import (
        Orchestrator,
        history,
        install,
        installed,
        logs,
        metrics,
        next_times,
        notify_test,
        pause,
        render,
        resume,
        run,
        run_scheduler,
        uninstall,
        upcoming,
        why,
    )
    from .define import notify, skips
    from .define.orchestrator import Task
    from .define.parameters import secret, template
    from .errors import DefinitionError, OrchestrationError
    from .rules.context import RunContext


__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'orchestration' has no attribute {name!r}")
    module = import_module(_LAZY[name], __name__)
    value = module if module.__name__.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value
