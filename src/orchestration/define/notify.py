"""Notifications and heartbeat pings in a tasks file: when a task tells someone, and how.

    from orchestration import Orchestrator, notify, secret

    orchestrator = Orchestrator(name="backups", notify=notify.on_failure(notify.email("ops@example.com")))
    orchestrator.add_task("0 2 * * *", "bash", name="nightly",
                          notify=notify.on_change(notify.webhook(secret("https://hooks.slack.com/services/..."), form="slack")),
                          ping="https://hc-ping.com/<uuid>")

`on_failure`, `on_recovery`, `on_change`, `on_success`, `always` and `on_skip` say when; each takes
one or more channels, made by `webhook`, `email` and `command`. `ping` makes a heartbeat URL of
another style than healthchecks.io's. Each call checks its arguments at once (a DefinitionError
that names the call, the argument and the fix). What a run sends is `runtime.notify`'s.
"""

from __future__ import annotations

import math
import os
import re
from urllib.parse import urlsplit

from ..errors import DefinitionError
from ..rules.notify import (
    DEFAULT_TIMEOUT,
    PING_STYLES,
    WEBHOOK_FORMS,
    WEBHOOK_METHODS,
    WHEN,
    Command,
    Email,
    Ping,
    Rule,
    Text,
    Webhook,
)
from ..rules.values import Secret

TYPE_CHECKING = False  # `typing` is not on a run's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "always",
    "command",
    "email",
    "on_change",
    "on_failure",
    "on_recovery",
    "on_skip",
    "on_success",
    "ping",
    "webhook",
]

CHANNEL_TYPES = (Webhook, Email, Command)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ADDRESS = re.compile(r"[^\s@,;:<>()\[\]\"'\\]+(@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?")
MAX_TIMEOUT = 3600


# --- when ------------------------------------------------------------------------------------------


def on_failure(*channels: Any) -> Rule:
    """Notify when a run fails (failed, error, timeout, killed), after its last retry."""
    return _rule("on_failure", channels)


def on_recovery(*channels: Any) -> Rule:
    """Notify on the first successful run after a failed one."""
    return _rule("on_recovery", channels)


def on_change(*channels: Any) -> Rule:
    """Notify on every failure and on the recovery after it."""
    return _rule("on_change", channels)


def on_success(*channels: Any) -> Rule:
    """Notify when a run ends ok."""
    return _rule("on_success", channels)


def always(*channels: Any) -> Rule:
    """Notify when a run ends, however it ends (skipped and overlapping firings excepted)."""
    return _rule("always", channels)


def on_skip(*channels: Any) -> Rule:
    """Notify when a firing is skipped by a skip condition or because the previous run still runs."""
    return _rule("on_skip", channels)


def _rule(when: str, channels: tuple[Any, ...]) -> Rule:
    call = f"notify.{when}"
    if not channels:
        raise DefinitionError(
            f"{call}: give at least one channel, such as {call}(notify.email('ops@example.com'))", field="channels"
        )
    for index, channel in enumerate(channels):
        if not isinstance(channel, CHANNEL_TYPES):
            hint = None
            if isinstance(channel, (str, Secret)) and _text(channel).startswith(("http://", "https://")):
                hint = f"Did you mean {call}(notify.webhook(...))?"
            elif isinstance(channel, str) and "@" in channel:
                hint = f"Did you mean {call}(notify.email({channel!r}))?"
            elif isinstance(channel, Rule):
                hint = "Give the rules to notify= as a list: notify=[notify.on_failure(...), notify.on_success(...)]"
            raise DefinitionError(
                f"{call}: channels[{index}] must be a channel made by notify.webhook(url), notify.email(address)"
                f" or notify.command([program, ...]), not {_kind_shown(channel)}",
                field="channels",
                hint=hint,
            )
    assert when in WHEN
    return Rule(when, tuple(channels))


# --- how -------------------------------------------------------------------------------------------


