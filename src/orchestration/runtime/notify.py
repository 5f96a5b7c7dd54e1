"""What a run reports once its record is written: notifications by the task's rules, the
heartbeat's pings, and the metrics file. Best effort: each delivery is bounded in time and can
fail without changing the run's status or exit code; what each did is recorded with the run (its
`deliveries`) and a failure is said on stderr.

When: a run that failed (failed, error, timeout, killed; after its last retry) is a `failure`; a
run that ended ok is a `success`, and a `recovery` too when the task's previous run (skips aside)
failed; a skipped or overlapping firing is a `skip`.

Loaded only by tasks that notify, ping or write metrics (standard library only).
"""

from __future__ import annotations

import json
import os
import sys

from ..compile.manifest import Manifest, TaskManifest
from ..rules.notify import FAILURE, RECOVERY, SKIP, SUCCESS, Command, Email, Ping, Reporting, Rule, Webhook, mask
from ..state import METRICS_DIR_VARIABLE
from .delivery import SENDMAIL, Delivery, Job, deliver_all, http_attempt, mail_message, program_attempt
from .environment import run_environment
from .journal import JournalUnavailable
from .records import FAILURE_STATUSES, RunRecord, iso_time

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

    from .recorder import Recorder

TEST = "test"  # the event of `orchestration notify test`
START = "start"  # the heartbeat's first ping
WEBHOOK_LOG_BYTES = 10 * 1024  # the log tail in a notification
PING_LOG_BYTES = 100 * 1024  # the log tail in the heartbeat's last ping
CRONITOR_MESSAGE = 2000  # characters Cronitor keeps of a message
WORDS = {FAILURE: "failed", RECOVERY: "recovered", SUCCESS: "ok", SKIP: "skipped", TEST: "test"}


