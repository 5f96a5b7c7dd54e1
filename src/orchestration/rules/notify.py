"""What a task reports beyond its record: notifications (when, and through which channels), the
heartbeat ping, a line per run on stdout, and the metrics file. `define.notify` builds these
records, the manifest stores them, and the shim (`runtime.notify`) acts on them.

A text given with `secret(...)` (a URL, a header value, an argument of a command) is kept in the
manifest, which only its owner can read, and shown everywhere else masked: `***`, or for a URL
its scheme and host followed by `/***`.

Standard library only: the shim reads these from every manifest.
"""

from __future__ import annotations

from ..frozen import Frozen
from .values import MASK

TYPE_CHECKING = False  # `typing` is not on the shim's path; type checkers set this to True
if TYPE_CHECKING:
    from typing import Any

# What a finished run is, for its notifications. A recovery is also a success.
FAILURE, RECOVERY, SUCCESS, SKIP = "failure", "recovery", "success", "skip"
# Each builder of `orchestration.notify` and the events it sends on.
WHEN: dict[str, tuple[str, ...]] = {
    "on_failure": (FAILURE,),
    "on_recovery": (RECOVERY,),
    "on_change": (FAILURE, RECOVERY),
    "on_success": (SUCCESS,),
    "always": (FAILURE, SUCCESS),
    "on_skip": (SKIP,),
}
DEFAULT_TIMEOUT = 10.0  # seconds a delivery may take, all its tries included
PING_STYLES = ("healthchecks", "cronitor")
WEBHOOK_FORMS = ("json", "slack")
WEBHOOK_METHODS = ("POST", "PUT", "PATCH")


class Text(Frozen):
    """A text of the tasks file that may be a secret."""

    value: str
    secret: bool = False

    @property
    def shown(self) -> str:
        """The text as messages, the journal and the commands show it."""
        return MASK if self.secret else self.value

    def to_json(self, masked: bool = False) -> str | dict[str, Any]:
        if not self.secret:
            return self.value
        return {"value": MASK if masked else self.value, "secret": True}

    @classmethod
    def from_json(cls, data: Any) -> Text:
        if isinstance(data, str):
            return cls(data)
        value = data.get("value") if isinstance(data, dict) else None
        if not isinstance(value, str):
            raise ValueError("a text must be a string or {'value': ..., 'secret': true}")
        return cls(value, bool(data.get("secret", False)))


def shown_url(url: Text) -> str:
    """A URL as it may be shown: a secret one as its scheme and host, then /***."""
    if not url.secret:
        return url.value
    scheme, _, rest = url.value.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    return f"{scheme}://{host}/{MASK}"


class Webhook(Frozen):
    """An HTTP request with the run as JSON (or Slack's {"text": ...})."""

    url: Text
    headers: tuple[tuple[str, Text], ...] = ()
    method: str = "POST"
    form: str = "json"
    timeout: float = DEFAULT_TIMEOUT

    KIND = "webhook"

    @property
    def target(self) -> str:
        return shown_url(self.url)

    @property
    def shown(self) -> str:
        return f"{self.KIND} {self.target}"

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": self.KIND, "url": self.url.to_json(masked)}
        if self.headers:
            entry["headers"] = [[name, value.to_json(masked)] for name, value in self.headers]
        entry.update(method=self.method, form=self.form, timeout=self.timeout)
        return entry

    @classmethod
    def from_json(cls, data: Any) -> Webhook:
        return cls(
            url=Text.from_json(data["url"]),
            headers=tuple((str(name), Text.from_json(value)) for name, value in data.get("headers", [])),
            method=str(data.get("method", "POST")),
            form=str(data.get("form", "json")),
            timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        )


class Email(Frozen):
    """A mail through the machine's sendmail interface (`/usr/sbin/sendmail -t`)."""

    to: tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT

    KIND = "email"

    @property
    def target(self) -> str:
        return ", ".join(self.to)

    @property
    def shown(self) -> str:
        return f"{self.KIND} {self.target}"

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        return {"kind": self.KIND, "to": list(self.to), "timeout": self.timeout}

    @classmethod
    def from_json(cls, data: Any) -> Email:
        return cls(
            to=tuple(str(address) for address in data["to"]), timeout=float(data.get("timeout", DEFAULT_TIMEOUT))
        )


class Command(Frozen):
    """A program run with the run's fields in ORCHESTRATION_* variables; no shell."""

    argv: tuple[Text, ...]
    timeout: float = DEFAULT_TIMEOUT

    KIND = "command"

    @property
    def target(self) -> str:
        return " ".join(word.shown for word in self.argv)

    @property
    def shown(self) -> str:
        return f"{self.KIND} {self.target}"

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        return {"kind": self.KIND, "argv": [word.to_json(masked) for word in self.argv], "timeout": self.timeout}

    @classmethod
    def from_json(cls, data: Any) -> Command:
        return cls(
            argv=tuple(Text.from_json(word) for word in data["argv"]),
            timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        )


