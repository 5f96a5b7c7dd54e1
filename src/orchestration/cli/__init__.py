"""The `orchestration` command: thin click commands over the library calls of `orchestration.api`.
Each module adds its commands to the group in `group`, which imports a command's module only when
that command runs (`main.load_all()` imports them all)."""

from __future__ import annotations

from .group import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
