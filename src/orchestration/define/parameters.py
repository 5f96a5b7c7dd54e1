"""Parameter values in a tasks file: `template(...)`, `secret(...)`, and the check of each
parameter dict at the call that gives it.

    task.add_script("fetch.sh", {
        "day": template("{{ yesterday }}"),                  # rendered at each run
        "files": lambda context: len(os.listdir("/in")),     # called at each run
        "token": secret("s3cr3t"),                           # passed on, shown as ***
    })
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..errors import DefinitionError
from ..rules import templates
from ..rules.arity import arity_of, signature_text
from ..rules.values import (
    PARAM_TYPES,
    SUPPORTED,
    Secret,
    Template,
    function_name,
    is_dynamic,
    name_problem,
    parameter_variable,
    value_problem,
)

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

_check_templates = True  # False while a run loads the tasks file: the install checked them


@contextmanager
def unchecked_templates() -> Iterator[None]:
    """While a run imports the tasks file for its functions, template() does not check its source
    again (that would load jinja2): the install checked it, and the run renders the manifest's."""
    global _check_templates
    saved, _check_templates = _check_templates, False
    try:
        yield
    finally:
        _check_templates = saved


def template(source: str) -> Template:
    """A value rendered at each run: jinja2 with the run's times, ids and environment."""
    if not isinstance(source, str):
        raise DefinitionError(
            f"template(): source must be a string such as '{{{{ yesterday }}}}', not"
            f" {type(source).__name__} {source!r}",
            field="source",
        )
    if _check_templates:
        templates.check(source)
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
    if isinstance(value, PARAM_TYPES):
        problem = value_problem("the value", value)
        if problem:  # the message never shows the value: it is a secret
            raise DefinitionError(f"secret(): {problem}", field="value")
    return Secret(value, argument)


def checked_parameters(params: Any, call: str, where: str, task: str) -> dict[str, Any]:
    """A parameter dict as given to add_script/add_repeat, or a DefinitionError naming the task,
    the parameter and the fix."""
    if not isinstance(params, Mapping):
        raise DefinitionError(
            f"{call}: {where} must be a dict of parameter name to value, not {type(params).__name__} {params!r}",
            task=task,
            field="script_parameters",
        )
    seen: dict[str, str] = {}
    for key, value in params.items():
        problem = name_problem(key, where, seen) or _value_problem(key, value)
        if problem:
            raise DefinitionError(f"{call}: {problem}", task=task, field="script_parameters")
    return dict(params)


def function_problem(function: Any, what: str) -> str | None:
    """Why `function` cannot be called at a run, with no argument or with the run's RunContext
    (None if it can, or if Python cannot tell, as for some built-ins)."""
    if isinstance(function, Template) or not callable(function):
        return None
    arity = arity_of(function)
    if arity is None or arity.callable_by_a_run:
        return None
    return (
        f"{what} {function_name(function)} takes {signature_text(function)}; a function of the tasks file is called"
        " at each run with no argument or with one, the run's RunContext"
    )


def _value_problem(key: str, value: Any) -> str | None:
    inner = value.value if isinstance(value, Secret) else value
    if is_dynamic(inner):
        return function_problem(inner, f"parameter {key!r}:")  # what it gives is checked at each run
    if isinstance(value, Secret):  # secret() checked its kind and text; its variable's length is known here
        return value_problem(f"parameter {key!r}", inner, parameter_variable(key))
    if not isinstance(value, PARAM_TYPES):
        return (
            f"parameter {key!r} has a value of type {type(value).__name__} ({value!r}); use"
            f" {SUPPORTED}, or work it out at each run with template('...') or a function"
        )
    return value_problem(f"parameter {key!r}", value, parameter_variable(key))
