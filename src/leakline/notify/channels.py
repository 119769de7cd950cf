"""Delivery channels behind one small ABC: SMTP (STARTTLS, auth), signed webhook, Slack and Teams.

Every channel gets the message's idempotency key and must pass it on so that a receiver can drop a
redelivery: SMTP as the `Message-ID` header, HTTP channels as the `Idempotency-Key` header (Slack and
Teams ignore it; their messages carry the id in the text). Secrets (webhook URLs, HMAC keys, SMTP
passwords) come from environment variables named in leakline.toml and are never logged or stored.
A failed attempt raises `DeliveryError` with a short reason free of message content.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import smtplib
import socket
import ssl
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from leakline.notify.errors import ChannelConfigError, DeliveryError

if TYPE_CHECKING:
    import aiohttp

    from leakline.config import Settings
    from leakline.notify.settings import ChannelsSettings, SmtpSettings

SIGNATURE_HEADER = "X-Leakline-Signature"
TIMESTAMP_HEADER = "X-Leakline-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MESSAGE_ID_DOMAIN = "leakline"
_MAX_ERROR_CHARS = 300
# Headers folded only past RFC 5322's hard limit of 998 characters: the standard library's folding at 78
# put a second space before an encoded word ("Cal. Civ. Code  § 1798.82(f)"), so a regulator's copy of a
# subject differed from the approved one.
_WIRE = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message handed to a channel by the worker."""

    communication_id: str
    incident_id: str
    idempotency_key: str
    kind: str
    to: str
    subject: str
    body: str
    language: str
    """The language the text is in (`de`): one address may take several language versions of a notice."""


def message_id(idempotency_key: str) -> str:
    return f"<{idempotency_key}@{MESSAGE_ID_DOMAIN}>"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 over `timestamp.body` (the timestamp stops replays of old bodies)."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# What a server's reply may quote that must not reach a log or the outbox: e-mail addresses (a data subject's
# is personal data) and long opaque tokens (an echoed credential, a session id).
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_MAX_REPLY_CHARS = 160


def server_reply(raw: bytes | str) -> str:
    """An SMTP server's reply text fit for logs: one line, addresses as `<address>`, long tokens as `…`,
    control characters dropped, at most 160 characters."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = _TOKEN.sub("…", _ADDRESS.sub("<address>", text))
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REPLY_CHARS else text[: _MAX_REPLY_CHARS - 1] + "…"


def os_reason(exc: OSError) -> str:
    """Why a connection failed, in the system's words (`errno 111 (Connection refused)`), never the address
    it was made to: asyncio puts the host and port into `strerror` ("Connect call failed ('10.0.0.1', 25)")."""
    if isinstance(exc, socket.gaierror):
        return f"gaierror {exc.errno} ({exc.strerror or 'name resolution failed'})"
    if exc.errno is None:
        return "no errno"
    return f"errno {exc.errno} ({os.strerror(exc.errno)})"


def _short(exc: BaseException) -> str:
    """A failure reason fit for logs: the exception type, the SMTP code with the server's reply (addresses
    and long tokens taken out), or the system's reason for a failed connection; never an address, a
    credential or message content."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = sorted({(code, server_reply(text)) for code, text in exc.recipients.values()})
        said = "; ".join(f"{code} {text}" for code, text in replies)
        return f"SMTPRecipientsRefused: {len(exc.recipients)} recipient(s) refused: {said}"[:_MAX_ERROR_CHARS]
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {server_reply(exc.smtp_error)}".rstrip()
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{type(exc).__name__}: {os_reason(exc)}"
    if isinstance(exc, OSError | TimeoutError):
        return type(exc).__name__
    return f"{type(exc).__name__}: {server_reply(str(exc))}"[:_MAX_ERROR_CHARS]


def http_reason(exc: BaseException) -> str:
    """Why an HTTP delivery failed, without the URL (incoming webhook URLs carry their token): the exception
    type and, for a connection that could not be made, the system's reason (`connection refused`)."""
    import aiohttp

    name = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"{name}: the server's certificate was not accepted"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{name}: {os_reason(exc.os_error)}"
    if isinstance(exc, TimeoutError):
        return f"{name}: no answer within the timeout"
    return name


class Channel(ABC):
    @abstractmethod
    async def deliver(self, message: Outgoing) -> None:
        """Deliver once; raise DeliveryError on any failure (the worker retries with the same key)."""


