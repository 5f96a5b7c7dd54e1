"""The crontab target: one fenced block per namespace in the user's crontab.

`render(manifest, path)` returns the block, `merge(crontab, namespace, block)` puts it in place
and `find_block(crontab, namespace)` finds it again; all are pure text functions. Reading and
writing the crontab is the installer's (`installer.crontab`).

The block owns the lines from `# BEGIN orchestration:NS` to `# END orchestration:NS`. Every other
line of the crontab is kept byte for byte. The entries are written here, not by a library: the
time fields are the ones the schedule was parsed into, with the `*` prefixes that decide how the
daemon treats a clock change, and `%` (a newline to cron) is escaped in the command.
"""

from __future__ import annotations

import re
import shlex

from ..compile.manifest import Manifest, Timing
from ..errors import FenceError
from ..frozen import Frozen
from ..rules.firing import Fields
from .clock import superset

NAME = "crontab"
REBOOT = "@reboot"


def begin_line(namespace: str) -> str:
    return f"# BEGIN orchestration:{namespace}"


def end_line(namespace: str) -> str:
    return f"# END orchestration:{namespace}"


def marker(namespace: str, task_id: str) -> str:
    return f"orchestration:{namespace}:{task_id}"


def file_name(namespace: str) -> str:
    """The name a namespace's block goes by in rendered output (`compile --output DIR`)."""
    return f"{namespace}.crontab"


# --- rendering --------------------------------------------------------------------------------


def render(manifest: Manifest, manifest_path: str) -> dict[str, str]:
    """The namespace's block, by file name."""
    return {file_name(manifest.namespace): render_block(manifest, manifest_path)}


def render_block(manifest: Manifest, manifest_path: str, output: str | None = None) -> str:
    """The namespace's block: a header, then per task a comment in words and the entry (pure:
    everything comes from the manifest, so the block installed before can be rendered again).
    `output`: a file every entry appends its output to, instead of cron's mail."""
    namespace, tasks_file = manifest.namespace, manifest.tasks_file
    cli = shlex.quote(manifest.cli_program)
    lines = [
        begin_line(namespace),
        f"# Installed by orchestration from {tasks_file}; edit that file, not these lines.",
        f"# Update: {cli} install {shlex.quote(tasks_file)}",
        f"# Remove: {cli} uninstall --name {namespace}",
    ]
    for task_id, task in manifest.tasks.items():
        for timing in task.timings:  # a line per schedule; the shim runs a minute they share once
            lines.append(f"# Task {task_id}: {timing.description} ({timing.expression.strip()})")
            lines.append(render_entry(manifest, manifest_path, task_id, timing, output=output))
        if task.policy.catch_up:
            lines.append(f"# Task {task_id} catches up at start-up on a firing missed while the machine was down")
            lines.append(render_entry(manifest, manifest_path, task_id, task.timings[0], catch_up=True, output=output))
    lines.append(end_line(namespace))
    return "\n".join(lines) + "\n"


def render_entry(
    manifest: Manifest,
    manifest_path: str,
    task_id: str,
    timing: Timing,
    *,
    catch_up: bool = False,
    output: str | None = None,
) -> str:
    """The crontab line of one schedule of a task; with `catch_up`, its @reboot line that runs a
    firing missed while the machine was down; with `output`, appending what it prints to that
    file. A task in a zone of its own, or with L, W or # in its days, fires at a superset in the
    machine's zone and the shim's gate (`--gate`) runs only its instants."""
    gated = not catch_up and timing.fields is not None and (timing.zone is not None or timing.fields.extended)
    if catch_up:
        when = REBOOT
    elif gated and timing.fields is not None:
        when = fields_text(superset(timing.fields, timing.zone or manifest.machine_zone, manifest.machine_zone))
    else:
        when = time_fields(timing.cron)
    extra = ["--catch-up"] if catch_up else ["--gate"] if gated else []
    words = (manifest.exec_program, manifest_path, task_id, *extra)
    command = " ".join(shlex.quote(word) for word in words)
    if output is not None:
        command += f" >>{shlex.quote(output)} 2>&1"
    return f"{when} {escape_percent(command)} # {marker(manifest.namespace, task_id)}"


def time_fields(cron: str) -> str:
    """The five time fields as the entry writes them: a field that is a list of plain numbers in
    ascending order (a reversed range such as `fri-mon` was parsed into `5,6,0,1`); every other
    field, with its `*` prefix, as the schedule was parsed."""
    return " ".join(
        ",".join(str(value) for value in sorted({int(item) for item in field.split(",")}))
        if _NUMBERS.fullmatch(field)
        else field
        for field in cron.split(" ")
    )