def webhook(
    url: Any,
    *,
    headers: dict[str, Any] | None = None,
    method: str = "POST",
    form: str = "json",
    timeout: float = DEFAULT_TIMEOUT,
) -> Webhook:
    """An HTTP request with the run as JSON (`form="slack"`: Slack's {"text": ...}). `url` and
    header values may be `secret(...)`."""
    call = "notify.webhook"
    address = _url(call, "url", url)
    if headers is None:
        headers = {}
    if not isinstance(headers, dict):
        raise DefinitionError(
            f"{call}: headers must be a dict of header name to value, not {type(headers).__name__}", field="headers"
        )
    checked = []
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise DefinitionError(
                f"{call}: header name {name!r} must be letters, digits and '-' (such as 'Authorization')",
                field="headers",
            )
        checked.append((name, _plain_text(call, f"headers[{name!r}]", value, lines=False)))
    if not isinstance(method, str) or method.upper() not in WEBHOOK_METHODS:
        raise DefinitionError(
            f"{call}: method {method!r} must be one of {', '.join(WEBHOOK_METHODS)} (the run goes in the body)",
            field="method",
        )
    if form not in WEBHOOK_FORMS:
        raise DefinitionError(
            f"{call}: form {form!r} must be 'json' (the run's fields) or 'slack' ({{\"text\": ...}}, which Slack,"
            " Mattermost and Rocket.Chat incoming webhooks take)",
            field="form",
        )
    return Webhook(address, tuple(checked), method.upper(), form, _timeout(call, timeout))


def email(*to: str, timeout: float = DEFAULT_TIMEOUT) -> Email:
    """A mail to each address through `/usr/sbin/sendmail -t`, the way cron mails."""
    call = "notify.email"
    if not to:
        raise DefinitionError(f"{call}: give at least one address, such as {call}('ops@example.com')", field="to")
    for index, address in enumerate(to):
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise DefinitionError(
                f"{call}: to[{index}] {address!r} is not a mail address such as 'ops@example.com' or a local"
                " user such as 'root'; give each address as its own argument",
                field="to",
            )
    return Email(tuple(to), _timeout(call, timeout))


def command(argv: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Command:
    """A program run with the run's fields in ORCHESTRATION_* variables (no shell); a bare name is
    looked up on the PATH scripts get. Arguments may be `secret(...)`."""
    call = "notify.command"
    if isinstance(argv, (str, Secret)) or not isinstance(argv, (list, tuple)) or not argv:
        raise DefinitionError(
            f"{call}: argv must be a non-empty list of strings, such as ['notify-send', 'backups'], not"
            f" {_kind_shown(argv)}; no shell reads it",
            field="argv",
        )
    words = tuple(_plain_text(call, f"argv[{index}]", word, lines=True) for index, word in enumerate(argv))
    program = words[0]
    if program.secret or not program.value:
        raise DefinitionError(f"{call}: argv[0] must name the program to run, in plain text", field="argv")
    if os.path.isabs(program.value) and not (os.path.isfile(program.value) and os.access(program.value, os.X_OK)):
        raise DefinitionError(
            f"{call}: {program.value} is not an executable file; give the path of the program to run", field="argv"
        )
    return Command(words, _timeout(call, timeout))


def ping(url: Any, *, style: str = "healthchecks", timeout: float = DEFAULT_TIMEOUT) -> Ping:
    """A heartbeat URL, for `ping=`: `style="healthchecks"` (URL/start, URL, URL/<exit code>; the
    same as giving the URL alone) or `style="cronitor"` (?state=run|complete|fail)."""
    call = "notify.ping"
    if style not in PING_STYLES:
        raise DefinitionError(
            f"{call}: style {style!r} must be one of {', '.join(repr(s) for s in PING_STYLES)}", field="style"
        )
    return Ping(_url(call, "url", url), style, _timeout(call, timeout))


# --- what add_task and Orchestrator take -------------------------------------------------------


def rules_of(value: Any, call: str, task: str | None = None) -> tuple[Rule, ...] | None:
    """`notify=`: a rule, a list of rules, or False for none; None inherits the Orchestrator's."""
    if value is None:
        return None
    if value is False:
        return ()
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, Rule):
            hint = None
            if isinstance(item, CHANNEL_TYPES):
                hint = "A channel says how; say when too: notify=notify.on_failure(notify.webhook(...))"
            raise DefinitionError(
                f"{call}: notify must be a rule such as notify.on_failure(notify.email('ops@example.com')), a list"
                f" of rules, or False for none, not {_kind_shown(item)}",
                task=task,
                field="notify",
                hint=hint,
            )
    return tuple(items)