class Reporter:
    """The reporting of one run of a task."""

    def __init__(self, manifest: Manifest, task: TaskManifest, state: str, recorder: Recorder | None) -> None:
        self.manifest, self.task, self.state, self.recorder = manifest, task, state, recorder
        self.reporting: Reporting = task.reporting or Reporting()
        self.secrets = self.reporting.secrets()
        self.host = os.uname().nodename
        self.started_run: str | None = None  # the run id of the heartbeat's start
        self._start: Job | None = None

    # --- the run -----------------------------------------------------------------------------------

    def started(self, record: RunRecord) -> None:
        """The heartbeat's start, sent in the background while the run goes on."""
        ping = self.reporting.ping
        if ping is None or self.started_run is not None:
            return
        self.started_run = record.run_id
        self._start = ping_job(ping, START, record, self.host, record.run_id, b"").start()

    def finished(self, record: RunRecord, began: float) -> list[Delivery]:
        """Notify, ping and write the metrics file for the run's last attempt `record`; record
        what each did with the run, and say on stderr what failed."""
        event = self.event(record, began)
        jobs = [self._notification(channel, event, record) for channel in self.channels(event)]
        ping = self.reporting.ping
        if ping is not None and record.status != "overlap":  # the run that still runs pings for itself
            run_id = self.started_run or record.run_id
            jobs.append(ping_job(ping, event, record, self.host, run_id, log_tail(record, PING_LOG_BYTES)))
        deliveries = ([self._start.wait()] if self._start is not None else []) + deliver_all(jobs)
        metrics = self._write_metrics()
        if metrics is not None:
            deliveries.append(metrics)
        for delivery in deliveries:
            delivery.detail = mask(delivery.detail, self.secrets)
        if deliveries:
            record.deliveries = [delivery.to_dict() for delivery in deliveries]
            self._save(record)
        for delivery in deliveries:
            if not delivery.sent:
                _stderr(f"orchestration {record.reference}: warning: {delivery.line}")
        return deliveries

    def event(self, record: RunRecord, began: float) -> str:
        """failure, recovery, success or skip."""
        if record.status in FAILURE_STATUSES:
            return FAILURE
        if record.status != "ok":
            return SKIP
        if self.recorder is not None and any(RECOVERY in rule.events for rule in self.reporting.rules):
            try:
                journal = self.recorder.journal
                previous = self.recorder.call(
                    lambda: journal.previous_outcome(record.namespace, record.task, began, ("ok", *FAILURE_STATUSES))
                )
            except JournalUnavailable:
                previous = None
            if previous in FAILURE_STATUSES:
                return RECOVERY
        return SUCCESS

    def channels(self, event: str) -> list[Webhook | Email | Command]:
        """The channels of every rule that `event` matches, each once, in order."""
        found: dict[Webhook | Email | Command, None] = {}
        for rule in self.reporting.rules:
            if matches(rule, event):
                found.update(dict.fromkeys(rule.channels))
        return list(found)

    # --- `orchestration notify test` ---------------------------------------------------------------

    def test(self, record: RunRecord) -> list[Delivery]:
        """A test notification through every channel of the task, and for a healthchecks.io
        heartbeat a `/log` ping (which it shows but does not count as a run); nothing is recorded."""
        jobs = [self._notification(channel, TEST, record) for channel in self.reporting.channels]
        ping = self.reporting.ping
        if ping is not None and ping.style == "healthchecks":  # Cronitor has no event that is not a run
            jobs.append(ping_job(ping, TEST, record, self.host, record.run_id, b""))
        deliveries = deliver_all(jobs)
        for delivery in deliveries:
            delivery.detail = mask(delivery.detail, self.secrets)
        return deliveries

    # --- the channels ------------------------------------------------------------------------------

    def _notification(self, channel: Webhook | Email | Command, event: str, record: RunRecord) -> Job:
        fields = payload(record, event, self.host, self.manifest.cli_program)
        if isinstance(channel, Webhook):
            body = {"text": slack_text(fields)} if channel.form == "slack" else fields
            headers = {"Content-Type": "application/json", "User-Agent": "orchestration"}
            headers.update({name: value.value for name, value in channel.headers})
            attempt = http_attempt(channel.method, channel.url.value, json.dumps(body).encode(), headers)
            return Job(Delivery(channel.KIND, channel.target, event), channel.timeout, attempt)
        if isinstance(channel, Email):
            message = mail_message(channel.to, subject(fields), mail_body(fields), record.reference)
            attempt = program_attempt([SENDMAIL, "-t", "-oi", "-odi"], message, self._environment(fields, record), "/")
            return Job(Delivery(channel.KIND, channel.target, event), channel.timeout, attempt, split=False)
        argv = [word.value for word in channel.argv]
        attempt = program_attempt(argv, None, self._environment(fields, record), self.manifest.working_directory)
        return Job(Delivery(channel.KIND, channel.target, event), channel.timeout, attempt, split=False)

    def _environment(self, fields: dict[str, Any], record: RunRecord) -> dict[str, str]:
        """The run's environment (PATH of the install), with the run's fields as ORCHESTRATION_*."""
        environment = run_environment(self.manifest, os.environ)
        for key, value in fields.items():
            if key != "log_tail":
                environment[f"ORCHESTRATION_{key.upper()}"] = "" if value is None else str(value)
        environment["ORCHESTRATION_LOG_PATH"] = record.log_path or ""
        # A finished run's log is its part of its task's log: its length from its offset.
        offset, length = record.log_offset, record.log_length
        if offset is None:  # still its own file (it could not be filed)
            offset, length = 0, _size(record.log_path)
        environment["ORCHESTRATION_LOG_OFFSET"] = str(offset)
        environment["ORCHESTRATION_LOG_LENGTH"] = str(length or 0)
        return environment

    def _save(self, record: RunRecord) -> None:
        """The deliveries with the run's row (or beside it in the fallback file)."""
        if self.recorder is None:
            return
        journal = self.recorder.journal
        try:
            if self.recorder.call(lambda: journal.record_deliveries(record)):
                return
        except JournalUnavailable:
            pass
        finally:
            journal.close()
        from . import fallback  # the journal is unavailable: rare

        try:
            fallback.append(self.state, record)
        except OSError as error:
            _stderr(f"orchestration {record.reference}: warning: what the notifications did was not recorded: {error}")

    def _write_metrics(self) -> Delivery | None:
        directory = self.reporting.metrics_dir or os.environ.get(METRICS_DIR_VARIABLE)
        if not directory:
            return None
        from .metrics import write_state_metrics

        delivery = Delivery("metrics", os.path.join(directory, "orchestration.prom"), "written")
        try:
            write_state_metrics(self.state, directory)
            delivery.sent, delivery.detail, delivery.tries = True, "rewritten", 1
        except (OSError, ValueError) as error:
            delivery.detail, delivery.tries = f"not written: {error}", 1
        return delivery


