"""Deciding a run's skip conditions, in order, stopping at the first that says skip: constants
and built-in conditions from the manifest, functions from the tasks file."""

from __future__ import annotations

from ..compile.manifest import BUILTIN, STATIC, Skip
from ..errors import RunError
from ..rules import conditions

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from .inputs import RunInputs


def evaluate(skip: Skip, inputs: RunInputs) -> bool:
    """Whether `skip` says skip; RunError naming the condition if that cannot be decided."""
    if skip.kind == STATIC:
        return skip.value
    if skip.kind != BUILTIN:
        return inputs.functions().skip_condition(skip, inputs.context())
    spec = skip.condition or {}
    try:
        if not conditions.known(spec.get("type")):
            raise RunError(
                f"the manifest has an unknown built-in skip condition {spec.get('type')!r} (installed"
                " by another version of orchestration?); run `orchestration install TASKS_FILE` again"
            )
        return conditions.check(spec, inputs.context())
    except RunError as error:
        raise RunError(f"skip condition '{skip.description}' failed: {error.message}") from None
    except Exception as error:  # a broken condition must end the run as an error
        raise RunError(f"skip condition '{skip.description}' raised {type(error).__name__}: {error}") from None
