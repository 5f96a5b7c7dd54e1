"""How a function of the tasks file is called: with no argument, or with the run's RunContext.

The definitions check it when a function is given, and a run asks it before each call. Both read
the same `Arity`: for a plain Python function (a `def` or a lambda, which is nearly every case) it
comes from the function's code object; anything else (a method, a partial, a class, a wrapped or
re-signed function) is read by `inspect.signature`, which a run of a plain function never loads.
"""

from __future__ import annotations

from types import FunctionType

from ..frozen import Frozen

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

_VARARGS = 0x04  # inspect.CO_VARARGS: the code takes *args


class Arity(Frozen):
    """The positional parameters a function takes, and whether a keyword-only one has no default."""

    required: int  # positional parameters without a default
    positional: int  # positional parameters in all
    varargs: bool = False  # it takes *args
    keyword_required: bool = False

    @property
    def takes_context(self) -> bool:
        """Whether a run passes the RunContext: the function requires a positional argument or
        takes *args."""
        return self.required > 0 or self.varargs

    @property
    def callable_by_a_run(self) -> bool:
        """Whether it can be called with no argument or with one."""
        takes_one = self.required <= 1 and (self.positional >= 1 or self.varargs)
        return not self.keyword_required and (self.required == 0 or takes_one)


def arity_of(function: Any) -> Arity | None:
    """The function's Arity; None when its signature cannot be read (a built-in without one)."""
    if (
        type(function) is FunctionType
        and not hasattr(function, "__wrapped__")
        and not hasattr(function, "__signature__")
    ):
        code = function.__code__
        return Arity(
            required=code.co_argcount - len(function.__defaults__ or ()),
            positional=code.co_argcount,
            varargs=bool(code.co_flags & _VARARGS),
            keyword_required=code.co_kwonlyargcount > len(function.__kwdefaults__ or {}),
        )
    import inspect  # a method, a partial, a callable object: not the common case

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return Arity(
        required=sum(1 for p in positional if p.default is p.empty),
        positional=len(positional),
        varargs=any(p.kind == p.VAR_POSITIONAL for p in parameters),
        keyword_required=any(p.kind == p.KEYWORD_ONLY and p.default is p.empty for p in parameters),
    )


def signature_text(function: Any) -> str:
    """The function's signature as Python writes it, for a message ('(a, b)')."""
    import inspect  # only to word an error

    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "(...)"
