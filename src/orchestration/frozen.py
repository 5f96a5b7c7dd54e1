"""Frozen records: typed, immutable value classes, declared like dataclasses.

    class Policy(Frozen):
        timeout: float | None
        overlap: str = "skip"

    Policy(30)                     # Policy(timeout=30, overlap='skip')
    Policy(30).replace(overlap="queue")

The manifest, the rules and the definitions are made of these. The shim builds them on every
firing (and a run with a function of the tasks file loads the definitions), and the standard
library's dataclasses cost it more than everything else it imports (they load `inspect` and
compile each class's methods); a record here is plain Python: its fields are its annotations,
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
    _names: ClassVar[frozenset[str]] = frozenset()
    _required: ClassVar[frozenset[str]] = frozenset()

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
        cls._names = frozenset(cls._fields)
        cls._required = frozenset(name for name in cls._fields if name not in cls._defaults)

    def __init__(self, *values: Any, **named: Any) -> None:
        # The values become the instance's __dict__ as given; a field left out reads its default
        # from the class. Thousands of records are built per listing: this is its quick path.
        if values:
            fields = self._fields
            if len(values) > len(fields):
                raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, {len(values)} were given")
            repeated = [name for name in fields[: len(values)] if name in named]
            if repeated:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {repeated[0]!r}")
            named.update(zip(fields, values))
        if not named.keys() <= self._names:
            unexpected = sorted(named.keys() - self._names)
            raise TypeError(f"{type(self).__name__}: unexpected or repeated field {unexpected[0]!r}")
        missing = self._required - named.keys()
        if missing:
            raise TypeError(f"{type(self).__name__}: missing field {sorted(missing)[0]!r}")
        object.__setattr__(self, "__dict__", named)

    @classmethod
    def of(cls: type[R], named: dict[str, Any]) -> R:
        """The record of `named`, taken as it is: for readers that name each field themselves
        (every field without a default, no other), so a listing of thousands of tasks does not
        check every name of every record again."""
        record = object.__new__(cls)
        object.__setattr__(record, "__dict__", named)
        return record

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
