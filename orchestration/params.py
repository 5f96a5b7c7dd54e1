"""Parameter values: plain ones, `template(...)` and `secret(...)`, how each is written into the
manifest, and how templates are rendered at run time.

    task.add_script("fetch.sh", {
        "day": template("{{ yesterday }}"),                  # rendered at each run
        "files": lambda context: len(os.listdir("/in")),     # called at each run
        "token": secret("s3cr3t"),                           # passed on, shown as ***
    })

jinja2 is imported only to check a template (when the tasks file is loaded) and to render one (in
a run that has one); this module itself is standard library only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DefinitionError
from .resolve import MASK

if TYPE_CHECKING:
    from .context import RunContext

PARAM_TYPES = (str, int, float, bool, Path)
SUPPORTED = "str, int, float, bool or pathlib.Path"
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# What a template can use, besides jinja2's own names: documented in the README.
TEMPLATE_VARIABLES = (
    "scheduled_time", "now", "today", "yesterday", "tomorrow",
    "task", "namespace", "run_id", "trigger", "env",
)
TEMPLATE_FUNCTIONS = {
    "days": lambda n: timedelta(days=n),
    "hours": lambda n: timedelta(hours=n),
    "minutes": lambda n: timedelta(minutes=n),
}
TEMPLATE_FILTERS = {"strftime": lambda moment, fmt: moment.strftime(fmt)}


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

    __slots__ = ("value", "argument")

    def __init__(self, value: Any, argument: bool = True) -> None:
        self.value, self.argument = value, argument

    def __repr__(self) -> str:
        return f"secret({MASK})" if self.argument else f"secret({MASK}, argument=False)"


def template(source: str) -> Template:
    """A value rendered at each run: jinja2 with the run's times, ids and environment."""
    if not isinstance(source, str):
        raise DefinitionError(
            f"template(): source must be a string such as '{{{{ yesterday }}}}', not"
            f" {type(source).__name__} {source!r}",
            field="source",
        )
    _check_template(source)
    return Template(source)


def secret(value: Any, *, argument: bool = True) -> Secret:
    """A value passed to the script as it is but shown as *** in the journal, logs and output.

    With `argument=False` it is not a command-line argument, which every user of the machine can
    read in `ps`, but only the script's ORCHESTRATION_PARAM_<KEY> environment variable, which
    only its owner (and root) can read."""
    if not isinstance(argument, bool):
        raise DefinitionError(
            f"secret(): argument must be True (an argument and an environment variable) or False (the"
            f" environment variable only), not {argument!r}",
            field="argument",
        )
    if isinstance(value, Secret):
        return Secret(value.value, value.argument and argument)
    if not (is_dynamic(value) or isinstance(value, PARAM_TYPES)):
        raise DefinitionError(
            f"secret(): the value must be a {SUPPORTED}, a template('...') or a function, not"
            f" {type(value).__name__}",  # never the value itself: it is a secret
            field="value",
        )
    if isinstance(value, PARAM_TYPES) and "\0" in str(value):
        raise DefinitionError(
            "secret(): the value contains a NUL byte, which no program argument can carry; remove it",
            field="value",
        )
    return Secret(value, argument)


def is_dynamic(value: Any) -> bool:
    """Whether `value` is worked out at each run: a template, or a function (not a class)."""
    return isinstance(value, Template) or (callable(value) and not isinstance(value, type))


