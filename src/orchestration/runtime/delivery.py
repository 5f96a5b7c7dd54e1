"""How a notification travels: an HTTP request (standard library's urllib), a mail through
`/usr/sbin/sendmail -t`, or a program; each bounded in time, tried at most three times with a
backoff inside that bound, and run in threads of their own so that one slow receiver does not
hold up the others. Nothing here raises: every outcome is a `Delivery`.

Loaded only by tasks that notify; urllib, subprocess and the mail modules only by the channels
that need them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

SENDMAIL = "/usr/sbin/sendmail"
TRIES = 3
BACKOFF = (0.5, 1.0)  # seconds before the second and third tries
MARGIN = 1.0  # how long past a delivery's own bound the shim waits for its thread
OUTPUT_SHOWN = 500  # characters of a program's output kept in a failed delivery's detail

# One try: (sent, what happened, worth another try).
Attempt = tuple[bool, str, bool]


class Delivery:
    """What one delivery did, as the run's record keeps it."""

    __slots__ = ("channel", "detail", "event", "seconds", "sent", "target", "tries")

    def __init__(self, channel: str, target: str, event: str) -> None:
        self.channel, self.target, self.event = channel, target, event
        self.sent, self.detail, self.tries, self.seconds = False, "not attempted", 0, 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "target": self.target,
            "event": self.event,
            "outcome": "sent" if self.sent else "failed",
            "detail": self.detail,
            "tries": self.tries,
            "seconds": round(self.seconds, 3),
        }

    @property
    def line(self) -> str:
        """The delivery in words: 'webhook https://... (failure): sent (HTTP 200)'."""
        outcome = "sent" if self.sent else "failed"
        return f"{self.channel} {self.target} ({self.event}): {outcome} ({self.detail})"


class Job:
    """A delivery to make: `attempt(seconds)` tries once within `seconds`. With `split`, each
    try gets its share of the time left (a receiver that hangs leaves room for another try);
    otherwise all of it (a program that does not end in time is not run again)."""

    def __init__(
        self, delivery: Delivery, timeout: float, attempt: Callable[[float], Attempt], split: bool = True
    ) -> None:
        self.delivery, self.timeout, self.attempt, self.split = delivery, timeout, attempt, split
        self.thread: threading.Thread | None = None
        self.deadline = 0.0

    def start(self) -> Job:
        """Deliver in a thread of its own."""
        self.deadline = time.monotonic() + self.timeout
        self.thread = threading.Thread(target=self._deliver, name=f"deliver {self.delivery.channel}", daemon=True)
        self.thread.start()
        return self

    def wait(self) -> Delivery:
        """The outcome, once the delivery ended or its bound (and a margin) passed."""
        if self.thread is not None:
            self.thread.join(max(0.0, self.deadline + MARGIN - time.monotonic()))
            if self.thread.is_alive():  # a lookup or a program that ignores every limit
                late = self.delivery  # the thread may still write to it: what is kept is a copy
                self.delivery = Delivery(late.channel, late.target, late.event)
                self.delivery.detail = f"no answer within {self.timeout:g}s"
                self.delivery.tries, self.delivery.seconds = late.tries, self.timeout
        return self.delivery

    def _deliver(self) -> None:
        delivery, began = self.delivery, time.monotonic()
        for attempt in range(TRIES):
            left = self.deadline - time.monotonic()
            if left <= 0.05:
                delivery.detail += f"; no time left for another try within {self.timeout:g}s"
                break
            delivery.tries = attempt + 1
            try:
                sent, detail, again = self.attempt(max(0.05, left / (TRIES - attempt)) if self.split else left)
            except Exception as error:  # a bug in a channel must not cost the others
                sent, detail, again = False, f"{type(error).__name__}: {error}", False
            delivery.sent, delivery.detail = sent, detail
            if sent or not again or attempt == TRIES - 1:
                break
            pause = min(BACKOFF[attempt], max(0.0, self.deadline - time.monotonic() - 0.1))
            time.sleep(pause)
        if delivery.tries > 1 and not delivery.sent:
            delivery.detail += f" (after {delivery.tries} tries)"
        delivery.seconds = time.monotonic() - began


def deliver_all(jobs: list[Job]) -> list[Delivery]:
    """Every job at once, each in its own thread; their outcomes, in order."""
    for job in jobs:
        job.start()
    return [job.wait() for job in jobs]


# --- HTTP ------------------------------------------------------------------------------------------


def http_attempt(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Callable[[float], Attempt]:
    """One HTTP request per try; a 2xx answer is a delivery. Redirects are not followed (a
    request to https:// never goes on over plain HTTP, and a POST never turns into a GET)."""

    def attempt(seconds: float) -> Attempt:
        import http.client
        import socket
        import urllib.error
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *arguments: Any) -> None:
                return None

        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=seconds) as response:
                response.read(65536)
                return True, f"HTTP {response.status}", False
        except urllib.error.HTTPError as error:
            error.close()
            if 300 <= error.code < 400:
                return False, f"HTTP {error.code} (a redirect, not followed: give the URL it points to)", False
            return False, f"HTTP {error.code} {error.reason}", error.code >= 500 or error.code in (408, 429)
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, socket.timeout):
                return False, f"no answer within {seconds:.1f}s", True
            return False, str(getattr(reason, "strerror", None) or reason), True
        except TimeoutError:
            return False, f"no answer within {seconds:.1f}s", True
        except (OSError, http.client.HTTPException, ValueError) as error:
            return False, f"{type(error).__name__}: {error}", True

    return attempt


# --- programs: sendmail and commands ---------------------------------------------------------------


def program_attempt(
    argv: list[str], stdin: bytes | None, environment: dict[str, str], cwd: str
) -> Callable[[float], Attempt]:
    """One run of a program per try (no shell); exit 0 is a delivery."""

    def attempt(seconds: float) -> Attempt:
        import subprocess

        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=cwd,
                start_new_session=True,  # its own group, so that a time-out stops all of it
            )
        except OSError as error:
            return False, f"{argv[0]} could not start: {error.strerror or error}", False
        try:
            output, _ = process.communicate(stdin, timeout=seconds)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
            return False, f"{os.path.basename(argv[0])} did not end within {seconds:.1f}s and was killed", False
        code = process.returncode
        said = output.decode("utf-8", "replace").strip()[-OUTPUT_SHOWN:]
        name = os.path.basename(argv[0])
        if code == 0:
            return True, f"{name} exited 0", False
        ended = f"was killed by signal {-code}" if code < 0 else f"exited {code}"
        return False, f"{name} {ended}" + (f": {said}" if said else ""), True

    return attempt


def _kill_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def mail_message(to: tuple[str, ...], subject: str, body: str, reference: str) -> bytes:
    """A plain-text mail for `sendmail -t`, which reads the recipients from To:."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message["X-Orchestration-Task"] = reference
    message.set_content(body)
    return message.as_bytes()
