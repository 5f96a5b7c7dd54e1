"""What is in place for an installed namespace, against what its manifest says should be: the
entries rendered again, and what a person changed in them by hand."""

from __future__ import annotations

from ..targets import Rendered, render
from .diff import hand_edit_summary
from .manifests import Installed
from .schedulers import Scheduler


def rendered_for(installed: Installed) -> Rendered:
    """What the installed manifest's entries should look like, rendered again."""
    return render(installed.manifest.backend, installed.manifest, str(installed.path))


def hand_edit_summary_of(scheduler: Scheduler, installed: Installed) -> str | None:
    """What a person changed in the namespace's entries since they were installed, or None."""
    return hand_edit_summary(rendered_for(installed), scheduler.installed(installed.namespace))