def ping_of(value: Any, call: str, task: str | None = None) -> Ping | bool | None:
    """`ping=`: a URL (healthchecks.io's convention), notify.ping(...), or False for none; None
    inherits the Orchestrator's."""
    if value is None or value is False:
        return value
    if isinstance(value, Ping):
        return value
    if isinstance(value, (str, Secret)):
        try:
            return Ping(_url(call, "ping", value))
        except DefinitionError as error:
            raise DefinitionError(error.message, task=task, field="ping") from None
    raise DefinitionError(
        f"{call}: ping must be a URL such as 'https://hc-ping.com/<uuid>', notify.ping(url, style='cronitor'),"
        f" or False for none, not {_kind_shown(value)}",
        task=task,
        field="ping",
    )


def verbose_of(value: Any, call: str, task: str | None = None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise DefinitionError(
        f"{call}: verbose must be True (a line on stdout for every run) or False (only runs with output or"
        f" a failure print), not {value!r}",
        task=task,
        field="verbose",
    )


def metrics_dir_of(value: Any, base_dir: str) -> str | None:
    """`Orchestrator(metrics_dir=...)`: a folder, relative to the tasks file's folder."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise DefinitionError(
            f"Orchestrator(metrics_dir=...): {value!r} is not a folder path, such as"
            " '/var/lib/prometheus/node-exporter'",
            field="metrics_dir",
        )
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(os.fspath(value))))


# --- checks ----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    inner = value.value if isinstance(value, Secret) else value
    return inner if isinstance(inner, str) else ""


def _kind_shown(value: Any) -> str:
    if isinstance(value, Secret):
        return "a secret"
    if isinstance(value, (*CHANNEL_TYPES, Rule, Ping)):
        return f"{value.shown} ({type(value).__name__.lower()})"
    return f"{type(value).__name__} {value!r}"


def _plain_text(call: str, argument: str, value: Any, *, lines: bool) -> Text:
    """A string or secret(string): never a function or template (a delivery happens after the run,
    outside the tasks file). Messages never show a secret."""
    secret = isinstance(value, Secret)
    inner = value.value if isinstance(value, Secret) else value
    if not isinstance(inner, str):
        shown = "a secret that is not a string" if secret else _kind_shown(value)
        raise DefinitionError(f"{call}: {argument} must be a string or secret('...'), not {shown}", field=argument)
    bad = "\0" if lines else "\0\r\n"
    if any(character in inner for character in bad):
        what = "a NUL byte" if lines else "a line break or NUL byte"
        raise DefinitionError(f"{call}: {argument} contains {what}, which it cannot carry; remove it", field=argument)
    return Text(inner, secret)


def _url(call: str, argument: str, value: Any) -> Text:
    """An http:// or https:// URL, given with its scheme (plain HTTP only when asked for)."""
    text = _plain_text(call, argument, value, lines=False)
    shown = "the secret URL" if text.secret else repr(text.value)
    try:
        parts = urlsplit(text.value)
        parts.port  # noqa: B018  # a port that is not a number raises here
    except ValueError:
        raise DefinitionError(f"{call}: {shown} is not a URL", field=argument) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DefinitionError(
            f"{call}: {shown} must start with https:// (or http:// for plain HTTP) and name a host, such as"
            " 'https://hooks.example.com/...'",
            field=argument,
        )
    if any(character.isspace() for character in text.value):
        raise DefinitionError(f"{call}: {shown} contains whitespace; URL-encode it (%20)", field=argument)
    return text


def _timeout(call: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        value_ok = False
    else:
        value_ok = 0 < value <= MAX_TIMEOUT
    if not value_ok:
        raise DefinitionError(
            f"{call}: timeout {value!r} must be a number of seconds above 0 and at most {MAX_TIMEOUT}: how long"
            " a delivery may take, all its tries included",
            field="timeout",
        )
    return float(value)
