"""Stage 3, targets: what a namespace's manifest becomes for each scheduler, as text (pure).

Each target is a module with `NAME` and `render(manifest, manifest_path) -> {file name: text}`,
registered below. Rendered output compares with `==`, so an install can tell "unchanged"
without writing anything. A new target is one module (and its templates) plus one line here;
installing into it is the installer's (see docs/development.md).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..compile.manifest import Manifest

Rendered = dict[str, str]  # file name -> text

# Target name -> its module, imported when used: reading commands load none of them, and an
# install only its own.
TARGETS: dict[str, str] = {
    "crontab": ".crontab",
    "systemd": ".systemd",
    "foreground": ".foreground",
    "kubernetes": ".kubernetes",
}


def render(target: str, manifest: Manifest, manifest_path: str) -> Rendered:
    """What `manifest`, stored at `manifest_path`, becomes for `target`."""
    rendered: Rendered = import_module(TARGETS[target], __name__).render(manifest, manifest_path)
    return rendered


def placed(target: str, manifest: Manifest, scope: str, old: Manifest | None = None) -> Manifest:
    """`manifest` as installed into `target` for `scope`. A cluster has no machine zone (its
    schedules without a zone read UTC) and keeps the image of the install before (`old`) unless
    given another; other targets have no image."""
    placed = manifest.placed(target, scope)
    if target != "kubernetes":
        return placed.replace(image="")
    if not placed.image and old is not None:
        placed = placed.replace(image=old.image)
    from .kubernetes import placed as placed_in_cluster

    return placed_in_cluster(placed)


def as_text(target: str, files: Rendered) -> str:
    """Rendered files as one text, as `orchestration compile` prints them: crontab blocks as they
    are, every other file after a `# --- NAME ---` line."""
    if target in ("crontab", "foreground"):
        return "".join(files.values())
    return "".join(f"# --- {name} ---\n{text}" for name, text in files.items())
