"""The `orchestration` command: thin click commands over the library calls of `orchestration.api`.
Each module adds its commands to the group in `group`."""

from __future__ import annotations

from . import completion, installing, reading, running
from .group import main

__all__ = ["completion", "installing", "main", "reading", "running"]

if __name__ == "__main__":  # pragma: no cover
    main()
