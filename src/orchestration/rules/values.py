"""Parameter values: the kinds a script can receive, and how each becomes an argument.

A value is plain (str, int, float, bool or pathlib.Path), a `Template` rendered at each run, a
function called at each run, or any of these wrapped in a `Secret`, which is passed on but shown
as ***. Standard library only: the shim checks what a function returns against these rules.
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

PARAM_TYPES = (str, int, float, bool, os.PathLike)  # pathlib.Path and other paths
SUPPORTED = "str, int, float, bool or pathlib.Path"
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASK = "***"  # how a secret is shown
# Secrets are also hidden by value in what a run says and records (a template or a function may
# copy one into a plain value, an error message may quote one); shorter texts are too common in
# other words to be hidden wherever they appear.
HIDDEN_FROM_LENGTH = 4
# Linux refuses an exec whose single argument is longer than this (MAX_ARG_STRLEN).
ARGUMENT_LIMIT = 128 * 1024
LONGEST_NUMBER_BITS = 3000  # about 900 digits; Python will not write out an int of over 4,300


class Template:
    """A parameter value rendered at each run from a jinja2 template (made by `template()`)."""

    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"template({self.source!r})"


class Secret:
    """A parameter value passed to the script but shown as *** (made by `secret()`); with
    `argument` False, passed in the environment only."""

    __slots__ = ("argument", "value")

    def __init__(self, value: Any, argument: bool = True) -> None:
        self.value, self.argument = value, argument

    def __repr__(self) -> str:
        return f"secret({MASK})" if self.argument else f"secret({MASK}, argument=False)"


def hide_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of the secret values in it (of HIDDEN_FROM_LENGTH characters or more)
    shown as ***, the longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= HIDDEN_FROM_LENGTH and secret in text:
            text = text.replace(secret, MASK)
    return text


def is_dynamic(value: Any) -> bool:
    """Whether `value` is worked out at each run: a template, or a function (not a class)."""
    return isinstance(value, Template) or (callable(value) and not isinstance(value, type))


def argument_text(value: Any) -> str:
    """A parameter value as the script sees it: booleans are 'true'/'false', paths as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    return str(value)


def function_name(function: Any) -> str:
    """How messages name a function of the tasks file: 'name()'. Stable from one install to the
    next (no addresses), since it is part of the manifest."""
    name = getattr(function, "__qualname__", None) or getattr(getattr(function, "func", None), "__qualname__", None)
    return f"{name or type(function).__qualname__}()"


def kind_of(value: Any) -> str:
    """'value', 'template' or 'function', with 'secret ' in front for a secret."""
    inner = value.value if isinstance(value, Secret) else value
    kind = "template" if isinstance(inner, Template) else "function" if is_dynamic(inner) else "value"
    return f"secret {kind}" if isinstance(value, Secret) else kind


def name_problem(key: Any, where: str, seen: dict[str, str]) -> str | None:
    """Why `key` cannot name a parameter in `where` (None if it can); remembers it in `seen`."""
    if not isinstance(key, str) or not NAME_PATTERN.fullmatch(key):
        return (
            f"parameter name {key!r} in {where} must be a string of letters, digits and '_' that"
            " does not start with a digit (it is also exported as ORCHESTRATION_PARAM_<NAME>)"
        )
    if key.upper() in seen:
        return (
            f"parameter names {seen[key.upper()]!r} and {key!r} in {where} both become"
            f" {parameter_variable(key)}; rename one"
        )
    seen[key.upper()] = key
    return None


def text_problem(subject: str, text: str, variable: str | None = None) -> str | None:
    """Why the text of `subject` ("parameter 'day'") cannot be passed to a program (None if it
    can): a NUL byte, text that is not valid Unicode, or more than Linux takes in one argument,
    or in the environment variable `variable` that carries it too (its name counts)."""
    if "\0" in text:
        return f"{subject} contains a NUL byte, which no program argument can carry; remove it"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return (
            f"{subject} contains text that is not valid Unicode (a lone surrogate such as"
            " '\\udcff'), which cannot be passed to a program; decode it properly or remove it"
        )
    whole = size + (len(variable) + 1 if variable else 0)  # NAME=value
    if whole >= ARGUMENT_LIMIT:
        carried = f" ({whole:,} as the variable {variable})" if variable else ""
        return (
            f"{subject} is {size:,} bytes long{carried}; Linux passes at most {ARGUMENT_LIMIT - 1:,}"
            " bytes in one argument or variable, so every run would fail; pass a path to a file that holds it"
        )
    return None


def value_problem(subject: str, value: Any, variable: str | None = None) -> str | None:
    """Why the plain value of `subject` cannot be passed to a program (None if it can): as
    `text_problem` says of its text, or a number too long to be written out at all."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > LONGEST_NUMBER_BITS:
        return f"{subject} is a number of more than 900 digits; pass it as a text, or a path to a file that holds it"
    return text_problem(subject, argument_text(value), variable)


def parameter_variable(key: str) -> str:
    """The environment variable that carries parameter `key` to its script."""
    return f"ORCHESTRATION_PARAM_{key.upper()}"
