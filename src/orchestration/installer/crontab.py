"""Reading and writing the user's crontab: the only place that runs the crontab command. It is
written through python-crontab, which only the commands that write import; `crontab -l` is run
directly, so reading commands do without it. What goes into the crontab is rendered by
`targets.crontab`.

python-crontab re-renders the lines it parses (it drops indentation, moves variable lines and
turns `0 * * * *` into `@hourly`), so it parses nothing here: the crontab's text is carried
verbatim, and only our block within it changes.
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
from ..targets.crontab import NAME, file_name, find_block, merge
from .crashpoints import checkpoint

INSTALL_CRON_HINT = (
    "Install a cron daemon and its crontab command (Debian/Ubuntu: `apt-get install cron`, then"
    " `service cron start`), or use `--backend systemd`."
)
CRONTAB_COMMAND = "/usr/bin/crontab"  # as python-crontab runs it
# How long after the start of a minute cron may still be reading crontabs (it usually takes
# milliseconds; the margin covers a loaded machine).
CRON_LOOKS_WITHIN_SECONDS = 5


class UserCrontab:
    """The current user's crontab, read with the crontab command and written with python-crontab's
    runner of it (its text is never parsed here, only carried)."""

    def __init__(self, command: str | None = None) -> None:
        self.command: str = command or CRONTAB_COMMAND

    def read(self) -> str:
        """The crontab's text ('' when the user has none)."""
        try:
            result = subprocess.run([*shlex.split(self.command), "-l"], capture_output=True)
            process = _Ran(result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8", "replace"))
        except UnicodeDecodeError:
            raise FenceError(
                "your crontab holds bytes that are not UTF-8, and orchestration keeps every line it"
                " does not own byte for byte: it will not rewrite it.",
                hint="Nothing was changed. Convert it, for example with"
                " `crontab -l | iconv -f latin1 -t utf-8 | crontab -`, then run the command again.",
            ) from None
        except FileNotFoundError:
            raise SchedulerUnavailableError(
                f"there is no crontab command ({self.command}) on this machine", hint=INSTALL_CRON_HINT
            ) from None
        if process.returncode != 0 and "no crontab for" not in process.stderr:
            raise ApplyError(f"`crontab -l` failed: {process.stderr.strip()}")
        return str(process.stdout) if process.returncode == 0 else ""

    def write(self, text: str) -> None:
        """Replace the crontab with `text`, through a private temporary file that is removed
        whatever crontab says (python-crontab would keep it, foreign lines and all, on a refusal)."""
        import tempfile

        import crontab as python_crontab  # only commands that write the crontab load it

        descriptor, path = tempfile.mkstemp(prefix="orchestration-crontab-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(text.encode("utf-8"))
            process = python_crontab.Process(self.command, path).run()
        finally:
            os.unlink(path)
        if process.returncode != 0:
            said = str(process.stderr).strip()
            limit = _TOO_LONG.search(said)
            if limit:
                raise CrontabTooLong(int(limit.group(1)), text.count("\n"))
            raise ApplyError(
                f"writing the crontab failed: {self.command} returned {process.returncode}:"
                f" {said}; the old crontab was kept"
            )


class _Ran:
    """What `crontab -l` did: its exit code and what it said."""

    __slots__ = ("returncode", "stderr", "stdout")

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


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