Channel = Webhook | Email | Command
_CHANNELS: dict[str, Any] = {Webhook.KIND: Webhook, Email.KIND: Email, Command.KIND: Command}


class Rule(Frozen):
    """When to notify (the builder's name, such as 'on_failure') and through which channels."""

    when: str
    channels: tuple[Channel, ...]

    @property
    def events(self) -> tuple[str, ...]:
        return WHEN[self.when]

    @property
    def shown(self) -> str:
        return f"{self.when.replace('_', ' ')}: {', '.join(channel.shown for channel in self.channels)}"

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        return {"when": self.when, "channels": [channel.to_json(masked) for channel in self.channels]}

    @classmethod
    def from_json(cls, data: Any) -> Rule:
        when = data["when"]
        if when not in WHEN:
            raise ValueError(f"unknown notification rule {when!r}")
        channels = []
        for channel in data["channels"]:
            kind = _CHANNELS.get(channel.get("kind"))
            if kind is None:
                raise ValueError(f"unknown notification channel {channel.get('kind')!r}")
            channels.append(kind.from_json(channel))
        return cls(when, tuple(channels))


class Ping(Frozen):
    """A heartbeat URL: healthchecks.io's convention (URL/start, URL, URL/<exit code>) or
    Cronitor's (?state=run|complete|fail)."""

    url: Text
    style: str = "healthchecks"
    timeout: float = DEFAULT_TIMEOUT

    @property
    def target(self) -> str:
        return shown_url(self.url)

    @property
    def shown(self) -> str:
        return f"ping {self.target}" + (f" ({self.style})" if self.style != "healthchecks" else "")

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        return {"url": self.url.to_json(masked), "style": self.style, "timeout": self.timeout}

    @classmethod
    def from_json(cls, data: Any) -> Ping:
        style = str(data.get("style", "healthchecks"))
        if style not in PING_STYLES:
            raise ValueError(f"unknown ping style {style!r}")
        return cls(Text.from_json(data["url"]), style, float(data.get("timeout", DEFAULT_TIMEOUT)))


class Reporting(Frozen):
    """What a task reports beyond its record."""

    rules: tuple[Rule, ...] = ()
    ping: Ping | None = None
    verbose: bool = False  # a line on stdout for every run, not only for runs with something to read
    metrics_dir: str | None = None  # where each run rewrites orchestration.prom

    @property
    def notifies(self) -> bool:
        """Whether a run sends anything (a notification or a ping)."""
        return bool(self.rules) or self.ping is not None

    @property
    def channels(self) -> list[Channel]:
        """Every channel of every rule, each once, in order."""
        return list(dict.fromkeys(channel for rule in self.rules for channel in rule.channels))

    @property
    def lines(self) -> list[str]:
        """The configuration in words, secrets masked."""
        return [rule.shown for rule in self.rules] + ([self.ping.shown] if self.ping else [])

    def secrets(self) -> list[str]:
        """Every secret text, to mask wherever it might show up (an error message that quotes a URL)."""
        texts: list[Text] = [self.ping.url] if self.ping else []
        for rule in self.rules:
            for channel in rule.channels:
                if isinstance(channel, Webhook):
                    texts += [channel.url, *(value for _, value in channel.headers)]
                elif isinstance(channel, Command):
                    texts += list(channel.argv)
        return sorted({text.value for text in texts if text.secret and text.value}, key=len, reverse=True)

    def to_json(self, masked: bool = False) -> dict[str, Any]:
        """Only what differs from the defaults (a task without any has no entry)."""
        entry: dict[str, Any] = {}
        if self.rules:
            entry["notify"] = [rule.to_json(masked) for rule in self.rules]
        if self.ping:
            entry["ping"] = self.ping.to_json(masked)
        if self.verbose:
            entry["verbose"] = True
        if self.metrics_dir:
            entry["metrics_dir"] = self.metrics_dir
        return entry

    @classmethod
    def from_json(cls, data: Any) -> Reporting:
        if not data:
            return cls()
        ping = data.get("ping")
        return cls(
            rules=tuple(Rule.from_json(rule) for rule in data.get("notify", [])),
            ping=Ping.from_json(ping) if ping else None,
            verbose=bool(data.get("verbose", False)),
            metrics_dir=data.get("metrics_dir") or None,
        )


def mask(text: str, secrets: list[str]) -> str:
    """`text` with every secret in it replaced by ***."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
