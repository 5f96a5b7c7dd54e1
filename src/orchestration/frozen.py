"""Frozen records: typed, immutable value classes, declared like dataclasses.

    class Policy(Frozen):
        timeout: float | None
        overlap: str = "skip"

    Policy(30)                     # Policy(timeout=30, overlap='skip')
    Policy(30).replace(overlap="queue")

The manifest and the rules are made of these. The shim builds them on every firing, and the
standard library's dataclasses cost it more than everything else it imports (they load `inspect`
and compile each class's methods); a record here is plain Python: its fields are its annotations,
in order, and every record shares the same few methods. Type checkers read it as a frozen
dataclass (PEP 681). Standard library only, and not even `typing` at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    from typing_extensions import dataclass_transform

    R = TypeVar("R", bound="Frozen")
else:

    def dataclass_transform(**_: object) -> object:
        return lambda cls: cls


_NO_DEFAULT = object()


@dataclass_transform(frozen_default=True)
class Frozen:
    """Base of every record: fields from the class's annotations, set once, compared by value."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, object]] = {}

    def __init_subclass__(cls) -> None:
        # The class's own annotations, as written (inspect.get_annotations would load inspect).
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        own = [name for name in annotations if not name.startswith("_")]
        cls._fields = (*cls._fields, *own)
        cls._defaults = {**cls._defaults}
        for name in own:
            default = cls.__dict__.get(name, _NO_DEFAULT)
            if default is not _NO_DEFAULT:
                cls._defaults[name] = default

    def __init__(self, *values: Any, **named: Any) -> None:
        fields = self._fields
        if len(values) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, {len(values)} were given")
        given = dict(zip(fields, values))
        for name, value in named.items():
            if name not in fields or name in given:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {name!r}")
            given[name] = value
        for name in fields:
            value = given[name] if name in given else self._defaults.get(name, _NO_DEFAULT)
            if value is _NO_DEFAULT:
                raise TypeError(f"{type(self).__name__}: missing field {name!r}")
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen; cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self._fields))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"

    def replace(self: R, **changes: Any) -> R:
        """The same record with `changes`."""
        values = {name: getattr(self, name) for name in self._fields}
        return type(self)(**{**values, **changes})

    def as_dict(self) -> dict[str, Any]:
        """The fields and their values, in order."""
        return {name: getattr(self, name) for name in self._fields}
