"""The crontab target: one fenced block per namespace in the user's crontab.

`render_block(manifest, path)` returns the block's text and `merge(crontab, namespace, block)` puts it in
place; both are pure. Only `UserCrontab` reads and writes the crontab, through python-crontab.

The block owns the lines from `# BEGIN orchestration:NS` to `# END orchestration:NS`. Every other
line of the crontab is kept byte for byte: python-crontab re-renders the lines it parses (it drops
indentation, moves variable lines and turns `0 * * * *` into `@hourly`), so it parses only our
lines, and the rest of the text is carried around it untouched.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import crontab as python_crontab

from ..errors import ApplyError, FenceError, SchedulerFullError, SchedulerUnavailableError
from ..faults import checkpoint
from ..manifest import Manifest
from ..spare import spare_dir
from ..state import locked
from ..schedule import REBOOT, Schedule, parse_schedule

NAME = "crontab"
INSTALL_CRON_HINT = (
    "Install a cron daemon and its crontab command (Debian/Ubuntu: `apt-get install cron`, then"
    " `service cron start`), or use `--backend systemd`."
)
# How long after the start of a minute cron may still be reading crontabs (it usually takes
# milliseconds; the margin covers a loaded machine).
CRON_LOOKS_WITHIN_SECONDS = 5


def begin_line(namespace: str) -> str:
    return f"# BEGIN orchestration:{namespace}"


def end_line(namespace: str) -> str:
    return f"# END orchestration:{namespace}"


def marker(namespace: str, task_id: str) -> str:
    return f"orchestration:{namespace}:{task_id}"


# --- rendering --------------------------------------------------------------------------------


def render_block(manifest: Manifest, manifest_path: str) -> str:
    """The namespace's block: a header, then per task a comment in words and the entry (pure:
    everything comes from the manifest, so the block installed before can be rendered again)."""
    namespace, tasks_file = manifest["namespace"], manifest["tasks_file"]
    cli = shlex.quote(manifest["cli"])
    lines = [
        begin_line(namespace),
        f"# Installed by orchestration from {tasks_file}; edit that file, not these lines.",
        f"# Update: {cli} install {shlex.quote(tasks_file)}",
        f"# Remove: {cli} uninstall --name {namespace}",
    ]
    for task_id, task in manifest["tasks"].items():
        lines.append(f"# Task {task_id}: {task['description']} ({task['schedule'].strip()})")
        lines.append(render_entry(manifest, manifest_path, task_id))
        if task["policy"].get("catch_up"):
            lines.append(f"# Task {task_id} catches up at start-up on a firing missed while the machine was down")
            lines.append(render_entry(manifest, manifest_path, task_id, catch_up=True))
    lines.append(end_line(namespace))
    return "\n".join(lines) + "\n"


def render_entry(manifest: Manifest, manifest_path: str, task_id: str, *, catch_up: bool = False) -> str:
    """The crontab line of one task, rendered by python-crontab (which escapes '%'); with
    `catch_up`, its @reboot line that runs a firing missed while the machine was down."""
    cron = REBOOT if catch_up else manifest["tasks"][task_id]["cron"]
    words = (manifest["exec"], manifest_path, task_id, *(["--catch-up"] if catch_up else []))
    command = " ".join(shlex.quote(part) for part in words)
    item = python_crontab.CronItem(command=command, comment=marker(manifest["namespace"], task_id))
    item.setall(cron)
    if cron == REBOOT:
        line = item.render()
    else:
        with _no_special_shortcuts(python_crontab):
            line = item.render()
    _check_entry_reads_as_planned(line, cron)
    return line


@contextmanager
def _no_special_shortcuts(module) -> Iterator[None]:
    # python-crontab writes `0 * * * *` as `@hourly` unless this switch is off (which also turns
    # `@reboot` into `* * * * *`); the entry must carry the fields the preview was computed from.
    saved = module.SPECIALS_CONVERSION
    module.SPECIALS_CONVERSION = False
    try:
        yield
    finally:
        module.SPECIALS_CONVERSION = saved


def _check_entry_reads_as_planned(line: str, cron: str) -> None:
    planned = parse_schedule(cron)
    fields = line.split(" ")[: 1 if planned.reboot else 5]
    if _meaning(parse_schedule(" ".join(fields))) != _meaning(planned):
        raise ApplyError(f"internal error: crontab entry {line!r} does not read as {cron!r}")


def _meaning(schedule: Schedule) -> tuple:
    return (schedule.reboot, schedule.minutes, schedule.hours, schedule.days, schedule.months,
            schedule.weekdays, schedule.days_star, schedule.weekdays_star)


# --- the block in the crontab text --------------------------------------------------------------


@dataclass(frozen=True)
class BlockSpan:
    start: int  # index of the BEGIN line
    end: int  # index of the END line


def find_block(text: str, namespace: str) -> str | None:
    """The namespace's block as it stands in `text`, or None."""
    lines = text.splitlines(keepends=True)
    span = _locate(lines, namespace)
    return "".join(lines[span.start : span.end + 1]) if span else None