def argument_text(value: Any) -> str:
    """A parameter value as the script sees it: booleans are 'true'/'false', paths as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def function_name(function: Any) -> str:
    """How messages name a function of the tasks file: 'name()'. Stable from one install to the
    next (no addresses), since it is part of the manifest."""
    name = getattr(function, "__qualname__", None) or getattr(getattr(function, "func", None), "__qualname__", None)
    return f"{name or type(function).__qualname__}()"


def encode(value: Any) -> str | dict[str, Any]:
    """A value as the manifest stores it: plain text, or an object for templates, functions and
    secrets (the function itself stays in the tasks file; the shim finds it by position)."""
    hidden = isinstance(value, Secret)
    inner = value.value if hidden else value
    if isinstance(inner, Template):
        entry: dict[str, Any] = {"template": inner.source}
    elif is_dynamic(inner):
        entry = {"callable": function_name(inner)}
    elif not hidden:
        return argument_text(inner)
    else:
        entry = {"value": argument_text(inner)}
    if hidden:
        entry["secret"] = True
        if not value.argument:
            entry["argument"] = False
    return entry


def kind_of(value: Any) -> str:
    """'value', 'template' or 'function', with 'secret ' in front for a secret."""
    inner = value.value if isinstance(value, Secret) else value
    kind = "template" if isinstance(inner, Template) else "function" if is_dynamic(inner) else "value"
    return f"secret {kind}" if isinstance(value, Secret) else kind


def name_problem(key: Any, where: str, seen: dict[str, str]) -> str | None:
    """Why `key` cannot name a parameter in `where` (None if it can); remembers it in `seen`."""
    if not isinstance(key, str) or not NAME_PATTERN.match(key):
        return (
            f"parameter name {key!r} in {where} must be a string of letters, digits and '_' that"
            " does not start with a digit (it is also exported as ORCHESTRATION_PARAM_<NAME>)"
        )
    if key.upper() in seen:
        return (
            f"parameter names {seen[key.upper()]!r} and {key!r} in {where} both become"
            f" ORCHESTRATION_PARAM_{key.upper()}; rename one"
        )
    seen[key.upper()] = key
    return None


def nul_problem(key: str, value: Any) -> str | None:
    """Why a value cannot be passed as an argument because of a NUL byte (None if it can)."""
    if "\0" in str(value):
        return f"parameter {key!r} contains a NUL byte, which no program argument can carry; remove it"
    return None


# --- templates ---------------------------------------------------------------------------------------

_environment = None


def _jinja() -> Any:
    """The one jinja2 environment: strict about undefined names, no HTML escaping."""
    global _environment
    if _environment is None:
        import jinja2  # noqa: PLC0415 - only tasks with template parameters pay for it

        _environment = jinja2.Environment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        _environment.globals.update(TEMPLATE_FUNCTIONS)
        _environment.filters.update(TEMPLATE_FILTERS)
    return _environment


def _check_template(source: str) -> None:
    """Compile the template and check the names it uses, so a mistake fails at the call."""
    import jinja2  # noqa: PLC0415

    if "\0" in source:
        raise DefinitionError(f"template({source!r}): contains a NUL byte; remove it", field="source")
    environment = _jinja()
    try:
        parsed = environment.parse(source)
        _check_names(source, parsed, environment)
        environment.compile(parsed)
    except jinja2.TemplateSyntaxError as error:
        message = error.message or ""
        raise DefinitionError(
            f"template({source!r}): syntax error on line {error.lineno}: {message.rstrip('.')}; fix the template",
            field="source",
            hint=f"Besides jinja2's own filters, templates have: {', '.join(TEMPLATE_FILTERS)}."
            if "filter" in message else None,
        ) from None


def _check_names(source: str, parsed: Any, environment: Any) -> None:
    """Refuse names a run would not define, with a "did you mean"."""
    import difflib  # noqa: PLC0415

    from jinja2 import meta  # noqa: PLC0415

    known = set(TEMPLATE_VARIABLES) | set(environment.globals)
    for name in sorted(meta.find_undeclared_variables(parsed) - known):
        close = difflib.get_close_matches(name, TEMPLATE_VARIABLES + tuple(TEMPLATE_FUNCTIONS), n=1)
        raise DefinitionError(
            f"template({source!r}): unknown name {name!r}; a template can use"
            f" {', '.join(TEMPLATE_VARIABLES)} and the functions {', '.join(TEMPLATE_FUNCTIONS)}",
            field="source",
            hint=f"Did you mean {close[0]!r}?" if close else None,
        )


def template_variables(context: RunContext) -> dict[str, Any]:
    """What a template sees at a run."""
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


def render(source: str, context: RunContext) -> str:
    """The template's text for the run `context` describes."""
    return _jinja().from_string(source).render(template_variables(context))
