"""The parameters of each script run of a task, worked out for this run: plain values from the
manifest, templates rendered and functions called with the run's context, and the parameter sets
of a repeat returned by its function. A secret is passed to the script as it is and shown as ***.

Standard library only; jinja2 (templates) and the tasks file (functions) are imported only by
runs that have them. Every problem is a RunError naming the script and the parameter.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # typing itself costs start-up time on every firing
if TYPE_CHECKING:
    from typing import Any

from .errors import RunError

MASK = "***"  # how a secret is shown
REPR_LIMIT = 60  # how much of a wrong value a message shows


class Invocation:
    """One script run: its step, the values passed (all in the environment; as arguments, those
    not in `environment_only`), the values shown (secrets as ***)."""

    __slots__ = ("step", "values", "shown", "dynamic", "environment_only")

    def __init__(self, step: dict[str, Any], values: dict[str, str], shown: dict[str, str], dynamic: bool,
                 environment_only: frozenset[str] = frozenset()) -> None:
        self.step, self.values, self.shown, self.dynamic = step, values, shown, dynamic
        self.environment_only = environment_only

    def arguments(self) -> list[str]:
        """The values passed as arguments, in order."""
        return [value for key, value in self.values.items() if key not in self.environment_only]


def invocations(steps: list[dict[str, Any]], runtime: Any) -> list[Invocation]:
    """Every script run of the task, in order, with its parameters worked out for this run.

    `runtime` gives `context()`, `user_code()` and `note(message)` on demand."""
    found = []
    for step_index, step in enumerate(steps):
        script = os.path.basename(step["script"])
        from_function = "runs_from" in step
        runs = _parameter_sets(step_index, step, script, runtime) if from_function else step["runs"]
        if from_function and not runs:
            runtime.note(
                f"script {step_index + 1} ({script}) does not run this time: its parameter sets from"
                f" {step['runs_from']['callable']} are an empty list"
            )
        for run_index, run in enumerate(runs):
            where = f"script {script}" + (f" (parameter set {run_index + 1})" if len(runs) > 1 else "")
            found.append(_invocation(step_index, run_index, step, run, where, from_function, runtime))
    return found


def shown_parameters(shown: dict[str, str]) -> str:
    """Parameters as one line for people: name=value, quoted as a shell would need."""
    import shlex  # noqa: PLC0415

    return " ".join(f"{key}={value if value == MASK else shlex.quote(value)}" for key, value in shown.items())


def _invocation(step_index: int, run_index: int, step: dict[str, Any], run: dict[str, Any], where: str,
                dynamic: bool, runtime: Any) -> Invocation:
    values, shown, environment_only = {}, {}, set()
    for key, spec in run.items():
        if isinstance(spec, str):  # a plain value: nothing to work out
            values[key] = shown[key] = spec
            continue
        values[key], hidden, argument = _resolve(step_index, run_index, key, spec, f"{where}: parameter '{key}'",
                                                 runtime)
        shown[key] = MASK if hidden else values[key]
        if not argument:
            environment_only.add(key)
        dynamic = dynamic or "value" not in spec
    return Invocation(step, values, shown, dynamic, frozenset(environment_only))


def _resolve(step_index: int, run_index: int, key: str, spec: dict[str, Any], where: str,
             runtime: Any) -> tuple[str, bool, bool]:
    """The text of one template, function or secret value, whether it is secret, and whether it
    is passed as an argument."""
    hidden, argument = bool(spec.get("secret")), spec.get("argument", True)
    if "value" in spec:
        return spec["value"], hidden, argument
    if "template" in spec:
        from .params import render  # noqa: PLC0415 - imports jinja2

        # A secret template is not shown, nor what it raised (the text could hold the secret).
        shown = "(secret)" if hidden else repr(spec["template"])
        try:
            text = render(spec["template"], runtime.context())
        except Exception as error:  # noqa: BLE001 - undefined names, wrong filters, ...
            detail = "" if hidden else f": {error}"
            raise RunError(f"{where}: template {shown} raised {type(error).__name__}{detail}") from None
        return _argument(f"{where}: template {shown} gave", text, hidden, argument)
    what = f"{where} from {spec['callable']}"
    result = runtime.user_code().parameter(step_index, run_index, key, what, runtime.context(), hidden)
    return _argument(f"{what} returned", result, hidden, argument)


def _argument(what: str, value: Any, hidden: bool, argument: bool = True) -> tuple[str, bool, bool]:
    """A worked-out value as (argument text, secret, passed as an argument), or a RunError saying
    what is wrong with it. A function may return secret(...) to make its value secret."""
    from .params import PARAM_TYPES, SUPPORTED, Secret, argument_text  # noqa: PLC0415

    if isinstance(value, Secret):
        value, hidden, argument = value.value, True, argument and value.argument
    if not isinstance(value, PARAM_TYPES):
        raise RunError(f"{what} {_shown_value(value, hidden)}; return {SUPPORTED}, or secret() of one")
    text = argument_text(value)
    if "\0" in text:
        raise RunError(f"{what} text with a NUL byte, which no program argument can carry")
    return text, hidden, argument


def _shown_value(value: Any, hidden: bool) -> str:
    if hidden:
        return f"{type(value).__name__} (a secret: its value is not shown)"
    text = repr(value)
    return f"{type(value).__name__} {text[:REPR_LIMIT] + '...' if len(text) > REPR_LIMIT else text}"


def _parameter_sets(step_index: int, step: dict[str, Any], script: str, runtime: Any) -> list[dict[str, Any]]:
    """The parameter sets a repeat's function returns for this run, in the manifest's form."""
    from collections.abc import Mapping  # noqa: PLC0415

    from .params import Secret, encode, name_problem  # noqa: PLC0415

    what = f"script {script}: parameter sets from {step['runs_from']['callable']}"
    result = runtime.user_code().parameter_sets(step_index, what, runtime.context())
    if not isinstance(result, (list, tuple)):
        raise RunError(f"{what} returned {_shown_value(result, False)}; return a list of dicts, one per run")
    sets = []
    for number, params in enumerate(result, start=1):
        if not isinstance(params, Mapping):
            raise RunError(
                f"{what}: item {number} is {_shown_value(params, False)}, not a dict of parameter name to value"
            )
        seen: dict[str, str] = {}
        entry: dict[str, Any] = {}
        for key, value in params.items():
            problem = name_problem(key, f"item {number}", seen)
            if problem:
                raise RunError(f"{what}: {problem}")
            text, hidden, argument = _argument(f"{what}: item {number} has parameter {key!r} =", value, False)
            entry[key] = encode(Secret(text, argument)) if hidden else text
        sets.append(entry)
    return sets
