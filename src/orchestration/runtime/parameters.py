"""The parameters of each script run of a task, worked out for this run: plain values from the
manifest, templates rendered and functions called with the run's context, and the parameter sets
of a repeat returned by its function. A secret is passed to the script as it is and shown as ***.

jinja2 (templates) and the tasks file (functions) are imported only by runs that have them.
Every problem is a RunError naming the script and the parameter.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

from ..compile.manifest import Parameter, Parameters, Step
from ..errors import RunError
from ..rules.values import (
    MASK,
    PARAM_TYPES,
    SUPPORTED,
    Secret,
    argument_text,
    name_problem,
    parameter_variable,
    value_problem,
)

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

    from .inputs import RunInputs

REPR_LIMIT = 60  # how much of a wrong value a message shows


class Invocation:
    """One script run: its step, the values passed (all in the environment; as arguments, those
    not in `environment_only`), the values shown (secrets as ***)."""

    __slots__ = ("dynamic", "environment_only", "shown", "step", "values")

    def __init__(
        self,
        step: Step,
        values: dict[str, str],
        shown: dict[str, str],
        dynamic: bool,
        environment_only: frozenset[str] = frozenset(),
    ) -> None:
        self.step, self.values, self.shown, self.dynamic = step, values, shown, dynamic
        self.environment_only = environment_only

    @property
    def script_name(self) -> str:
        return os.path.basename(self.step.script)

    def arguments(self) -> list[str]:
        """The values passed as arguments, in order."""
        return [value for key, value in self.values.items() if key not in self.environment_only]


def invocations(steps: tuple[Step, ...], inputs: RunInputs) -> list[Invocation]:
    """Every script run of the task, in order, with its parameters worked out for this run."""
    found = []
    for step_index, step in enumerate(steps):
        script = os.path.basename(step.script)
        runs = _parameter_sets(step_index, step, script, inputs) if step.runs_from else step.runs
        if step.runs_from and not runs:
            inputs.note(
                f"script {step_index + 1} ({script}) does not run this time: its parameter sets from"
                f" {step.runs_from} are an empty list"
            )
        for run_index, run in enumerate(runs):
            where = f"script {script}" + (f" (parameter set {run_index + 1})" if len(runs) > 1 else "")
            found.append(_invocation(step_index, run_index, step, run, where, bool(step.runs_from), inputs))
    return found


def shown_parameters(shown: dict[str, str]) -> str:
    """Parameters as one line for people: name=value, quoted as a shell would need."""
    return " ".join(f"{key}={value if value == MASK else shlex.quote(value)}" for key, value in shown.items())


def _invocation(
    step_index: int, run_index: int, step: Step, run: Parameters, where: str, dynamic: bool, inputs: RunInputs
) -> Invocation:
    values, shown, environment_only = {}, {}, set()
    for key, parameter in run.items():
        if parameter.text is not None and not parameter.secret:  # a plain value: nothing to work out
            values[key] = shown[key] = parameter.text
            continue
        values[key], hidden, argument = _resolve(
            step_index, run_index, key, parameter, f"{where}: parameter '{key}'", inputs
        )
        shown[key] = MASK if hidden else values[key]
        if not argument:
            environment_only.add(key)
        dynamic = dynamic or parameter.dynamic
    return Invocation(step, values, shown, dynamic, frozenset(environment_only))


def _resolve(
    step_index: int, run_index: int, key: str, parameter: Parameter, where: str, inputs: RunInputs
) -> tuple[str, bool, bool]:
    """The text of one template, function or secret value, whether it is secret, and whether it
    is passed as an argument."""
    hidden, argument = parameter.secret, parameter.argument
    if parameter.text is not None:
        return parameter.text, hidden, argument
    if parameter.template is not None:
        # A secret template is not shown, nor what it raised (the text could hold the secret).
        shown = "(secret)" if hidden else repr(parameter.template)
        from ..rules import quick_templates  # only runs with templates

        try:
            text = quick_templates.render(parameter.template, inputs.context())
            if text is None:  # not a simple template: jinja2 renders it (or says what is wrong)
                from ..rules import templates  # imports jinja2: only runs with such templates pay for it

                text = templates.render(parameter.template, inputs.context())
        except Exception as error:  # undefined names, wrong filters, ...
            detail = "" if hidden else f": {error}"
            raise RunError(f"{where}: template {shown} raised {type(error).__name__}{detail}") from None
        return _argument(f"{where}: template {shown} gave", key, text, hidden, argument)
    what = f"{where} from {parameter.function}"
    result = inputs.functions().parameter(step_index, run_index, key, what, inputs.context(), hidden)
    return _argument(f"{what} returned", key, result, hidden, argument)


def _argument(what: str, key: str, value: Any, hidden: bool, argument: bool = True) -> tuple[str, bool, bool]:
    """A worked-out value of parameter `key` as (argument text, secret, passed as an argument), or
    a RunError saying what is wrong with it. A function may return secret(...) to make its value
    secret."""
    if isinstance(value, Secret):
        value, hidden, argument = value.value, True, argument and value.argument
    if not isinstance(value, PARAM_TYPES):
        raise RunError(f"{what} {_shown_value(value, hidden)}; return {SUPPORTED}, or secret() of one")
    problem = value_problem("text", value, parameter_variable(key))
    if problem:
        raise RunError(f"{what} {problem}")
    return argument_text(value), hidden, argument


def _shown_value(value: Any, hidden: bool) -> str:
    if hidden:
        return f"{type(value).__name__} (a secret: its value is not shown)"
    text = repr(value)
    return f"{type(value).__name__} {text[:REPR_LIMIT] + '...' if len(text) > REPR_LIMIT else text}"


def _parameter_sets(step_index: int, step: Step, script: str, inputs: RunInputs) -> list[Parameters]:
    """The parameter sets a repeat's function returns for this run, in the manifest's form."""
    what = f"script {script}: parameter sets from {step.runs_from}"
    result = inputs.functions().parameter_sets(step_index, what, inputs.context())
    if not isinstance(result, (list, tuple)):
        raise RunError(f"{what} returned {_shown_value(result, False)}; return a list of dicts, one per run")
    sets: list[Parameters] = []
    for number, params in enumerate(result, start=1):
        if not isinstance(params, Mapping):
            raise RunError(
                f"{what}: item {number} is {_shown_value(params, False)}, not a dict of parameter name to value"
            )
        seen: dict[str, str] = {}
        entry: dict[str, Parameter] = {}
        for key, value in params.items():
            problem = name_problem(key, f"item {number}", seen)
            if problem:
                raise RunError(f"{what}: {problem}")
            text, hidden, argument = _argument(f"{what}: item {number} has parameter {key!r} =", key, value, False)
            entry[key] = Parameter(text=text, secret=hidden, argument=argument)
        sets.append(entry)
    return sets
