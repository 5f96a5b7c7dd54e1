"""The `orchestration` command: thin click commands over the library calls of `orchestration.api`.
Each module adds its commands to the group in `group`."""

from __future__ import annotations

from . import installing, notifying, reading, running
from .group import main

__all__ = ["installing", "main", "notifying", "reading", "running"]

if __name__ == "__main__":  # pragma: no cover
    main()
