"""Stage 3, targets: what a namespace's manifest becomes for each scheduler, as text (pure).

Each target is a module with `NAME` and `render(manifest, manifest_path) -> {file name: text}`,
registered below. Rendered output compares with `==`, so an install can tell "unchanged"
without writing anything. A new target is one module (and its templates) plus one line here;
installing into it is the installer's (see docs/development.md).
"""

from __future__ import annotations

from collections.abc import Callable

from ..compile.manifest import Manifest
from . import crontab, foreground, kubernetes, systemd

Rendered = dict[str, str]  # file name -> text
Render = Callable[[Manifest, str], Rendered]

TARGETS: dict[str, Render] = {
    crontab.NAME: crontab.render,
    systemd.NAME: systemd.render,
    foreground.NAME: foreground.render,
    kubernetes.NAME: kubernetes.render,
}


def render(target: str, manifest: Manifest, manifest_path: str) -> Rendered:
    """What `manifest`, stored at `manifest_path`, becomes for `target`."""
    return TARGETS[target](manifest, manifest_path)


def placed(target: str, manifest: Manifest, scope: str, old: Manifest | None = None) -> Manifest:
    """`manifest` as installed into `target` for `scope`. A cluster has no machine zone (its
    schedules without a zone read UTC) and keeps the image of the install before (`old`) unless
    given another; other targets have no image."""
    placed = manifest.placed(target, scope)
    if target != kubernetes.NAME:
        return placed.replace(image="")
    if not placed.image and old is not None:
        placed = placed.replace(image=old.image)
    return kubernetes.placed(placed)


def as_text(target: str, files: Rendered) -> str:
    """Rendered files as one text, as `orchestration compile` prints them: crontab blocks as they
    are, every other file after a `# --- NAME ---` line."""
    if target in (crontab.NAME, foreground.NAME):
        return "".join(files.values())
    return "".join(f"# --- {name} ---\n{text}" for name, text in files.items())
