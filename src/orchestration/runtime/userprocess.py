"""The tasks file's functions, run in a child process of the shim.

User code may call sys.exit(), raise KeyboardInterrupt, catch every exception (the time limit's
and the signals' included) or hang: in a process of its own it can do none of this to the run.
The child imports the tasks file once per run, when a function is first needed, and answers the
run's calls over a pipe, a JSON line each way (`runtime.usercode.serve`). The run waits for an
answer as it waits for anything: the time limit and a signal end the wait, and the child (with
whatever it started) is killed. A child that ends without answering is an error of the run.
The child dies with the shim (PR_SET_PDEATHSIG), and never holds the task's lock.

Standard library only on the shim's side: the definitions are imported in the child.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable

from ..compile.manifest import Manifest, Skip
from ..errors import RunError
from ..rules.context import RunContext
from ..rules.values import Secret
from .supervise import HANDLED_SIGNALS

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any, BinaryIO

PR_SET_PDEATHSIG = 1


class UserProcess:
    """The installed task's functions (runtime.inputs.TaskFunctions), answered by a child."""

    def __init__(
        self,
        manifest: Manifest,
        task_id: str,
        copy: str | None,
        before_fork: Callable[[], None],
        close: tuple[int, ...],
    ) -> None:
        self.manifest, self.task_id, self.copy = manifest, task_id, copy
        self.before_fork = before_fork  # what the shim closes first (its journal connection)
        self.close_in_child = close  # descriptors the child must not keep (the task's lock)
        self.pid: int | None = None
        self.requests: BinaryIO | None = None
        self.replies: BinaryIO | None = None

    def skip_condition(self, skip: Skip, context: RunContext) -> bool:
        request = {"call": "skip", "skip": skip.to_json(), "what": f"skip condition {skip.description}"}
        return bool(self._call(request, context))

    def parameter(self, step: int, run: int, key: str, what: str, context: RunContext, secret: bool = False) -> Any:
        request = {"call": "parameter", "step": step, "run": run, "key": key, "what": what, "secret": secret}
        return self._call(request, context)

    def parameter_sets(self, step: int, what: str, context: RunContext) -> Any:
        return self._call({"call": "parameter_sets", "step": step, "what": what}, context)

    def stop(self) -> None:
        """End the child and whatever it started."""
        if self.pid is None:
            return
        for kill in (os.killpg, os.kill):  # its group, and the child itself
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for stream in (self.requests, self.replies):
            if stream is not None:
                stream.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.pid = self.requests = self.replies = None

    # --- the conversation ------------------------------------------------------------------

    def _call(self, request: dict[str, Any], context: RunContext) -> Any:
        try:
            if self.pid is None:
                self._start()
            assert self.requests is not None and self.replies is not None
            request["context"] = {
                "namespace": context.namespace,
                "task": context.task,
                "run_id": context.run_id,
                "scheduled_time": context.scheduled_time.isoformat(),
                "now": context.now.isoformat(),
                "trigger": context.trigger,
                "environ": dict(context.environ),
            }
            self._send(request)
            while True:
                line = self.replies.readline()
                if not line:
                    raise RunError(f"{request.get('what') or 'a function of the tasks file'} {self._ended()}")
                answer = json.loads(line)
                if "history" in answer:
                    status, previous, success = (
                        context.previous_status,
                        context.previous_time,
                        context.last_success_time,
                    )
                    self._send({"history": [status, _text(previous), _text(success)]})
                elif "error" in answer:
                    raise RunError(answer["error"])
                else:
                    return decode(answer["result"])
        except RunError:
            raise
        except BaseException:  # the time limit, a signal: the child is in the middle of something
            self.stop()
            raise

    def _send(self, message: dict[str, Any]) -> None:
        assert self.requests is not None
        try:
            self.requests.write(json.dumps(message).encode() + b"\n")
            self.requests.flush()
        except BrokenPipeError:
            pass  # the child is gone: reading its answer says how

    def _ended(self) -> str:
        """How the child ended without answering."""
        assert self.pid is not None
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        if os.WIFSIGNALED(status):
            return f"ended the process that runs the tasks file's code (killed by signal {os.WTERMSIG(status)})"
        return f"ended the process that runs the tasks file's code (exit status {os.WEXITSTATUS(status)}) without an answer"

    def _start(self) -> None:
        self.before_fork()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        requests, their_requests = os.pipe()
        their_replies, replies = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(their_requests)
                os.close(their_replies)
                _become_child(parent, self.close_in_child)
                from .usercode import serve  # the definitions and the tasks file: in the child only

                serve(self.manifest, self.task_id, self.copy, requests, replies)
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (OSError, ValueError, AttributeError):
                        pass
                os._exit(0)
        try:
            os.setpgid(pid, pid)  # as the child does: whichever comes first, the group exists for stop()
        except OSError:
            pass  # the child did it already, or is gone
        os.close(requests)
        os.close(replies)
        self.pid = pid
        self.requests = os.fdopen(their_requests, "wb")
        self.replies = os.fdopen(their_replies, "rb")


def _become_child(parent: int, close: tuple[int, ...]) -> None:
    """Signals as a new process has them, a process group of its own (so the shim can end
    everything it starts), death with the shim, and no descriptor of the task's lock."""
    for signum in (*HANDLED_SIGNALS, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass  # the shim did it first
    for descriptor in close:
        try:
            os.close(descriptor)
        except OSError:
            pass
    try:
        import ctypes  # only in the child of a task with functions

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the shim died before the line above
        os._exit(0)


def decode(value: Any) -> Any:
    """A value the child encoded (`runtime.usercode.encode`), as user code returned it: values,
    secrets, lists, dicts and paths; anything else as a stand-in with its type's name and repr."""
    if not isinstance(value, dict):
        return value
    if "secret" in value:
        return Secret(decode(value["secret"]), bool(value["argument"]))
    if "list" in value:
        return [decode(item) for item in value["list"]]
    if "map" in value:
        return {_hashable(decode(key)): decode(item) for key, item in value["map"]}
    if "path" in value:
        return ReturnedPath(value["path"])
    return type(value["other"], (Returned,), {})(value["repr"])


class ReturnedPath(os.PathLike[str]):
    """A path user code returned."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"PosixPath({self.path!r})"


class Returned:
    """Stands in for a value of a kind no parameter takes, for the message that says so."""

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _text(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()
