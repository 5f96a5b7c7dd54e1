"""Template parameters: what a template can use, checked when the tasks file is loaded and
rendered at each run with the same jinja2 environment.

jinja2 is imported only here, and only by tasks that have a template parameter.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ..errors import DefinitionError
from .context import RunContext
from .quick_templates import variables

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    import jinja2

__all__ = [
    "TEMPLATE_FILTERS",
    "TEMPLATE_FUNCTIONS",
    "TEMPLATE_VARIABLES",
    "check",
    "environment",
    "render",
    "variables",
]

# What a template can use, besides jinja2's own names: documented in docs/parameters.md.
TEMPLATE_VARIABLES = (
    "scheduled_time",
    "now",
    "today",
    "yesterday",
    "tomorrow",
    "task",
    "namespace",
    "run_id",
    "trigger",
    "env",
)


def _days(n: float) -> timedelta:
    return timedelta(days=n)


def _hours(n: float) -> timedelta:
    return timedelta(hours=n)


def _minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def _strftime(moment: date | datetime, fmt: str) -> str:
    return moment.strftime(fmt)


TEMPLATE_FUNCTIONS = {"days": _days, "hours": _hours, "minutes": _minutes}
TEMPLATE_FILTERS = {"strftime": _strftime}

_environment: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    """The one jinja2 environment: strict about undefined names, no HTML escaping."""
    global _environment
    if _environment is None:
        import jinja2

        _environment = jinja2.Environment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        _environment.globals.update(TEMPLATE_FUNCTIONS)
        _environment.filters.update(TEMPLATE_FILTERS)
    return _environment


def check(source: str) -> None:
    """Compile the template and check the names it uses, so a mistake fails at the call."""
    import jinja2
    from jinja2 import meta

    if "\0" in source:
        raise DefinitionError(f"template({source!r}): contains a NUL byte; remove it", field="source")
    jinja = environment()
    try:
        parsed = jinja.parse(source)
        known = set(TEMPLATE_VARIABLES) | set(jinja.globals)
        for name in sorted(meta.find_undeclared_variables(parsed) - known):
            import difflib  # only to word an error

            close = difflib.get_close_matches(name, TEMPLATE_VARIABLES + tuple(TEMPLATE_FUNCTIONS), n=1)
            raise DefinitionError(
                f"template({source!r}): unknown name {name!r}; a template can use"
                f" {', '.join(TEMPLATE_VARIABLES)} and the functions {', '.join(TEMPLATE_FUNCTIONS)}",
                field="source",
                hint=f"Did you mean {close[0]!r}?" if close else None,
            )
        jinja.compile(parsed)
    except jinja2.TemplateSyntaxError as error:
        message = error.message or ""
        raise DefinitionError(
            f"template({source!r}): syntax error on line {error.lineno}: {message.rstrip('.')}; fix the template",
            field="source",
            hint=f"Besides jinja2's own filters, templates have: {', '.join(TEMPLATE_FILTERS)}."
            if "filter" in message
            else None,
        ) from None


def render(source: str, context: RunContext) -> str:
    """The template's text for the run `context` describes."""
    return environment().from_string(source).render(variables(context))
