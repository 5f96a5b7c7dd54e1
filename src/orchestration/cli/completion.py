"""Shell completion: `orchestration completion bash|zsh|fish` prints the script to load, and
NAMESPACE/TASK arguments complete to what is installed (read from the manifests' names and
their task lists; nothing runs)."""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from .group import main

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_ORCHESTRATION_COMPLETE"


def _state(ctx: click.Context) -> Path:
    """The state directory of the scope the command line names (user by default)."""
    from ..state import state_dir  # only when completing

    return state_dir(system=(ctx.params.get("scope") or "user") == "system")


def _namespaces(ctx: click.Context) -> list[str]:
    """Installed namespaces, from the manifests' file names alone."""
    from ..installer.manifests import namespaces

    try:
        return namespaces(_state(ctx))
    except Exception:  # completion must never print a traceback into the shell
        return []


def _task_ids(state: Path, namespace: str) -> list[str]:
    """The namespace's task ids, from its manifest's first line (its index) when it has one: a
    TAB reads no task's definition."""
    from ..compile.manifest import read_head
    from ..installer.manifests import candidates, current

    paths = candidates(state, namespace)
    head = read_head(paths[0]) if len(paths) == 1 else None
    if head is not None and isinstance(head.get("index"), dict):
        return list(head["index"])
    installed = current(state, namespace)
    return list(installed.manifest.tasks) if installed else []


def _references(ctx: click.Context) -> list[str]:
    """NAMESPACE/TASK of every installed task."""
    state = _state(ctx)
    try:
        return [f"{ns}/{task}" for ns in _namespaces(ctx) for task in _task_ids(state, ns)]
    except Exception:  # a damaged manifest: nothing to offer, and no traceback in the shell
        return []


def _fitting(names: list[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def complete_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """NAMESPACE/TASK of installed tasks."""
    return _fitting(_references(ctx), incomplete)


def complete_namespace(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Installed namespaces."""
    return _fitting(_namespaces(ctx), incomplete)


def complete_namespace_or_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Installed namespaces and NAMESPACE/TASK of their tasks, together: `n<TAB>` offers `ns` and
    `ns/a`, so a task is reached without typing its namespace in full."""
    return _fitting(_namespaces(ctx) + _references(ctx), incomplete)


def complete_status(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The statuses a run can have."""
    from ..runtime.records import STATUSES

    return _fitting(list(STATUSES), incomplete)


def complete_file(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The shell's own completion of file names."""
    return [CompletionItem(incomplete, type="file")]


def complete_file_or_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """NAMESPACE/TASK of installed tasks that fit; file names when none does (the shells take
    the file item only when no other completion is offered)."""
    return complete_file(ctx, param, incomplete) + complete_task(ctx, param, incomplete)


@main.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell code that completes commands, options and task names.

    \b
    bash:  eval "$(orchestration completion bash)"    in ~/.bashrc
    zsh:   eval "$(orchestration completion zsh)"     in ~/.zshrc
    fish:  orchestration completion fish > ~/.config/fish/completions/orchestration.fish
    """
    completer = get_completion_class(shell)
    assert completer is not None  # every choice has one
    click.echo(completer(main, {}, "orchestration", COMPLETE_VAR).source())
