"""Notifications, heartbeat pings, metrics and quiet cron mail, with real components: HTTP
receivers on 127.0.0.1 that record what arrives (and ones that hang, answer 500 or refuse the
connection), a real MTA (Debian's exim4) delivering into a real mailbox, Debian's
prometheus-node-exporter scraping the metrics file, and the real cron daemon and systemd user
manager firing a failing task."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

import conftest
from conftest import Project, read_crontab, run_log, run_log_bytes, skip_or_fail, wait_for
from orchestration.api import compile_file
from orchestration.cli import main
from orchestration.compile.environment import capture_environment
from orchestration.errors import DefinitionError
from orchestration.installer import manifests
from orchestration.runtime.journal import Journal

EXEC = str(Path(sys.executable).with_name("orchestration-exec"))


# --- receivers -------------------------------------------------------------------------------------


class Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} {len(self.body)} bytes>"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request. The first part of the path says
    how it answers: /ok 200, /fail 500, /hang never (until the test ends), /redirect a 302 to
    the /ok path after it."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.requests.append(Request(self.command, self.path, headers, body))
                mode = self.path.split("/")[1]
                if mode == "hang":
                    receiver.release.wait(60)
                    return
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/ok/redirected")
                    self.end_headers()
                    return
                self.send_response(500 if mode == "fail" else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = do_PUT = do_PATCH = handle_one  # noqa: N815

            def log_message(self, *arguments: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, prefix: str) -> list[Request]:
        return [request for request in self.requests if request.path.startswith(prefix)]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- tasks, without a scheduler: the manifest written where install writes it -----------------------

# Fails (saying so) unless the file `mode` beside it says ok; prints nothing when it succeeds.
FAIL_OR_OK = '#!/bin/bash\nmode=$(cat "$(dirname "$0")/mode" 2>/dev/null || echo ok)\n[ "$mode" = ok ] || { echo "mode $mode"; exit 1; }\n'


@pytest.fixture
def tasks(project: Project) -> Project:
    (project.root / "flip.sh").write_text(FAIL_OR_OK)
    (project.root / "silent.sh").write_text("#!/bin/bash\nexit 0\n")
    (project.root / "loud.sh").write_text("#!/bin/bash\necho 'a line of output'\n")
    (project.root / "big.sh").write_text("#!/bin/bash\nhead -c 300000 /dev/zero | tr '\\0' 'x'\necho END\nexit 7\n")
    return project


def written(project: Project, state: Path, body: str) -> Path:
    """Compile `body` as the tasks file and write its manifest as install does; its path."""
    [compiled] = compile_file(project.write(body), capture_environment(state))
    placed = compiled.placed("crontab", "user")
    for old in (state / "manifests").glob(f"{placed.namespace}.*.json"):
        old.unlink()
    path = manifests.versioned_path(state, placed)
    manifests.write(path, placed)
    return path


def fire(manifest: Path, task: str, **env: str) -> subprocess.CompletedProcess:
    """The shim, as cron runs it."""
    return subprocess.run(
        [EXEC, str(manifest), task], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def runs(state: Path, task: str | None = None) -> list:
    """Runs of the journal, oldest first."""
    return list(reversed(Journal(state / "journal.sqlite3").runs(task=task)))


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# --- webhooks --------------------------------------------------------------------------------------


def test_a_failure_posts_the_documented_json_and_records_the_delivery(
    tasks: Project, state_home: Path, receiver: Receiver
) -> None:
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify, secret\n"
        "o = Orchestrator(name='ns')\n"
        f"hook = notify.webhook('{receiver.url}/ok/hook', headers={{'Authorization': secret('Bearer s3cr3t')}})\n"
        "o.add_task('0 1 * * *', 'bash', name='job', notify=notify.on_failure(hook)).add_script('flip.sh')\n",
    )
    (tasks.root / "mode").write_text("fail\n")
    result = fire(manifest, "job")
    assert result.returncode == 1
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/ok/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cr3t"
    [run] = runs(state_home)
    body = request.json
    assert set(body) == {
        "event", "namespace", "task", "run_id", "attempt", "trigger", "status", "exit_code", "scheduled_time",
        "started_at", "finished_at", "duration", "reason", "host", "log_tail", "logs", "text",
    }  # fmt: skip
    assert {key: body[key] for key in ("event", "namespace", "task", "run_id", "attempt", "trigger")} == {
        "event": "failure",
        "namespace": "ns",
        "task": "job",
        "run_id": run.run_id,
        "attempt": 1,
        "trigger": "cron",
    }
    host = os.uname().nodename
    assert (body["status"], body["exit_code"], body["reason"], body["host"]) == ("failed", 1, "flip.sh exited 1", host)
    assert body["started_at"] == run.to_json()["started_at"] and body["finished_at"] == run.to_json()["finished_at"]
    assert body["scheduled_time"] == run.to_json()["scheduled_time"]
    assert body["duration"] == pytest.approx(run.duration, abs=0.001)
    assert body["log_tail"] == run_log(run)
    assert body["log_tail"].startswith("mode fail\n")
    assert body["logs"] == f"orchestration logs ns/job --run {run.run_id}"
    assert body["text"] == f"ns/job failed on {host} (exit 1): flip.sh exited 1"

    history = json.loads(cli("history", "ns/job", "--json").output)
    assert history[0]["deliveries"] == [
        {
            "channel": "webhook",
            "target": f"{receiver.url}/ok/hook",
            "event": "failure",
            "outcome": "sent",
            "detail": "HTTP 200",
            "tries": 1,
            "seconds": history[0]["deliveries"][0]["seconds"],
        }
    ]
    assert "s3cr3t" not in json.dumps(history)
    assert result.stderr == ""

    (tasks.root / "mode").write_text("ok\n")
    assert fire(manifest, "job").returncode == 0
    assert len(receiver.requests) == 1  # on_failure: nothing for a success
    assert runs(state_home)[-1].deliveries == []


def test_receivers_that_hang_fail_or_refuse_leave_the_run_as_it_was(
    tasks: Project, state_home: Path, receiver: Receiver
) -> None:
    refused = closed_port()
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify\n"
        "o = Orchestrator(name='ns')\n"
        "o.add_task('0 1 * * *', 'bash', name='job', notify=notify.always(\n"
        f"    notify.webhook('{receiver.url}/hang/x', timeout=2),\n"
        f"    notify.webhook('{receiver.url}/fail/x', timeout=5),\n"
        f"    notify.webhook('http://127.0.0.1:{refused}/x', timeout=5),\n"
        f"    notify.webhook('{receiver.url}/ok/x'),\n"
        ")).add_script('flip.sh')\n",
    )
    for mode, code in (("fail", 1), ("ok", 0)):
        (tasks.root / "mode").write_text(mode)
        began = time.monotonic()
        result = fire(manifest, "job")
        took = time.monotonic() - began
        assert result.returncode == code
        assert took < 2 + 1 + 3  # the longest bound (deliveries run side by side), a margin, the run itself
        run = runs(state_home)[-1]
        assert (run.status, run.exit_code) == ({"fail": "failed", "ok": "ok"}[mode], code)
        by_target = {delivery["target"]: delivery for delivery in run.deliveries}
        hang, fail, ok = (by_target[f"{receiver.url}/{mode}/x"] for mode in ("hang", "fail", "ok"))
        gone = by_target[f"http://127.0.0.1:{refused}/x"]
        assert (ok["outcome"], ok["detail"], ok["tries"]) == ("sent", "HTTP 200", 1)
        assert (fail["outcome"], fail["detail"], fail["tries"]) == (
            "failed",
            "HTTP 500 Internal Server Error (after 3 tries)",
            3,
        )
        assert (gone["outcome"], gone["detail"], gone["tries"]) == ("failed", "Connection refused (after 3 tries)", 3)
        assert hang["outcome"] == "failed" and hang["detail"].startswith("no answer within")
        assert hang["seconds"] <= 2.2
        warnings = [line for line in result.stderr.splitlines() if "warning: webhook" in line]
        assert len(warnings) == 3
        assert f"orchestration ns/job: warning: webhook {receiver.url}/fail/x ({run.deliveries[1]['event']}):" in (
            result.stderr
        )
    assert len(receiver.at("/fail/")) == 6  # three tries per run
    assert len(receiver.at("/ok/")) == 2


def test_redirects_are_not_followed_and_plain_http_is_only_what_was_written(
    tasks: Project, state_home: Path, receiver: Receiver
) -> None:
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify\n"
        "o = Orchestrator(name='ns')\n"
        f"o.add_task('0 1 * * *', 'bash', name='job', notify=notify.always(notify.webhook('{receiver.url}/redirect/x')))"
        ".add_script('silent.sh')\n",
    )
    assert fire(manifest, "job").returncode == 0
    [delivery] = runs(state_home)[-1].deliveries
    assert (delivery["outcome"], delivery["detail"]) == (
        "failed",
        "HTTP 302 (a redirect, not followed: give the URL it points to)",
    )
    assert receiver.at("/ok/") == []
    for url in ("hooks.example.com/x", "ftp://hooks.example.com/x", "https:///x"):
        with pytest.raises(DefinitionError) as raised:
            written(tasks, state_home, f"from orchestration import notify\nnotify.webhook({url!r})\n")
        assert str(raised.value).endswith(
            f"notify.webhook: {url!r} must start with https:// (or http:// for plain HTTP) and name a host, such"
            " as 'https://hooks.example.com/...'"
        )


def test_the_slack_form_and_other_methods(tasks: Project, state_home: Path, receiver: Receiver) -> None:
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify\n"
        "o = Orchestrator(name='ns')\n"
        f"slack = notify.webhook('{receiver.url}/ok/slack', form='slack', method='PUT')\n"
        "o.add_task('0 1 * * *', 'bash', name='job', notify=notify.on_failure(slack)).add_script('flip.sh')\n",
    )
    (tasks.root / "mode").write_text("fail")
    assert fire(manifest, "job").returncode == 1
    [request] = receiver.requests
    run = runs(state_home)[-1]
    assert request.method == "PUT"
    assert request.json == {
        "text": f"ns/job failed on {os.uname().nodename} (exit 1): flip.sh exited 1\n```\n"
        + run_log(run).rstrip("\n")
        + f"\n```\n`orchestration logs ns/job --run {run.run_id}`"
    }


def test_each_rule_sends_on_its_own_events(tasks: Project, state_home: Path, receiver: Receiver) -> None:
    rules = ["on_failure", "on_recovery", "on_change", "on_success", "always", "on_skip"]
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify, skips\n"
        "o = Orchestrator(name='ns')\n"
        "rules = [" + ", ".join(f"notify.{rule}(notify.webhook('{receiver.url}/ok/{rule}'))" for rule in rules) + "]\n"
        "o.add_task('0 1 * * *', 'bash', name='job', notify=rules, retries=1)"
        ".add_script('flip.sh').add_skip(skips.file_exists('skip'))\n",
    )
    sequence = ["fail", "fail", "skip", "ok", "ok", "fail", "ok"]
    for mode in sequence:
        (tasks.root / "mode").write_text(mode)
        (tasks.root / "skip").unlink(missing_ok=True)
        if mode == "skip":
            (tasks.root / "skip").touch()
        fire(manifest, "job")

    def events(rule: str) -> list[str]:
        return [request.json["event"] for request in receiver.at(f"/ok/{rule}")]

    assert events("on_failure") == ["failure", "failure", "failure"]  # once per run, after its retry
    assert events("on_recovery") == ["recovery", "recovery"]  # the skip between does not count
    assert events("on_change") == ["failure", "failure", "recovery", "failure", "recovery"]
    assert events("on_success") == ["recovery", "success", "recovery"]
    assert events("always") == ["failure", "failure", "recovery", "success", "failure", "recovery"]
    assert events("on_skip") == ["skip"]
    failures = [r for r in runs(state_home) if r.status == "failed"]
    assert len(failures) == 6  # each failed run had two attempts; only the last one notified
    assert all(not r.deliveries for r in failures if r.attempt == 1)


def test_a_command_gets_the_run_in_its_environment_and_no_shell(tasks: Project, state_home: Path) -> None:
    (tasks.root / "tell.sh").write_text(
        '#!/bin/bash\nenv -0 > "$(dirname "$0")/told.env"\nprintf "%s\\0" "$@" > told.args\n'
    )
    (tasks.root / "tell.sh").chmod(0o755)
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify, secret\n"
        "o = Orchestrator(name='ns', notify=notify.on_failure(notify.command(['./tell.sh', '$(id)', secret('tok')])))\n"
        "o.add_task('0 1 * * *', 'bash', name='job').add_script('flip.sh')\n",
    )
    (tasks.root / "mode").write_text("fail")
    assert fire(manifest, "job").returncode == 1
    run = runs(state_home)[-1]
    env = dict(item.split("=", 1) for item in (tasks.root / "told.env").read_text().split("\0") if "=" in item)
    assert (tasks.root / "told.args").read_bytes().split(b"\0")[:-1] == [b"$(id)", b"tok"]
    assert {key: env[key] for key in ("ORCHESTRATION_EVENT", "ORCHESTRATION_STATUS", "ORCHESTRATION_EXIT_CODE")} == {
        "ORCHESTRATION_EVENT": "failure",
        "ORCHESTRATION_STATUS": "failed",
        "ORCHESTRATION_EXIT_CODE": "1",
    }
    assert env["ORCHESTRATION_RUN_ID"] == run.run_id
    assert env["ORCHESTRATION_LOG_PATH"] == run.log_path  # its task's log: the run's part of it is
    offset, length = int(env["ORCHESTRATION_LOG_OFFSET"]), int(env["ORCHESTRATION_LOG_LENGTH"])
    assert Path(run.log_path).read_bytes()[offset : offset + length] == run_log_bytes(run)
    assert env["ORCHESTRATION_TEXT"] == f"ns/job failed on {os.uname().nodename} (exit 1): flip.sh exited 1"
    assert "ORCHESTRATION_LOG_TAIL" not in env
    assert run.deliveries[0]["target"] == "./tell.sh $(id) ***"
    assert run.deliveries[0]["outcome"] == "sent"


# --- heartbeats ------------------------------------------------------------------------------------


def test_pings_follow_the_healthchecks_convention(tasks: Project, state_home: Path, receiver: Receiver) -> None:
    manifest = written(
        tasks,
        state_home,
        "from orchestration import skips\n"
        f"o = Orchestrator(name='ns', ping='{receiver.url}/ok/uuid-1')\n"
        "o.add_task('0 1 * * *', 'bash', name='job').add_script('flip.sh').add_skip(skips.file_exists('skip'))\n"
        "o.add_task('0 1 * * *', 'bash', name='big').add_script('big.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='unpinged', ping=False).add_script('flip.sh')\n",
    )
    (tasks.root / "mode").write_text("fail")
    assert fire(manifest, "job").returncode == 1
    start, end = receiver.requests
    run = runs(state_home)[-1]
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"orchestration:{run.run_id}"))
    assert (start.method, start.path, start.body) == ("GET", f"/ok/uuid-1/start?rid={rid}", b"")
    assert (end.method, end.path) == ("POST", f"/ok/uuid-1/1?rid={rid}")
    assert end.body == run_log_bytes(run)

    (tasks.root / "mode").write_text("ok")
    assert fire(manifest, "job").returncode == 0
    assert [r.path.split("?")[0] for r in receiver.requests[2:]] == ["/ok/uuid-1/start", "/ok/uuid-1"]
    (tasks.root / "skip").touch()
    assert fire(manifest, "job").returncode == 0
    skipped = receiver.requests[-1]
    assert skipped.path.split("?")[0] == "/ok/uuid-1"
    assert (
        skipped.body.decode() == f"ns/job skipped on {os.uname().nodename}: skipped by file {tasks.root}/skip exists\n"
    )

    before = len(receiver.requests)
    assert fire(manifest, "big").returncode == 7
    last = receiver.requests[-1]
    assert last.path.startswith("/ok/uuid-1/7?rid=")
    log = run_log_bytes(runs(state_home, "big")[-1])
    assert len(log) > 300000 and last.body == log[-100 * 1024 :]  # the last 100 KB
    assert b"END\norchestration ns/big: big.sh [1/1] failed with exit code 7" in last.body
    assert len(receiver.requests) == before + 2
    assert fire(manifest, "unpinged").returncode == 0
    assert len(receiver.requests) == before + 2
    assert [d["event"] for d in runs(state_home, "big")[-1].deliveries] == ["start", "failure"]


def test_cronitor_style_pings(tasks: Project, state_home: Path, receiver: Receiver) -> None:
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify, secret\n"
        "o = Orchestrator(name='ns')\n"
        f"o.add_task('0 1 * * *', 'bash', name='job', ping=notify.ping(secret('{receiver.url}/ok/p/KEY/nightly?env=prod'),"
        " style='cronitor')).add_script('flip.sh')\n",
    )
    (tasks.root / "mode").write_text("fail")
    assert fire(manifest, "job").returncode == 1
    run = runs(state_home)[-1]
    host = os.uname().nodename
    start, end = receiver.requests
    assert start.method == end.method == "GET"
    assert start.path == f"/ok/p/KEY/nightly?env=prod&state=run&series={run.run_id}&host={host}"
    query = urllib.parse.parse_qs(end.path.split("?", 1)[1])
    assert query == {
        "env": ["prod"],
        "state": ["fail"],
        "series": [run.run_id],
        "host": [host],
        "status_code": ["1"],
        "message": [f"ns/job failed on {host} (exit 1): flip.sh exited 1"],
    }
    assert [d["target"] for d in run.deliveries] == [f"{receiver.url}/***"] * 2


# --- secrets ---------------------------------------------------------------------------------------


def test_secrets_stay_in_the_manifest(real_crontab, tasks: Project, state_home: Path, receiver: Receiver) -> None:
    body = (
        "from orchestration import notify, secret\n"
        "o = Orchestrator(name='ns')\n"
        f"hook = notify.webhook(secret('{receiver.url}/hang/tok-in-url'), timeout=1,"
        " headers={'X-Token': secret('tok-in-header')})\n"
        f"o.add_task('0 1 * * *', 'bash', name='job', notify=notify.always(hook), ping=secret('{receiver.url}/fail/tok-in-ping'))"
        ".add_script('flip.sh')\n"
    )
    tasks_file = tasks.write(body)
    assert cli("install", str(tasks_file), "--backend", "crontab").exit_code == 0
    (tasks.root / "mode").write_text("fail")
    shim = subprocess.run(
        [str(Path(sys.executable).with_name("orchestration")), "run", "ns/job"], capture_output=True, text=True
    )
    assert shim.returncode == 1
    secrets = ("tok-in-url", "tok-in-header", "tok-in-ping")
    run = runs(state_home)[-1]
    shown = [
        read_crontab(),
        cli("compile", str(tasks_file), "--target", "systemd").output,
        shim.stdout + shim.stderr,
        cli("history", "--json").output,
        cli("why", "ns/job").output,
        cli("why", "ns/job", "--json").output,
        cli("logs", "ns/job").output,
        cli("status", "--json").output,
        run_log(run),
        *(path.read_bytes().decode("latin-1") for path in state_home.glob("journal.sqlite3*")),
    ]
    for text in shown:
        assert not [secret for secret in secrets if secret in text], text
    manifest = conftest.manifest_file(state_home, "ns")
    assert all(secret in manifest.read_text() for secret in secrets)
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    assert f"warning: webhook {receiver.url}/*** (failure): failed (no answer within" in shim.stderr
    why = cli("why", "ns/job").output
    assert f"  notify always: webhook {receiver.url}/***\n  notify ping {receiver.url}/***\n" in why
    assert f"  run {run.run_id} notified:\n    ping {receiver.url}/*** (start): failed (HTTP 500" in why
    assert receiver.at("/hang/tok-in-url")[0].headers["x-token"] == "tok-in-header"  # the real ones were sent


# --- quiet cron mail -------------------------------------------------------------------------------


def test_a_quiet_run_prints_nothing_and_a_run_with_something_to_read_prints_it(
    tasks: Project, state_home: Path
) -> None:
    manifest = written(
        tasks,
        state_home,
        "o = Orchestrator(name='ns')\n"
        "o.add_task('0 1 * * *', 'bash', name='silent').add_script('silent.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='skipped').add_script('silent.sh').add_skip(True)\n"
        "o.add_task('0 1 * * *', 'bash', name='loud', interval=0).add_script('silent.sh').add_script('loud.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='failing').add_script('silent.sh').add_script('flip.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='verbose', verbose=True).add_script('silent.sh')\n",
    )
    (tasks.root / "mode").write_text("fail")
    silent, skipped, loud, failing, verbose = (
        fire(manifest, task) for task in ("silent", "skipped", "loud", "failing", "verbose")
    )
    assert (silent.stdout, silent.stderr, skipped.stdout, skipped.stderr) == ("", "", "", "")
    assert re.fullmatch(
        r"orchestration ns/loud: silent\.sh \[1/2\] ok \(\d+\.\d\ds\)\n"
        r"a line of output\n"
        r"orchestration ns/loud: loud\.sh \[2/2\] ok \(\d+\.\d\ds\)\n",
        loud.stdout,
    ), loud.stdout
    assert re.fullmatch(
        r"orchestration ns/failing: silent\.sh \[1/2\] ok \(\d+\.\d\ds\)\n"
        r"mode fail\n"
        r"orchestration ns/failing: flip\.sh \[2/2\] failed with exit code 1 \(\d+\.\d\ds\)\n",
        failing.stdout,
    ), failing.stdout
    assert re.fullmatch(r"orchestration ns/verbose: silent\.sh \[1/1\] ok \(\d+\.\d\ds\)\n", verbose.stdout)
    for task in ("silent", "skipped"):  # the log has every line all the same
        assert run_log(runs(state_home, task)[-1]).startswith(f"orchestration ns/{task}: ")


# --- notify test -----------------------------------------------------------------------------------


def test_notify_test_sends_through_every_channel_and_says_what_happened(
    tasks: Project, state_home: Path, receiver: Receiver
) -> None:
    written(
        tasks,
        state_home,
        "from orchestration import notify\n"
        "o = Orchestrator(name='ns')\n"
        f"o.add_task('0 1 * * *', 'bash', name='job', ping='{receiver.url}/ok/hc',\n"
        f"           notify=[notify.on_failure(notify.webhook('{receiver.url}/ok/a')),"
        f" notify.on_skip(notify.webhook('{receiver.url}/fail/b', timeout=2), notify.command(['true']))])"
        ".add_script('silent.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='plain').add_script('silent.sh')\n",
    )
    result = CliRunner().invoke(main, ["notify", "test", "ns/job"])
    assert result.exit_code == 1
    assert result.output == (
        "Test notification of ns/job:\n"
        f"  webhook {receiver.url}/ok/a: sent (HTTP 200)\n"
        f"  webhook {receiver.url}/fail/b: failed (HTTP 500 Internal Server Error (after 3 tries))\n"
        "  command true: sent (true exited 0)\n"
        f"  ping {receiver.url}/ok/hc: sent (HTTP 200)\n"
        "1 of 4 failed.\n"
    )
    [test] = receiver.at("/ok/a")
    assert (test.json["event"], test.json["status"]) == ("test", "ok")
    assert receiver.at("/ok/hc")[0].path.startswith("/ok/hc/log?rid=")  # shown, never counted as a run
    assert not (state_home / "journal.sqlite3").exists()  # nothing recorded
    plain = CliRunner().invoke(main, ["notify", "test", "ns/plain"])
    assert (plain.exit_code, plain.output) == (
        2,
        "Error: ns/plain has no notifications or ping; give add_task (or the Orchestrator) notify= or ping= and"
        " install it again\n",
    )


# --- definitions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        ("notify.on_failure()", "notify.on_failure: give at least one channel, such as notify.on_failure(notify.email('ops@example.com'))"),
        ("notify.on_failure('https://x.example/h')", "notify.on_failure: channels[0] must be a channel made by notify.webhook(url), notify.email(address) or notify.command([program, ...]), not str 'https://x.example/h'\nDid you mean notify.on_failure(notify.webhook(...))?"),
        ("notify.email('ops@example.com, dev@example.com')", "notify.email: to[0] 'ops@example.com, dev@example.com' is not a mail address such as 'ops@example.com' or a local user such as 'root'; give each address as its own argument"),
        ("notify.webhook('https://x.example/h', headers={'X-A': 'a\\nb'})", "notify.webhook: headers['X-A'] contains a line break or NUL byte, which it cannot carry; remove it"),
        ("notify.webhook(secret('hooks.example/s3cr3t'))", "notify.webhook: the secret URL must start with https:// (or http:// for plain HTTP) and name a host, such as 'https://hooks.example.com/...'"),
        ("notify.webhook('https://x.example/h', form='teams')", "notify.webhook: form 'teams' must be 'json' (the run's fields) or 'slack' ({\"text\": ...}, which Slack, Mattermost and Rocket.Chat incoming webhooks take)"),
        ("notify.command('notify-send hi')", "notify.command: argv must be a non-empty list of strings, such as ['notify-send', 'backups'], not str 'notify-send hi'; no shell reads it"),
        ("notify.ping('https://hc-ping.com/x', style='dms')", "notify.ping: style 'dms' must be one of 'healthchecks', 'cronitor'"),
        ("notify.email('root', timeout=0)", "notify.email: timeout 0 must be a number of seconds above 0 and at most 3600: how long a delivery may take, all its tries included"),
        ("Orchestrator(notify=notify.webhook('https://x.example/h'))", "Orchestrator(notify=...): notify must be a rule such as notify.on_failure(notify.email('ops@example.com')), a list of rules, or False for none, not webhook https://x.example/h (webhook)\nA channel says how; say when too: notify=notify.on_failure(notify.webhook(...))"),
        ("Orchestrator().add_task('* * * * *', 'bash', name='t', ping='hc-ping.com/x')", "task 't': add_task: 'hc-ping.com/x' must start with https:// (or http:// for plain HTTP) and name a host, such as 'https://hooks.example.com/...'"),
        ("Orchestrator().add_task('* * * * *', 'bash', name='t', verbose='yes')", "task 't': add_task: verbose must be True (a line on stdout for every run) or False (only runs with output or a failure print), not 'yes'"),
    ],
)  # fmt: skip
def test_each_call_checks_its_arguments_at_once(call: str, message: str) -> None:
    from orchestration import Orchestrator, notify, secret

    with pytest.raises(DefinitionError) as raised:
        eval(call, {"notify": notify, "secret": secret, "Orchestrator": Orchestrator})
    assert str(raised.value) == message


# --- metrics ---------------------------------------------------------------------------------------


def test_node_exporter_scrapes_the_metrics_each_run_writes(
    real_crontab, tasks: Project, state_home: Path, tmp_path: Path
) -> None:
    exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if exporter is None:
        skip_or_fail("no node exporter installed (Debian: apt-get install prometheus-node-exporter)")
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    tasks_file = tasks.write(
        f"o = Orchestrator(name='ns', metrics_dir={str(textfiles)!r})\n"
        "o.add_task('30 2 * * *', 'bash', name='good').add_script('silent.sh')\n"
        "o.add_task('30 2 * * *', 'bash', name='bad').add_script('flip.sh')\n"
        "o.add_task('30 2 * * *', 'bash', name='off').add_script('silent.sh').add_skip(True)\n"
        "o.add_task('@reboot', 'bash', name='never').add_script('silent.sh')\n"
    )
    assert cli("install", str(tasks_file), "--backend", "crontab").exit_code == 0
    manifest = conftest.manifest_file(state_home, "ns")
    (tasks.root / "mode").write_text("fail")
    for task in ("good", "bad", "off", "good"):
        fire(manifest, task)
    assert sorted(os.listdir(textfiles)) == ["orchestration.prom"]  # no temporary file left behind
    port = closed_port()
    process = subprocess.Popen(
        [exporter, "--collector.disable-defaults", "--collector.textfile",
         f"--collector.textfile.directory={textfiles}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert wait_for(lambda: _answers(port), 15), "node exporter did not start"
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        process.terminate()
        process.wait(10)
    samples = _samples(scraped)
    assert samples["node_textfile_scrape_error"] == 0
    good, bad, off = runs(state_home, "good"), runs(state_home, "bad")[-1], runs(state_home, "off")[-1]

    def value(metric: str, task: str, **labels: str) -> float | None:
        shown = "".join(f',{key}="{labels[key]}"' for key in labels)
        return samples.get(f'orchestration_task_{metric}{{backend="crontab",namespace="ns"{shown},task="{task}"}}')

    assert value("runs_total", "good", status="ok") == 2
    assert value("runs_total", "good", status="failed") == 0
    assert value("runs_total", "bad", status="failed") == 1
    assert value("runs_total", "off", status="skipped") == 1
    assert value("runs_total", "never", status="ok") == 0
    assert value("last_success_timestamp_seconds", "good") == pytest.approx(good[-1].finished_at, abs=0.01)
    assert value("last_success_timestamp_seconds", "bad") is None
    assert value("last_run_timestamp_seconds", "bad") == pytest.approx(bad.started_at, abs=0.01)
    assert value("last_run_timestamp_seconds", "off") == pytest.approx(off.started_at, abs=0.01)
    assert value("last_duration_seconds", "bad") == pytest.approx(bad.duration, abs=0.01)
    assert value("last_duration_seconds", "off") is None  # a skip did not run
    assert value("last_run_timestamp_seconds", "never") is None
    next_run = cli("next", "ns/good", "--json", "--count", "1").output
    expected = json.loads(next_run)["ns/good"][0]
    from datetime import datetime

    assert value("next_run_timestamp_seconds", "good") == datetime.fromisoformat(expected).timestamp()
    assert value("next_run_timestamp_seconds", "never") is None
    assert {value("up", task) for task in ("good", "bad", "off", "never")} == {1}
    assert [d["channel"] for d in off.deliveries] == ["metrics"] and off.deliveries[0]["outcome"] == "sent"

    # The command prints the same figures (its next firing from the preview); drift and a missing
    # script turn `up` to 0, as `status` marks them.
    printed = _samples(cli("metrics").output)
    assert {key: v for key, v in printed.items() if "next_run" not in key} == {
        key: v for key, v in samples.items() if key.startswith("orchestration_") and "next_run" not in key
    }
    assert {key for key in printed if "next_run" in key} == {key for key in samples if "next_run" in key}
    (tasks.root / "flip.sh").unlink()
    printed = _samples(cli("metrics").output)
    assert printed['orchestration_task_up{backend="crontab",namespace="ns",task="bad"}'] == 0
    assert printed['orchestration_task_up{backend="crontab",namespace="ns",task="good"}'] == 1
    tasks_file.write_text(tasks_file.read_text() + "\n# edited\n")
    printed = _samples(cli("metrics").output)
    assert printed['orchestration_task_up{backend="crontab",namespace="ns",task="good"}'] == 0
    assert "! ns: the tasks file changed since it was installed (drift)" in cli("status").output


def test_runs_total_is_a_counter_that_pruning_does_not_lower(tasks: Project, state_home: Path) -> None:
    manifest = written(
        tasks,
        state_home,
        "o = Orchestrator(name='ns', keep_runs=2)\no.add_task('0 1 * * *', 'bash', name='t').add_script('silent.sh')\n",
    )
    for _ in range(4):
        assert fire(manifest, "t").returncode == 0
    assert len(runs(state_home)) == 2
    samples = _samples(cli("metrics").output)
    assert samples['orchestration_task_runs_total{backend="crontab",namespace="ns",status="ok",task="t"}'] == 4


def test_the_metrics_file_is_replaced_whole(tasks: Project, state_home: Path, tmp_path: Path) -> None:
    """Runs ending together under ORCHESTRATION_METRICS_DIR: the file is always complete."""
    folder = tmp_path / "prom"
    folder.mkdir()
    manifest = written(
        tasks,
        state_home,
        "o = Orchestrator(name='ns', keep_runs=1000)\no.add_task('0 1 * * *', 'bash', name='t', overlap='allow').add_script('silent.sh')\n",
    )
    shims = [
        subprocess.Popen([EXEC, str(manifest), "t"], env={**os.environ, "ORCHESTRATION_METRICS_DIR": str(folder)})
        for _ in range(8)
    ]
    seen = []
    while any(shim.poll() is None for shim in shims):
        if (folder / "orchestration.prom").exists():
            seen.append((folder / "orchestration.prom").read_text())
    assert all(shim.wait() == 0 for shim in shims)
    final = (folder / "orchestration.prom").read_text()
    for text in [*seen, final]:
        assert text.endswith("\n") and "# TYPE orchestration_task_up gauge" in text
    assert _samples(final)['orchestration_task_runs_total{backend="crontab",namespace="ns",status="ok",task="t"}'] == 8
    assert sorted(os.listdir(folder)) == ["orchestration.prom"]


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return False
    return True


def _samples(text: str) -> dict[str, float]:
    """Sample lines as {name{sorted labels}: value}."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        if "{" in name:
            metric, labels = name[:-1].split("{", 1)
            parts = sorted(re.findall(r'[a-zA-Z_]+="(?:[^"\\]|\\.)*"', labels))
            name = f"{metric}{{{','.join(parts)}}}"
        found[name] = float(value)
    return found


# --- real schedulers: cron and a systemd user manager, mail through a real MTA ---------------------

MAIL_USER = "orchestration-mail"


@pytest.fixture
def mailbox(sandbox, tmp_path: Path) -> Iterator[Path]:
    """Debian's exim4 delivering locally into a mailbox of a private user, inside this test's
    mount namespace: /etc/passwd and /etc/aliases (root's mail goes to that user too) are copies
    bind-mounted over the machine's, and the mail spool, exim's spool and its log are on tmpfs.
    Cron is restarted in this namespace, so that the jobs it starts see the same files."""
    if not os.path.exists("/usr/sbin/exim4") or not os.path.exists("/usr/sbin/sendmail"):
        skip_or_fail("no MTA installed (Debian: apt-get install exim4-daemon-light)")
    if os.geteuid() != 0:
        skip_or_fail("the mailbox fixture mounts files over /etc and /var: run the tests as root")
    try:
        exim = pwd.getpwnam("Debian-exim")
    except KeyError:
        skip_or_fail("exim4 is installed without its user Debian-exim")
    passwd = tmp_path / "passwd"  # the user's home is /: exim delivers from there, as that user
    passwd.write_text(
        Path("/etc/passwd").read_text() + f"{MAIL_USER}:x:64990:8:orchestration tests:/:/usr/sbin/nologin\n"
    )
    aliases = tmp_path / "aliases"
    aliases.write_text(Path("/etc/aliases").read_text() + f"root: {MAIL_USER}\n")
    mounted = []

    def mount(*arguments: str) -> None:
        subprocess.run(["mount", *arguments], check=True)
        mounted.append(arguments[-1])

    try:
        mount("--bind", str(passwd), "/etc/passwd")
        mount("--bind", str(aliases), "/etc/aliases")
        mount("-t", "tmpfs", "-o", "mode=2775,gid=8", "tmpfs", "/var/mail")
        mount("-t", "tmpfs", "-o", "mode=0750", "tmpfs", "/var/spool/exim4")
        for name in ("db", "input", "msglog"):
            os.mkdir(f"/var/spool/exim4/{name}", 0o750)
            os.chown(f"/var/spool/exim4/{name}", exim.pw_uid, exim.pw_gid)
        os.chown("/var/spool/exim4", exim.pw_uid, exim.pw_gid)
        os.makedirs("/var/log/exim4", exist_ok=True)
        mount("-t", "tmpfs", "-o", "mode=2750", "tmpfs", "/var/log/exim4")
        os.chown("/var/log/exim4", exim.pw_uid, 4)  # adm
    except (subprocess.CalledProcessError, OSError) as error:
        for target in reversed(mounted):
            subprocess.run(["umount", target])
        skip_or_fail(f"cannot set up a private mail spool here: {error}")
    conftest.stop_cron()
    conftest.start_cron()
    try:
        yield Path("/var/mail") / MAIL_USER
    finally:
        conftest.stop_cron()
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", target])
        conftest.start_cron()


def messages(mailbox: Path) -> list[str]:
    """The mails in an mbox, each as its text."""
    if not mailbox.exists():
        return []
    return [part for part in re.split(r"^From \S+ .*$\n", mailbox.read_text(), flags=re.MULTILINE) if part.strip()]


def header(message: str, name: str) -> str:
    match = re.search(rf"^{name}: (.*(?:\n[ \t].*)*)", message, re.MULTILINE)
    return " ".join(match.group(1).split()) if match else ""


SCENARIO = ["fail", "fail", "skip", "ok"]


@pytest.mark.cron_daemon
@pytest.mark.systemd
def test_real_schedulers_notify_once_per_failed_run_and_once_on_recovery(
    mailbox: Path, systemd_user: Path, tmp_path: Path, state_home: Path, receiver: Receiver
) -> None:
    """One namespace on cron, one on a systemd user manager, firing every minute: two failed runs,
    a skip, a success. Each failed run notifies once (a webhook and a mail through exim), the
    success once as the recovery, the skip not at all; the heartbeat gets its pings. Cron mails
    the output of the failed runs, and nothing for the skip or the quiet success."""
    projects = {}
    for backend in ("crontab", "systemd"):
        project = Project(tmp_path / backend)
        (project.root / "flip.sh").write_text(FAIL_OR_OK)
        project.write(
            "from orchestration import notify, skips\n"
            f"o = Orchestrator(name='{backend}-ns', notify=notify.on_change(notify.webhook('{receiver.url}/ok/{backend}'),"
            f" notify.email('{MAIL_USER}')), ping='{receiver.url}/ok/hc-{backend}')\n"
            "o.add_task('* * * * *', 'bash', name='flip').add_script('flip.sh').add_skip(skips.file_exists('skip'))\n"
        )
        (project.root / "mode").write_text("fail")
        projects[backend] = project
    time.sleep(1.05 - time.time() % 1)  # a second after cron (re)started and read the spool (see cron_crontab)
    for backend, project in projects.items():
        result = cli("install", str(project.tasks_file), "--backend", backend)
        assert result.exit_code == 0, result.output

    def ended(backend: str) -> list:
        path = state_home / "journal.sqlite3"
        found = list(Journal(path).runs(namespace=f"{backend}-ns")) if path.exists() else []
        return [r for r in reversed(found) if r.status != "running"]

    for step, mode in enumerate(SCENARIO, start=1):
        for project in projects.values():
            (project.root / "mode").write_text("ok" if mode == "skip" else mode)
            (project.root / "skip").unlink(missing_ok=True)
            if mode == "skip":
                (project.root / "skip").touch()
        assert wait_for(lambda n=step: all(len(ended(b)) >= n for b in projects), 150), (
            step,
            ended("crontab"),
            ended("systemd"),
        )
        # the run's notifications are recorded after it ends: wait for them too
        assert wait_for(lambda n=step: all(ended(b)[n - 1].deliveries for b in projects), 30)
    for backend in projects:
        cli("uninstall", "--name", f"{backend}-ns")

    for backend in projects:
        statuses = [r.status for r in ended(backend)[:4]]
        assert statuses == ["failed", "failed", "skipped", "ok"], (backend, statuses)
        events = [(r.json["event"], r.json["status"]) for r in receiver.at(f"/ok/{backend}")]
        assert events[:3] == [("failure", "failed"), ("failure", "failed"), ("recovery", "ok")], (backend, events)
        assert len(events) == 3 or ended(backend)[4:]  # a fifth firing may have come before the uninstall
        pings = [r.path.split("?")[0].removeprefix(f"/ok/hc-{backend}") for r in receiver.at(f"/ok/hc-{backend}")]
        assert pings[:8] == ["/start", "/1", "/start", "/1", "/start", "", "/start", ""], (backend, pings)
        runs_of = ended(backend)
        assert [r.trigger for r in runs_of[:4]] == [{"crontab": "cron", "systemd": "systemd"}[backend]] * 4

    mails = [d for backend in projects for r in ended(backend) for d in r.deliveries if d["channel"] == "email"]
    exim_log = Path("/var/log/exim4/mainlog")
    delivered = wait_for(lambda: len([m for m in messages(mailbox) if "[orchestration]" in m]) >= 6, 30)
    if not delivered:
        Path(tempfile.gettempdir(), "orchestration-test-exim.log").write_text(
            exim_log.read_text() if exim_log.exists() else "no exim log"
        )
    assert delivered, (mails, f"exim's log: {tempfile.gettempdir()}/orchestration-test-exim.log")
    ours = [m for m in messages(mailbox) if header(m, "Subject").startswith("[orchestration]")]
    host = os.uname().nodename
    for backend in projects:
        subjects = [header(m, "Subject") for m in ours if f"{backend}-ns/flip" in header(m, "Subject")]
        assert subjects[:3] == [
            f"[orchestration] {backend}-ns/flip failed on {host} (exit 1)",
            f"[orchestration] {backend}-ns/flip failed on {host} (exit 1)",
            f"[orchestration] {backend}-ns/flip recovered on {host}",
        ]
    first = next(m for m in ours if "crontab-ns/flip failed" in header(m, "Subject"))
    assert header(first, "Auto-Submitted") == "auto-generated"
    assert "mode fail" in first and "The whole log: orchestration logs crontab-ns/flip --run " in first

    # Cron's own mail: the output of each failed run, nothing for the skip and the quiet success.
    from_cron = [m for m in messages(mailbox) if header(m, "Subject").startswith("Cron <")]
    assert len(from_cron) == 2, [header(m, "Subject") for m in from_cron]
    assert all("orchestration crontab-ns/flip: flip.sh [1/1] failed with exit code 1" in m for m in from_cron)


def test_a_journal_of_the_previous_schema_migrates_with_its_counts(tmp_path: Path) -> None:
    """Schema 3 adds each run's deliveries and the totals behind runs_total, counted from the
    runs already there."""
    import sqlite3

    from orchestration.runtime.journal import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        old.executescript(migration)
    old.execute("PRAGMA user_version = 2")
    rows = [
        ("r1", "ok", 10.0, 11.0),
        ("r2", "failed", 20.0, 21.5),
        ("r3", "ok", 30.0, 31.0),
        ("r4", "running", 40.0, None),
    ]
    old.executemany(
        "INSERT INTO runs (run_id, namespace, task, trigger, started_at, finished_at, status) VALUES (?, 'ns', 't', 'cron', ?, ?, ?)",
        [(run_id, started, finished, status) for run_id, status, started, finished in rows],
    )
    old.commit()
    old.close()
    journal = Journal(path)
    assert journal.totals() == {("ns", "t"): {"ok": (2, 30.0, 31.0), "failed": (1, 20.0, 21.5)}}
    assert [run.deliveries for run in journal.runs()] == [[], [], [], []]
    assert journal.connect().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    journal.close()


def test_a_tasks_own_settings_replace_the_orchestrators(tasks: Project, state_home: Path) -> None:
    """What the manifest holds: the Orchestrator's notify, ping and verbose by default; a task's
    own replace them, and False turns them off; a task that reports nothing has no entry."""
    manifest = written(
        tasks,
        state_home,
        "from orchestration import notify\n"
        "mail = notify.on_failure(notify.email('ops@example.com'))\n"
        "o = Orchestrator(name='ns', notify=mail, ping='https://hc-ping.com/x', verbose=True)\n"
        "o.add_task('0 1 * * *', 'bash', name='inherits').add_script('silent.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='own', notify=[notify.on_success(notify.command(['true']))],"
        " ping='https://hc-ping.com/y', verbose=False).add_script('silent.sh')\n"
        "o.add_task('0 1 * * *', 'bash', name='off', notify=False, ping=False, verbose=False).add_script('silent.sh')\n",
    )
    data = json.loads(manifest.read_text())["tasks"]
    assert data["inherits"]["reporting"] == {
        "notify": [{"when": "on_failure", "channels": [{"kind": "email", "to": ["ops@example.com"], "timeout": 10.0}]}],
        "ping": {"url": "https://hc-ping.com/x", "style": "healthchecks", "timeout": 10.0},
        "verbose": True,
    }
    assert data["own"]["reporting"] == {
        "notify": [{"when": "on_success", "channels": [{"kind": "command", "argv": ["true"], "timeout": 10.0}]}],
        "ping": {"url": "https://hc-ping.com/y", "style": "healthchecks", "timeout": 10.0},
    }
    assert "reporting" not in data["off"]