class SmtpChannel(Channel):
    def __init__(self, settings: SmtpSettings, *, username: str | None, password: str | None) -> None:
        self.settings = settings
        self.username = username
        self.password = password

    def build(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage(policy=_WIRE)
        email["From"] = self.settings.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id(message.idempotency_key)
        email["X-Leakline-Incident"] = message.incident_id
        email.set_content(message.body)
        # After set_content, which drops every Content-* header set before it.
        email["Content-Language"] = message.language
        return email

    def _send(self, message: Outgoing) -> None:
        cfg = self.settings
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds) as client:
                client.ehlo()
                if cfg.starttls:
                    context = ssl.create_default_context(cafile=cfg.ca_file)
                    client.starttls(context=context)
                    client.ehlo()
                if self.username is not None and self.password is not None:
                    client.login(self.username, self.password)
                client.send_message(self.build(message))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp {cfg.host}:{cfg.port}: {_short(exc)}") from None

    async def deliver(self, message: Outgoing) -> None:
        if not message.to:
            raise DeliveryError("smtp: the recipient has no e-mail address")
        await asyncio.to_thread(self._send, message)


class _HttpChannel(Channel):
    family = "http"

    def __init__(self, name: str, url: str, session: aiohttp.ClientSession) -> None:
        self.name = name
        self.url = url
        self.session = session

    @abstractmethod
    def payload(self, message: Outgoing) -> dict[str, Any]:
        """The JSON document this service expects."""

    def extra_headers(self, body: bytes) -> dict[str, str]:
        return {}

    async def deliver(self, message: Outgoing) -> None:
        import aiohttp

        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: message.idempotency_key}
        headers.update(self.extra_headers(body))
        try:
            async with self.session.post(self.url, data=body, headers=headers) as response:
                if response.status >= 300:
                    raise DeliveryError(f"{self.family}.{self.name}: HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The URL is a secret (incoming webhook URLs carry their token): name the channel only.
            raise DeliveryError(f"{self.family}.{self.name}: {http_reason(exc)}") from None


class WebhookChannel(_HttpChannel):
    family = "webhook"

    def __init__(self, name: str, url: str, session: aiohttp.ClientSession, *, secret: bytes | None) -> None:
        super().__init__(name, url, session)
        self.secret = secret

    def payload(self, message: Outgoing) -> dict[str, Any]:
        return {
            "id": message.communication_id,
            "incident": message.incident_id,
            "kind": message.kind,
            "language": message.language,
            "subject": message.subject,
            "body": message.body,
        }

    def extra_headers(self, body: bytes) -> dict[str, str]:
        if self.secret is None:
            return {}
        timestamp = str(int(time.time()))
        return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(self.secret, timestamp, body)}


class SlackChannel(_HttpChannel):
    family = "slack"

    def payload(self, message: Outgoing) -> dict[str, Any]:
        text = f"*{message.subject}*\n{message.body}\n_{message.incident_id} · {message.communication_id}_"
        return {"text": text}


class TeamsChannel(_HttpChannel):
    family = "teams"

    def payload(self, message: Outgoing) -> dict[str, Any]:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": message.subject, "wrap": True},
                {"type": "TextBlock", "text": message.body, "wrap": True},
                {
                    "type": "TextBlock",
                    "isSubtle": True,
                    "text": f"{message.incident_id} · {message.communication_id}",
                    "wrap": True,
                },
            ],
        }
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }


def _env(source: str, key: str, name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ChannelConfigError(f"{source}: {key}: environment variable {name} is not set")
    return value


def build_channels(settings: Settings, session: aiohttp.ClientSession) -> dict[str, Channel]:
    """Every configured channel by the name contacts use ("smtp", "slack.ops", ...)."""
    source = settings.source or "leakline.toml"
    cfg: ChannelsSettings = settings.channels
    channels: dict[str, Channel] = {}
    if cfg.smtp is not None:
        user = _env(source, "channels.smtp.username_env", cfg.smtp.username_env) if cfg.smtp.username_env else None
        password = _env(source, "channels.smtp.password_env", cfg.smtp.password_env) if cfg.smtp.password_env else None
        channels["smtp"] = SmtpChannel(cfg.smtp, username=user, password=password)
    for name, hook in cfg.slack.items():
        channels[f"slack.{name}"] = SlackChannel(
            name, _env(source, f"channels.slack.{name}.webhook_url_env", hook.webhook_url_env), session
        )
    for name, hook in cfg.teams.items():
        channels[f"teams.{name}"] = TeamsChannel(
            name, _env(source, f"channels.teams.{name}.webhook_url_env", hook.webhook_url_env), session
        )
    for name, signed in cfg.webhook.items():
        secret = (
            _env(source, f"channels.webhook.{name}.secret_env", signed.secret_env).encode()
            if signed.secret_env
            else None
        )
        channels[f"webhook.{name}"] = WebhookChannel(
            name,
            _env(source, f"channels.webhook.{name}.webhook_url_env", signed.webhook_url_env),
            session,
            secret=secret,
        )
    return channels