def merge(text: str, namespace: str, block: str | None) -> str:
    """`text` with the namespace's block replaced by `block` (added at the end; removed if None)."""
    lines = text.splitlines(keepends=True)
    span = _locate(lines, namespace)
    new_lines = block.splitlines(keepends=True) if block else []
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
    stripped = [line.rstrip("\r\n") for line in lines]
    starts = [i for i, line in enumerate(stripped) if line == begin]
    ends = [i for i, line in enumerate(stripped) if line == end]
    entry = re.compile(rf"#\s*{re.escape(marker(namespace, ''))}[A-Za-z0-9_-]+\s*$")
    if not starts and not ends:
        strays = [i + 1 for i, line in enumerate(stripped) if entry.search(line)]
        if strays:
            raise _damaged(namespace, f"entries marked orchestration:{namespace}: on line(s)"
                           f" {_numbers(strays)} have no '{begin}' line around them")
        return None
    if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
        raise _damaged(namespace, f"expected one '{begin}' line followed by one '{end}' line,"
                       f" found {len(starts)} and {len(ends)}")
    span = BlockSpan(starts[0], ends[0])
    outside = [i + 1 for i, line in enumerate(stripped)
               if entry.search(line) and not span.start <= i <= span.end]
    if outside:
        raise _damaged(namespace, f"line(s) {_numbers(outside)} carry its marker outside its block")
    foreign = [i + 1 for i in range(span.start + 1, span.end)
               if stripped[i].strip() and not stripped[i].lstrip().startswith("#")
               and not entry.search(stripped[i])]
    if foreign:
        raise _damaged(namespace, f"line(s) {_numbers(foreign)} inside its block are not entries"
                       " orchestration wrote; move them outside the block")
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


# --- reading and writing the user's crontab ---------------------------------------------------------


class UserCrontab:
    """The current user's crontab (or `user`'s, as root), read and written through python-crontab."""

    def __init__(self, user: str | bool = True) -> None:
        self.user = user

    def read(self) -> str:
        return _VerbatimCronTab(user=self.user).text

    def write(self, text: str) -> None:
        tab = _VerbatimCronTab(user=self.user)
        tab.text = text
        try:
            tab.write()
        except (IOError, OSError) as error:
            limit = _TOO_LONG.search(str(error))
            if limit:
                raise CrontabTooLong(int(limit.group(1)), text.count("\n")) from None
            raise ApplyError(f"writing the crontab failed: {error}; the old crontab was kept") from None


# Debian's crontab command refuses a long crontab: "crontab is too long; maximum number of lines is 10000."
_TOO_LONG = re.compile(r"maximum number of lines is (\d+)")


class CrontabTooLong(Exception):
    """The crontab command refused `lines` lines: it takes at most `limit`."""

    def __init__(self, limit: int, lines: int) -> None:
        super().__init__(f"{lines} lines, at most {limit}")
        self.limit, self.lines = limit, lines


