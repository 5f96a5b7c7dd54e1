"""Reading and writing the user's crontab: the only place that runs the crontab command. What
goes into the crontab is rendered by `targets.crontab`.

The crontab's bytes are carried, never parsed: only our block within it changes, and every
other byte (tabs, a carriage return, text that is not UTF-8) is written back as it was read.
Bytes that are not UTF-8 travel as surrogate escapes. One thing cannot be carried: Debian's
`crontab -l` prints a carriage return as the two characters `\r`, just as it prints those two
characters, so a crontab that shows `\r` is refused rather than changed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from ..errors import ApplyError, FenceError, SchedulerFullError, SchedulerUnavailableError
from ..state import locked, spare_dir
from ..targets import Rendered
from ..targets.crontab import NAME, file_name, find_block, lines_of, merge
from .crashpoints import checkpoint

INSTALL_CRON_HINT = (
    "Install a cron daemon and its crontab command (Debian/Ubuntu: `apt-get install cron`, then"
    " `service cron start`), or use `--backend systemd`."
)
CRONTAB_COMMAND = "/usr/bin/crontab"  # as python-crontab runs it
# How long after the start of a minute cron may still be reading crontabs (it usually takes
# milliseconds; the margin covers a loaded machine).
CRON_LOOKS_WITHIN_SECONDS = 5
# How the crontab's bytes become text and back: every byte survives the round trip.
ENCODING, ERRORS = "utf-8", "surrogateescape"


class UserCrontab:
    """The current user's crontab, read and written with the crontab command (the command
    python-crontab would use); its bytes are carried, never parsed."""

    def __init__(self, command: str | None = None) -> None:
        self.command: str = command or CRONTAB_COMMAND

    def read(self) -> str:
        """The crontab's text ('' when the user has none)."""
        process = self._run("-l")
        said = process.stderr.decode(errors="replace")
        if process.returncode != 0 and "no crontab for" not in said:
            raise ApplyError(f"`crontab -l` failed: {said.strip()}")
        return process.stdout.decode(ENCODING, ERRORS) if process.returncode == 0 else ""

    def write(self, text: str) -> None:
        """Replace the crontab with `text`, through a private temporary file that is removed
        whatever crontab says."""
        import tempfile  # only commands that write the crontab

        descriptor, path = tempfile.mkstemp(prefix="orchestration-crontab-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(text.encode(ENCODING, ERRORS))
            process = self._run(path)
        finally:
            os.unlink(path)
        if process.returncode != 0:
            said = process.stderr.decode(errors="replace").strip()
            limit = _TOO_LONG.search(said)
            if limit:
                raise CrontabTooLong(int(limit.group(1)), text.count("\n"))
            raise ApplyError(
                f"writing the crontab failed: {self.command} returned {process.returncode}:"
                f" {said}; the old crontab was kept"
            )

    def _run(self, *arguments: str) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run([*shlex.split(self.command), *arguments], capture_output=True, check=False)
        except FileNotFoundError:
            raise SchedulerUnavailableError(
                f"there is no crontab command ({self.command}) on this machine", hint=INSTALL_CRON_HINT
            ) from None


class CrontabAsRead(UserCrontab):
    """The crontab as a command that only looks reads it: `crontab -l` once, however many
    namespaces it is asked about (a listing of twenty namespaces runs it once, not twenty times).
    Never written: a write goes through a fresh read under the crontab's lock."""

    def __init__(self) -> None:
        super().__init__()
        self._text: str | None = None

    def read(self) -> str:
        if self._text is None:
            self._text = super().read()
        return self._text

    def write(self, text: str) -> None:
        raise ApplyError("internal error: the crontab read for a listing cannot be written")


def check_carried(text: str) -> None:
    """FenceError if writing `text` back could change a line: one that `crontab -l` shows with
    `\\r`, which is either a carriage return or those two characters."""
    numbers = [str(number) for number, line in enumerate(lines_of(text), start=1) if "\\r" in line]
    if numbers:
        raise FenceError(
            f"line(s) {', '.join(numbers)} of your crontab show '\\r', which `crontab -l` prints both"
            " for a carriage return and for the two characters \\ and r: orchestration cannot tell"
            " which, so writing your crontab back could change those lines.",
            hint="Nothing was changed. If they end in carriage returns (a file saved with Windows line"
            " ends), remove them: `crontab -l | sed 's/\\\\r$//' | crontab -`; if the text is meant,"
            " write it another way (for example `printf '\\015'`); then run the command again.",
        )


# Debian's crontab command refuses a long crontab: "crontab is too long; maximum number of lines is 10000."
_TOO_LONG = re.compile(r"maximum number of lines is (\d+)")


class CrontabTooLong(Exception):
    """The crontab command refused `lines` lines: it takes at most `limit`."""

    def __init__(self, limit: int, lines: int) -> None:
        super().__init__(f"{lines} lines, at most {limit}")
        self.limit, self.lines = limit, lines


class CrontabScheduler:
    """Install and remove namespace blocks in the user's crontab."""

    name = NAME
    scope = "user"

    def __init__(self, crontab: UserCrontab | None = None) -> None:
        self.crontab = crontab or UserCrontab()

    def installed(self, namespace: str) -> Rendered | None:
        block = find_block(self.crontab.read(), namespace)
        return None if block is None else {file_name(namespace): block}

    def apply(self, namespace: str, rendered: Rendered | None) -> bool:
        """Put the block in place (None removes it); whether the crontab changed. One user has one
        crontab whatever ORCHESTRATION_HOME says, so the read-modify-write holds a per-user lock."""
        block = None if rendered is None else rendered[file_name(namespace)]
        try:
            lock_path = Path(spare_dir()) / "crontab.lock"
        except OSError as error:
            raise ApplyError(f"the lock of your crontab cannot be made: {error}") from None
        with locked(lock_path):
            text = self.crontab.read()
            updated = merge(text, namespace, block)
            if updated != text:
                check_carried(text)
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
