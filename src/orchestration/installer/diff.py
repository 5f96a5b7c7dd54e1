"""What an install or uninstall does to a namespace, computed before anything is written (pure),
and the lines that say it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..compile.manifest import Manifest

if TYPE_CHECKING:
    from ..targets import Rendered


@dataclass
class NamespaceChanges:
    """What an install or uninstall does to one namespace."""

    namespace: str
    backend: str
    tasks_file: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rewritten: bool = False  # the manifest or the entries differ from what is installed
    moved_from: str | None = None  # the backend it was installed in before
    no_longer_defined: bool = False  # an install removes it: its tasks file no longer defines it
    schedules: dict[str, str] = field(default_factory=dict)  # task id -> its schedule as written
    descriptions: dict[str, str] = field(default_factory=dict)  # task id -> its schedule in words
    warnings: list[str] = field(default_factory=list)

    def describe(self, manifest: Manifest) -> None:
        """Note the schedule of each task of `manifest`, as written and in words."""
        for task_id, task in manifest.tasks.items():
            self.schedules[task_id], self.descriptions[task_id] = task.expression, task.description

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.rewritten or self.moved_from)

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "backend": self.backend,
            "tasks_file": self.tasks_file,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "rewritten": self.rewritten,
            "moved_from": self.moved_from,
            "no_longer_defined": self.no_longer_defined,
            "schedules": self.schedules,
            "descriptions": self.descriptions,
            "warnings": self.warnings,
        }


def diff(old: Manifest | None, new: Manifest) -> NamespaceChanges:
    """Which tasks an install adds, changes, removes or leaves alone."""
    old_tasks = old.tasks if old else {}
    changes = NamespaceChanges(namespace=new.namespace, backend=new.backend, tasks_file=new.tasks_file)
    changes.describe(new)
    for task_id, task in new.tasks.items():
        if task_id not in old_tasks:
            changes.added.append(task_id)
        elif old_tasks[task_id] != task:
            changes.changed.append(task_id)
        else:
            changes.unchanged.append(task_id)
    changes.removed = [task_id for task_id in old_tasks if task_id not in new.tasks]
    return changes


def removal(manifest: Manifest) -> NamespaceChanges:
    """What uninstalling a namespace does: every task goes."""
    return NamespaceChanges(
        namespace=manifest.namespace,
        backend=manifest.backend,
        tasks_file=manifest.tasks_file,
        removed=list(manifest.tasks),
    )


def hand_edit_summary(expected: Rendered, actual: Rendered | None) -> str | None:
    """What a person changed in our entries since they were installed, or None: the files that
    were deleted, edited or added, and within a crontab block the lines that went missing and
    the lines that are new (an edited line is both)."""
    actual = actual or {}
    if actual == expected:
        return None
    deleted = [name for name in expected if name not in actual]
    edited = [name for name in expected if name in actual and actual[name] != expected[name]]
    added = [name for name in actual if name not in expected]
    if [name for name in expected if name.endswith(".crontab")] == list(expected):
        # A crontab block is one text: name its lines instead.
        had = [line for text in expected.values() for line in text.splitlines()]
        has = [line for text in actual.values() for line in text.splitlines()]
        deleted = [line for line in had if line not in set(has)]
        added = [line for line in has if line not in set(had)]
        edited = []
        if not (deleted or added):
            return "lines moved"
    parts = [f"deleted: {_some(deleted)}"] if deleted else []
    parts += [f"edited: {_some(edited)}"] if edited else []
    parts += [f"added: {_some(added)}"] if added else []
    return "; ".join(parts)


def _some(items: list[str], shown: int = 3) -> str:
    """The first few items, and how many more (a namespace may have thousands of lines)."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def describe_changes(changes: NamespaceChanges, *, dry_run: bool) -> Iterable[str]:
    """Lines that say what an install did (or would do) to one namespace."""
    verb = "Would install" if dry_run else "Installed"
    if not changes.any:
        yield (
            f"Namespace '{changes.namespace}' ({changes.backend}) is up to date with"
            f" {changes.tasks_file}; nothing changed."
        )
        return
    moved = f", moved from {changes.moved_from}" if changes.moved_from else ""
    if changes.no_longer_defined:
        verb = "Would remove" if dry_run else "Removed"
        yield f"{verb} namespace '{changes.namespace}' ({changes.backend}): {changes.tasks_file} no longer defines it:"
    else:
        yield f"{verb} namespace '{changes.namespace}' ({changes.backend}{moved}) from {changes.tasks_file}:"
    for mark, task_ids in (("+", changes.added), ("~", changes.changed), ("-", changes.removed)):
        for task_id in task_ids:
            words = f"  ({changes.descriptions[task_id]})" if task_id in changes.descriptions else ""
            yield f"  {mark} {task_id}  {changes.schedules.get(task_id, '')}{words}".rstrip()
    if not (changes.added or changes.changed or changes.removed or changes.moved_from):
        yield (
            "  no task changed; what is installed was written again (the tasks file or the environment"
            " changed, or the entries were changed by hand)"
        )
    yield (
        f"  {len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed,"
        f" {len(changes.unchanged)} unchanged."
    )
