"""How a function of the tasks file is called (`rules.arity`), against `inspect.signature`: the
definitions accept a function exactly when `bind()` or `bind(context)` succeeds, and a run passes
the context exactly when the function requires a positional argument or takes *args. Every kind of
callable a tasks file may give is here: the quick path reads plain functions and lambdas from their
code, the rest goes to inspect."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from orchestration.define.parameters import function_problem
from orchestration.rules.arity import arity_of
from orchestration.rules.context import RunContext
from orchestration.runtime.usercode import call_with_context


def _wrapped(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return wrapper


def _resigned() -> Callable[..., Any]:
    def function(*args: Any) -> Any:
        return args

    function.__signature__ = inspect.Signature()  # type: ignore[attr-defined]
    return function


class Holder:
    def method(self, context: Any) -> Any:
        return context

    def plain(self) -> Any:
        return "plain"

    def __call__(self, context: Any = None) -> Any:
        return context


def _positional_only(context: Any, /) -> Any:
    return context


def _keyword_only(*, key: Any) -> Any:
    return key


def _keyword_default(context: Any = None, *, key: Any = 1) -> Any:
    return context


CALLABLES: list[Callable[..., Any]] = [
    lambda: 1,
    lambda context: context,
    lambda context=None: context,
    lambda *args: args,
    lambda a, *args: a,
    lambda a, b: a,
    lambda a, b=1: a,
    lambda a, b, c=1: a,
    lambda **kwargs: kwargs,
    lambda a, **kwargs: a,
    _positional_only,
    _keyword_only,
    _keyword_default,
    _wrapped(lambda: 1),
    _wrapped(lambda context: context),
    _resigned(),
    functools.partial(lambda a, b: a, 1),
    functools.partial(lambda a, b, c: a, 1),
    Holder().method,
    Holder().plain,
    Holder(),
    Holder,
    str.upper,
    len,
]


def _binds(function: Callable[..., Any], *arguments: Any) -> bool:
    try:
        inspect.signature(function).bind(*arguments)
    except TypeError:
        return False
    return True


def _passes_context(function: Callable[..., Any]) -> bool:
    parameters = inspect.signature(function).parameters.values()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.kind in positional and p.default is p.empty]
    return bool(required) or any(p.kind == p.VAR_POSITIONAL for p in parameters)


@pytest.mark.parametrize("function", CALLABLES, ids=lambda function: repr(function)[:40])
def test_a_function_is_accepted_and_called_as_its_signature_says(function: Callable[..., Any]) -> None:
    arity = arity_of(function)
    assert arity is not None
    callable_by_a_run = _binds(function) or _binds(function, None)
    assert arity.callable_by_a_run == callable_by_a_run
    assert (function_problem(function, "the condition") is None) == callable_by_a_run
    assert arity.takes_context == _passes_context(function)


def test_a_run_passes_the_context_to_what_requires_it_and_nothing_to_the_rest() -> None:
    context = RunContext.__new__(RunContext)  # what it is does not matter: it is passed on, or not
    assert call_with_context(lambda context: context, context) is context
    assert call_with_context(lambda *args: args, context) == (context,)
    assert call_with_context(lambda context=None: context, context) is None
    assert call_with_context(_wrapped(lambda: "wrapped"), context) == "wrapped"
    assert call_with_context(Holder().method, context) is context


def test_a_signature_that_cannot_be_read_is_called_with_nothing() -> None:
    unreadable = type("Unreadable", (), {"__call__": None})()
    with pytest.raises(ValueError):
        inspect.signature(unreadable)
    assert arity_of(unreadable) is None
    assert function_problem(unreadable, "the condition") is None  # Python cannot tell: the run will say