def matches(rule: Rule, event: str) -> bool:
    """Whether `rule` sends on `event` (a recovery is a success too)."""
    return event in rule.events or (event == RECOVERY and SUCCESS in rule.events)


# --- what is sent ----------------------------------------------------------------------------------


def payload(record: RunRecord, event: str, host: str, cli_program: str) -> dict[str, Any]:
    """The webhook's JSON body: the run, in fields documented on the notifications page."""
    tail = log_tail(record, WEBHOOK_LOG_BYTES).decode("utf-8", "replace")
    code = record.exit_code
    return {
        "event": event,
        "namespace": record.namespace,
        "task": record.task,
        "run_id": record.run_id,
        "attempt": record.attempt,
        "trigger": record.trigger,
        "status": record.status,
        "exit_code": code,
        "scheduled_time": iso_time(record.scheduled_time) if record.scheduled_time is not None else None,
        "started_at": iso_time(record.started_at),
        "finished_at": iso_time(record.finished_at) if record.finished_at is not None else None,
        "duration": round(record.duration, 3) if record.duration is not None else None,
        "reason": record.reason,
        "host": host,
        "log_tail": tail,
        "logs": f"{os.path.basename(cli_program) or 'orchestration'} logs {record.reference} --run {record.run_id}",
        "text": summary(record, event, host),
    }


def summary(record: RunRecord, event: str, host: str) -> str:
    """One line: 'backups/nightly failed on host (exit 3): dump.sh exited 3'."""
    if event == TEST:
        return f"{record.reference}: a test notification from {host} (orchestration notify test)"
    code = f" (exit {record.exit_code})" if record.exit_code not in (None, 0) else ""
    word = WORDS.get(event, record.status)
    if event == FAILURE and record.status != "failed":
        word = {"error": "ended in error", "timeout": "timed out", "killed": "was killed"}.get(record.status, word)
    duration = f" in {record.duration:.1f}s" if record.duration is not None and event in (SUCCESS, RECOVERY) else ""
    reason = f": {record.reason}" if record.reason else ""
    return f"{record.reference} {word} on {host}{code}{duration}{reason}"


def subject(fields: dict[str, Any]) -> str:
    """The mail's subject: task, status and host."""
    code = f" (exit {fields['exit_code']})" if fields["exit_code"] not in (None, 0) else ""
    word = WORDS.get(fields["event"], fields["status"])
    return f"[orchestration] {fields['namespace']}/{fields['task']} {word} on {fields['host']}{code}"


def mail_body(fields: dict[str, Any]) -> str:
    shown = [
        (key, fields[key]) for key in ("status", "exit_code", "reason", "scheduled_time", "started_at", "duration")
    ]
    lines = [fields["text"], ""]
    lines += [f"{key.replace('_', ' ')}: {'-' if value is None else value}" for key, value in shown]
    lines += [f"run: {fields['run_id']} (attempt {fields['attempt']}, {fields['trigger']})", f"host: {fields['host']}"]
    lines += ["", f"The whole log: {fields['logs']}"]
    if fields["log_tail"]:
        lines += ["", "The end of the log:", "", fields["log_tail"].rstrip("\n")]
    return "\n".join(lines) + "\n"