_NUMBERS = re.compile(r"\d+(?:,\d+)*")


def fields_text(fields: Fields) -> str:
    """Expanded fields as crontab time fields: a full field as `*`, others as sorted lists."""
    full = (range(60), range(24), range(1, 32), range(1, 13), range(7))
    return " ".join(
        "*" if values == frozenset(every) else _runs(sorted(values)) for values, every in zip(fields.sets, full)
    )


def _runs(values: list[int]) -> str:
    """Ascending values with runs of three or more as `a-b`: `1,2,3,4,5` is `1-5`."""
    parts, start = [], 0
    for end in range(len(values)):
        if end + 1 < len(values) and values[end + 1] == values[end] + 1:
            continue
        run = values[start : end + 1]
        parts += [f"{run[0]}-{run[-1]}"] if len(run) >= 3 else [str(value) for value in run]
        start = end + 1
    return ",".join(parts)


def escape_percent(command: str) -> str:
    """Cron turns an unescaped `%` of a command into a newline: write each as `\\%`."""
    return command.replace("%", "\\%")


# --- the block in the crontab text --------------------------------------------------------------


class BlockSpan(Frozen):
    start: int  # index of the BEGIN line
    end: int  # index of the END line


def lines_of(text: str) -> list[str]:
    """The lines of a crontab, each with its newline: split on newlines only (cron's own
    lines), not on the carriage returns, form feeds or other separators str.splitlines knows."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def find_block(text: str, namespace: str) -> str | None:
    """The namespace's block as it stands in `text`, or None."""
    lines = lines_of(text)
    span = _locate(lines, namespace)
    return "".join(lines[span.start : span.end + 1]) if span else None


def merge(text: str, namespace: str, block: str | None) -> str:
    """`text` with the namespace's block replaced by `block` (added at the end; removed if None)."""
    lines = lines_of(text)
    span = _locate(lines, namespace)
    new_lines = lines_of(block) if block else []
    if span is not None:
        return "".join(lines[: span.start] + new_lines + lines[span.end + 1 :])
    if not new_lines:
        return text
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"  # cron ignores a last line without a newline
    return "".join(lines + new_lines)


def _locate(lines: list[str], namespace: str) -> BlockSpan | None:
    """Where the block is; FenceError if its fence or entries were changed by hand."""
    begin, end = begin_line(namespace), end_line(namespace)
    stripped = [line.removesuffix("\n") for line in lines]
    starts = [i for i, line in enumerate(stripped) if line == begin]
    ends = [i for i, line in enumerate(stripped) if line == end]
    entry = re.compile(rf"#\s*{re.escape(marker(namespace, ''))}[A-Za-z0-9_-]+\s*$")
    if not starts and not ends:
        strays = [i + 1 for i, line in enumerate(stripped) if entry.search(line)]
        if strays:
            raise _damaged(
                namespace,
                f"entries marked orchestration:{namespace}: on line(s)"
                f" {_numbers(strays)} have no '{begin}' line around them",
            )
        return None
    if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
        raise _damaged(
            namespace, f"expected one '{begin}' line followed by one '{end}' line, found {len(starts)} and {len(ends)}"
        )
    span = BlockSpan(starts[0], ends[0])
    outside = [i + 1 for i, line in enumerate(stripped) if entry.search(line) and not span.start <= i <= span.end]
    if outside:
        raise _damaged(namespace, f"line(s) {_numbers(outside)} carry its marker outside its block")
    foreign = [
        i + 1
        for i in range(span.start + 1, span.end)
        if stripped[i].strip() and not stripped[i].lstrip().startswith("#") and not entry.search(stripped[i])
    ]
    if foreign:
        raise _damaged(
            namespace,
            f"line(s) {_numbers(foreign)} inside its block are not entries"
            " orchestration wrote; move them outside the block",
        )
    return span


def _numbers(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _damaged(namespace: str, what: str) -> FenceError:
    return FenceError(
        f"the crontab block of namespace '{namespace}' was edited by hand: {what}.",
        hint=(
            "Nothing was changed. Repair it with `crontab -e`: keep your own lines outside the"
            f" block, and either restore the block or delete every line from '{begin_line(namespace)}'"
            f" to '{end_line(namespace)}' (and any line ending in '# {marker(namespace, '')}...'),"
            " then run the command again."
        ),
    )
