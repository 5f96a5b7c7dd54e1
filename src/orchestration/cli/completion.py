"""Shell completion: `orchestration completion bash|zsh|fish` prints the script to load, and
NAMESPACE/TASK arguments complete to what is installed (read from the manifests' names and
their task lists; nothing runs)."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem, get_completion_class

from .group import main

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_ORCHESTRATION_COMPLETE"


def _installed_tasks(ctx: click.Context) -> dict[str, list[str]]:
    """Namespace -> its task ids, of the scope the command line names (user by default)."""
    from ..installer.manifests import installed_manifests  # only when completing
    from ..state import state_dir

    scope = ctx.params.get("scope") or "user"
    try:
        found = installed_manifests(state_dir(system=scope == "system"))
    except Exception:  # completion must never print a traceback into the shell
        return {}
    return {installed.namespace: list(installed.manifest.tasks) for installed in found}


def complete_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """NAMESPACE/TASK of installed tasks."""
    references = [f"{ns}/{task}" for ns, tasks in _installed_tasks(ctx).items() for task in tasks]
    return [CompletionItem(ref) for ref in references if ref.startswith(incomplete)]


def complete_file(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The shell's own completion of file names."""
    return [CompletionItem(incomplete, type="file")]


def complete_file_or_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """NAMESPACE/TASK of installed tasks that fit; file names when none does (the shells take
    the file item only when no other completion is offered)."""
    return complete_file(ctx, param, incomplete) + complete_task(ctx, param, incomplete)


def complete_namespace_or_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """NAMESPACE, or NAMESPACE/TASK once a '/' is typed."""
    installed = _installed_tasks(ctx)
    if "/" in incomplete:
        references = [f"{ns}/{task}" for ns, tasks in installed.items() for task in tasks]
    else:
        references = list(installed)
    return [CompletionItem(ref) for ref in references if ref.startswith(incomplete)]


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