def slack_text(fields: dict[str, Any]) -> str:
    """Slack's (and Mattermost's, Rocket.Chat's) message: the summary, the log's end, the command."""
    text = fields["text"]
    if fields["log_tail"] and fields["event"] != SKIP:
        text += "\n```\n" + fields["log_tail"][-3000:].replace("```", "'''").rstrip("\n") + "\n```"
    return f"{text}\n`{fields['logs']}`"


def _size(path: str | None) -> int:
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def log_tail(record: RunRecord, size: int) -> bytes:
    """The last `size` bytes of the run's log (nothing when there is none): of its part of its
    task's log once filed there, else of its own file."""
    if not record.log_path:
        return b""
    try:
        with open(record.log_path, "rb") as stream:
            if record.log_offset is not None:
                end = record.log_offset + (record.log_length or 0)
                start = max(record.log_offset, end - size)
            else:
                end = stream.seek(0, os.SEEK_END)
                start = max(0, end - size)
            stream.seek(start)
            return stream.read(end - start)
    except OSError:
        return b""


# --- the heartbeat ---------------------------------------------------------------------------------


def ping_job(ping: Ping, event: str, record: RunRecord, host: str, run_id: str, body: bytes) -> Job:
    """The ping for `event` (start, a run's event, or test)."""
    url, method, data = ping_request(ping, event, record, host, run_id, body)
    headers = {"User-Agent": "orchestration", "Content-Type": "text/plain; charset=utf-8"}
    return Job(Delivery("ping", ping.target, event), ping.timeout, http_attempt(method, url, data, headers))


def ping_request(
    ping: Ping, event: str, record: RunRecord, host: str, run_id: str, body: bytes
) -> tuple[str, str, bytes | None]:
    """(url, method, body) of a ping. healthchecks.io: URL/start, URL, URL/<exit code> (or
    URL/fail), URL/log for a test, each with ?rid=<a UUID made from the run id>; the log's end as
    the body. Cronitor: ?state=run|complete|fail with series, host, status_code and message."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    parts = urlsplit(ping.url.value)
    if ping.style == "cronitor":
        state = {START: "run", FAILURE: "fail"}.get(event, "complete")
        query: dict[str, str] = {"state": state, "series": run_id, "host": host}
        if event not in (START, TEST):
            query["status_code"] = str(record.exit_code or 0)
        message = summary(record, event, host) if event != START else ""
        if message:
            query["message"] = message[:CRONITOR_MESSAGE]
        joined = "&".join(part for part in (parts.query, urlencode(query)) if part)
        return urlunsplit(parts._replace(query=joined)), "GET", None
    code = record.exit_code
    suffix = {START: "/start", TEST: "/log", FAILURE: f"/{code}" if code and 0 < code < 256 else "/fail"}.get(event, "")
    path = parts.path.rstrip("/") + suffix
    joined = "&".join(part for part in (parts.query, urlencode({"rid": run_uuid(run_id)})) if part)
    url = urlunsplit(parts._replace(path=path, query=joined))
    if event == TEST:
        body = summary(record, TEST, host).encode()
    elif event == SKIP:
        body = f"{summary(record, SKIP, host)}\n".encode()
    return url, "POST" if body else "GET", body or None


def run_uuid(run_id: str) -> str:
    """healthchecks.io takes a UUID as a run id: one made from ours, the same every time."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"orchestration:{run_id}"))


def test_record(namespace: str, task: str, now: float) -> RunRecord:
    """The run a test notification describes."""
    import time

    run_id = "test-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return RunRecord(
        run_id=run_id,
        namespace=namespace,
        task=task,
        trigger="manual",
        started_at=now,
        status="ok",
        scheduled_time=now,
        finished_at=now,
        exit_code=0,
        reason="a test notification sent by `orchestration notify test`",
    )


def _stderr(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, AttributeError, ValueError):
        pass
