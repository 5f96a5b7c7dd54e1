"""What is in place for an installed namespace, against what its manifest says should be: the
entries rendered again, and what a person changed in them by hand.

An install keeps a digest of each file it put in place beside the manifest, so that checking the
entries costs reading them, not rendering them again (and importing the renderers); the entries
are rendered again only to say what changed, or for an install made before the digests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import manifests
from .manifests import Installed

if TYPE_CHECKING:
    from ..targets import Rendered
    from .schedulers import Scheduler


def rendered_for(installed: Installed) -> Rendered:
    """What the installed manifest's entries should look like, rendered again."""
    from ..targets import render

    return render(installed.manifest.backend, installed.manifest, str(installed.path))


def hand_edit_summary_of(scheduler: Scheduler, installed: Installed) -> str | None:
    """What a person changed in the namespace's entries since they were installed, or None."""
    actual = scheduler.installed(installed.namespace)
    expected = manifests.read_entries(installed.path)
    if expected is not None and manifests.digests(actual or {}) == expected:
        return None
    from .diff import hand_edit_summary  # only when they differ: to say how

    whole = manifests.read(installed.path)  # all its tasks, to render them again
    return hand_edit_summary(rendered_for(whole), actual)