class _VerbatimCronTab(python_crontab.CronTab):
    """python-crontab's CronTab with the text carried verbatim instead of re-rendered."""

    text = ""

    def read(self, filename=None):
        self.crons, self.lines, self.text = [], [], ""
        try:
            process = python_crontab.Process(self.cron_command, l="", **self.user_opt).run()
        except UnicodeDecodeError:
            raise FenceError(
                "your crontab holds bytes that are not UTF-8, and orchestration keeps every line it"
                " does not own byte for byte: it will not rewrite it.",
                hint="Nothing was changed. Convert it, for example with"
                " `crontab -l | iconv -f latin1 -t utf-8 | crontab -`, then run the command again.",
            ) from None
        except FileNotFoundError:
            raise SchedulerUnavailableError(
                f"there is no crontab command ({self.cron_command}) on this machine",
                hint=INSTALL_CRON_HINT,
            ) from None
        if process.returncode != 0 and "no crontab for" not in process.stderr:
            raise ApplyError(f"`crontab -l` failed: {process.stderr.strip()}")
        self.text = process.stdout if process.returncode == 0 else ""

    def render(self, errors=False):
        return self.text

    def write(self, filename=None, user=None, errors=False):
        """Hand the text to `crontab FILE` as python-crontab does, without leaving the temporary
        copy behind when crontab refuses it (python-crontab keeps it then, foreign lines and all)."""
        descriptor, path = tempfile.mkstemp(prefix="orchestration-crontab-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self.text.encode("utf-8"))
            process = python_crontab.Process(self.cron_command, path, **self.user_opt).run()
        finally:
            os.unlink(path)
        if process.returncode != 0:
            raise IOError(f"{self.cron_command} returned {process.returncode}: {process.stderr.strip()}")


class CrontabBackend:
    """Install and remove namespace blocks in the user's crontab."""

    name = NAME

    def __init__(self, crontab: UserCrontab | None = None) -> None:
        self.crontab = crontab or UserCrontab()

    def render(self, manifest: Manifest, manifest_path: str) -> str:
        return render_block(manifest, manifest_path)

    def installed(self, namespace: str) -> str | None:
        return find_block(self.crontab.read(), namespace)

    def apply(self, namespace: str, block: str | None) -> bool:
        """Put `block` in place (None removes it); whether the crontab changed. One user has one
        crontab whatever ORCHESTRATION_HOME says, so the read-modify-write holds a per-user lock."""
        try:
            lock_path = Path(spare_dir()) / "crontab.lock"
        except OSError as error:
            raise ApplyError(f"the lock of your crontab cannot be made: {error}") from None
        with locked(lock_path):
            text = self.crontab.read()
            updated = merge(text, namespace, block)
            if updated == text:
                return False
            try:
                self._write_where_cron_sees_it(updated, lock_path)
            except CrontabTooLong as refused:
                raise _too_long(namespace, block, refused) from None
            try:
                checkpoint("entries-written")
            except BaseException:
                self._write_where_cron_sees_it(text, lock_path)
                raise
            return True

    def _write_where_cron_sees_it(self, text: str, lock_path: Path) -> None:
        """Write the crontab, never in the same second as our write before it while cron may be
        looking. Cron reloads a crontab when its modification time, in whole seconds, differs from
        the one it last read; it looks right after the start of each minute. A second write in the
        second it looked in would go unseen until the next change. The lock file's time records
        our last write."""
        now = time.time()
        try:
            last = os.stat(lock_path).st_mtime
        except OSError:
            last = 0.0
        if int(now) == int(last) and now % 60 < CRON_LOOKS_WITHIN_SECONDS:
            time.sleep(1 - now % 1)
        self.crontab.write(text)
        os.utime(lock_path)


def _too_long(namespace: str, block: str | None, refused: CrontabTooLong) -> SchedulerFullError:
    block_lines = block.count("\n") if block else 0
    return SchedulerFullError(
        f"namespace '{namespace}' takes {block_lines:,} crontab lines, which would make your crontab"
        f" {refused.lines:,} lines long; this machine's crontab command takes at most {refused.limit:,}."
        " Nothing was changed.",
        hint="Install it with `--backend systemd`, which has no such limit, or define fewer tasks.",
    )
