"""Simple template values rendered without jinja2, which costs a run more than everything else it
does: text with `{{ ... }}` expressions made of the template variables (and attributes or keys of
them), string and number literals, `days()`, `hours()` and `minutes()`, `+` and `-`, parentheses
and the `strftime` filter. `{{ yesterday }}` and `{{ scheduled_time | strftime('%Y-%m-%d') }}`
are such templates.

`render` gives exactly what jinja2 gives for them, or None for anything else (a statement, a
comment, another filter, an operator, whitespace control, a value that is missing, an error):
the caller then renders with jinja2, which also words any error. Standard library only.
"""

from __future__ import annotations

import re
from datetime import timedelta

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

    from .context import RunContext

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<string>'[^'\\]*'|\"[^\"\\]*\")|(?P<symbol>[()|.+\-\[\],]))"
)
_FUNCTIONS = {
    "days": lambda n: timedelta(days=n),
    "hours": lambda n: timedelta(hours=n),
    "minutes": lambda n: timedelta(minutes=n),
}


class _Unsupported(Exception):
    """Not a template this module renders: jinja2 does."""


def render(source: str, context: RunContext) -> str | None:
    """The template's text for the run, as jinja2 would render it; None if jinja2 must."""
    if "{%" in source or "{#" in source:
        return None
    pieces = []
    position = 0
    try:
        while True:
            start = source.find("{{", position)
            if start < 0:
                pieces.append(source[position:])
                break
            end = source.find("}}", start + 2)
            if end < 0:
                return None
            pieces.append(source[position:start])
            expression = source[start + 2 : end]
            if expression.startswith(("-", "+")) or expression.endswith(("-", "+")):
                return None  # whitespace control
            pieces.append(str(_Expression(expression, context).value()))
            position = end + 2
    except (_Unsupported, ArithmeticError, TypeError, ValueError, KeyError, AttributeError, OverflowError):
        return None
    return "".join(pieces)


class _Expression:
    """One `{{ ... }}`: tokens read by recursive descent, evaluated as they are read."""

    def __init__(self, text: str, context: RunContext) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.context = context
        self._variables: dict[str, Any] | None = None

    def value(self) -> Any:
        result = self._sum()
        if self.position != len(self.tokens):
            raise _Unsupported()
        return result

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, kind: str, text: str | None = None) -> str:
        token = self._peek()
        if token is None or token[0] != kind or (text is not None and token[1] != text):
            raise _Unsupported()
        self.position += 1
        return token[1]

    def _sum(self) -> Any:
        result = self._filtered()
        while self._peek() in (("symbol", "+"), ("symbol", "-")):
            operator = self._take("symbol")
            operand = self._filtered()
            result = result + operand if operator == "+" else result - operand
        return result

    def _filtered(self) -> Any:
        result = self._primary()
        while self._peek() == ("symbol", "|"):
            self._take("symbol", "|")
            self._take("name", "strftime")
            self._take("symbol", "(")
            form = _string(self._take("string"))
            self._take("symbol", ")")
            result = result.strftime(form)
        return result

    def _primary(self) -> Any:
        token = self._peek()
        if token is None:
            raise _Unsupported()
        kind, text = token
        self.position += 1
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "string":
            return _string(text)
        if kind == "symbol" and text == "(":
            result = self._sum()
            self._take("symbol", ")")
            return result
        if kind != "name":
            raise _Unsupported()
        if text in _FUNCTIONS and self._peek() == ("symbol", "("):
            self._take("symbol", "(")
            argument = self._sum()
            self._take("symbol", ")")
            if isinstance(argument, bool) or not isinstance(argument, (int, float)):
                raise _Unsupported()
            return _FUNCTIONS[text](argument)
        return self._lookups(self._variable(text))

    def _variable(self, name: str) -> Any:
        if self._variables is None:
            self._variables = variables(self.context)
        if name not in self._variables:
            raise _Unsupported()
        return self._variables[name]

    def _lookups(self, value: Any) -> Any:
        """`.attribute` and `['key']`, as jinja2 resolves them on these values."""
        while self._peek() in (("symbol", "."), ("symbol", "[")):
            if self._take("symbol") == ".":
                name = self._take("name")
                if isinstance(value, dict):
                    if hasattr(value, name):
                        raise _Unsupported()  # jinja2 would give the dict's method
                    value = value[name]
                elif name.startswith("_"):
                    raise _Unsupported()  # jinja2's sandboxing rules differ for these
                else:
                    value = getattr(value, name)
            else:
                key = _string(self._take("string"))
                self._take("symbol", "]")
                if not isinstance(value, dict):
                    raise _Unsupported()
                value = value[key]
        if callable(value):
            raise _Unsupported()
        return value


def variables(context: RunContext) -> dict[str, Any]:
    """What a template sees at a run (jinja2 is given the same)."""
    day = context.scheduled_time.date()
    return {
        "scheduled_time": context.scheduled_time,
        "now": context.now,
        "today": day,
        "yesterday": day - timedelta(days=1),
        "tomorrow": day + timedelta(days=1),
        "task": context.task,
        "namespace": context.namespace,
        "run_id": context.run_id,
        "trigger": context.trigger,
        "env": dict(context.environ),
    }


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].isspace():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _Unsupported()
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    if tokens and tokens[0] == ("name", "not"):
        raise _Unsupported()
    return tokens


def _string(literal: str) -> str:
    return literal[1:-1]
