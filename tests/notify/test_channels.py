"""Each channel against a real local receiver: signed webhook, Slack, Teams, SMTP with STARTTLS and AUTH."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import ssl
from pathlib import Path

import aiohttp
import pytest

from leakline.config import Settings
from leakline.errors import ConfigError
from leakline.notify.channels import Outgoing, build_channels
from leakline.notify.errors import ChannelConfigError, DeliveryError
from leakline.notify.settings import check_references
from tests.store.helpers import HookServer, SmtpServer, free_port

MESSAGE = Outgoing(
    communication_id="msg_abc",
    incident_id="INC-1",
    idempotency_key="msg_abc",
    kind="owner-team",
    to="web@acme.example",
    subject="Leak on /api/chat",
    body="Ein Test — with UTF-8.",
    language="de",
)


@pytest.fixture
def hook() -> HookServer:
    server = HookServer()
    server.start()
    yield server
    server.stop()


def _deliver(settings: Settings, name: str, message: Outgoing = MESSAGE) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            await build_channels(settings, session)[name].deliver(message)

    asyncio.run(go())


def test_webhook_is_signed_with_hmac_sha256_over_timestamp_and_body(
    hook: HookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", hook.url + "/siem")
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    settings = Settings.model_validate(
        {"channels": {"webhook": {"siem": {"webhook_url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}}}}
    )
    _deliver(settings, "webhook.siem")
    [(path, headers, body)] = hook.requests
    assert path == "/siem"
    assert json.loads(body) == {
        "id": "msg_abc",
        "incident": "INC-1",
        "kind": "owner-team",
        "language": "de",
        "subject": "Leak on /api/chat",
        "body": "Ein Test — with UTF-8.",
    }
    assert headers["idempotency-key"] == "msg_abc"
    expected = hmac.new(b"s3cret", headers["x-leakline-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["x-leakline-signature"] == "sha256=" + expected.hexdigest()


def test_slack_and_teams_payloads(hook: HookServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_OPS", hook.url + "/slack")
    monkeypatch.setenv("TEAMS_SEC", hook.url + "/teams")
    settings = Settings.model_validate(
        {
            "channels": {
                "slack": {"ops": {"webhook_url_env": "SLACK_OPS"}},
                "teams": {"sec": {"webhook_url_env": "TEAMS_SEC"}},
            }
        }
    )
    _deliver(settings, "slack.ops")
    _deliver(settings, "teams.sec")
    slack, teams = (json.loads(body) for _, _, body in hook.requests)
    assert slack == {"text": "*Leak on /api/chat*\nEin Test — with UTF-8.\n_INC-1 · msg_abc_"}
    [attachment] = teams["attachments"]
    assert teams["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert [block["text"] for block in attachment["content"]["body"]] == [
        "Leak on /api/chat",
        "Ein Test — with UTF-8.",
        "INC-1 · msg_abc",
    ]


def test_http_error_is_a_delivery_error_naming_the_channel_not_the_url(
    hook: HookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook.status = 503
    monkeypatch.setenv("SLACK_OPS", hook.url + "/T000/B000/XXXXSECRET")
    settings = Settings.model_validate({"channels": {"slack": {"ops": {"webhook_url_env": "SLACK_OPS"}}}})
    with pytest.raises(DeliveryError) as caught:
        _deliver(settings, "slack.ops")
    assert str(caught.value) == "slack.ops: HTTP 503"


def test_unset_variable_is_a_config_error_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_URL", raising=False)
    settings = Settings.model_validate({"channels": {"teams": {"sec": {"webhook_url_env": "NOPE_URL"}}}})
    with pytest.raises(ChannelConfigError) as caught:
        _deliver(settings, "teams.sec")
    assert (
        caught.value.message
        == "leakline.toml: channels.teams.sec.webhook_url_env: environment variable NOPE_URL is not set"
    )


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_smtp_starttls_and_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(free_port())
    server.start(tls_context=context, auth=("mailer", "pw-123"))
    monkeypatch.setenv("SMTP_USER", "mailer")
    monkeypatch.setenv("SMTP_PASS", "pw-123")
    smtp = {
        "host": "127.0.0.1",
        "port": server.port,
        "starttls": True,
        "sender": "incidents@acme.example",
        "username_env": "SMTP_USER",
        "password_env": "SMTP_PASS",
        "ca_file": str(cert),
        "timeout_seconds": 5.0,
    }
    try:
        _deliver(Settings.model_validate({"channels": {"smtp": smtp}}), "smtp")
        [received] = server.received
        assert received.mail_from == "incidents@acme.example"
        assert received.rcpt_tos == ["web@acme.example"]
        assert received.message["Message-ID"] == "<msg_abc@leakline>"
        monkeypatch.setenv("SMTP_PASS", "wrong")
        # aiosmtpd answers a bad password with 535 and then stalls the connection; either way it fails.
        with pytest.raises(DeliveryError, match=r"^smtp 127\.0\.0\.1:\d+: SMTP"):
            _deliver(Settings.model_validate({"channels": {"smtp": {**smtp, "timeout_seconds": 2.0}}}), "smtp")
        # Without the CA the server's certificate is not trusted: no plaintext fallback.
        with pytest.raises(DeliveryError, match="SSLCertVerificationError"):
            _deliver(Settings.model_validate({"channels": {"smtp": {**smtp, "ca_file": None}}}), "smtp")
        assert len(server.received) == 1
    finally:
        server.stop()


def test_references_between_sections_are_checked() -> None:
    settings = Settings.model_validate(
        {
            "contacts": [{"name": "Ops", "role": "infrastructure", "channels": ["smtp", "slack.ops"]}],
            "escalation": {"chain": ["Ops", "Nobody"]},
            "owners": {"backend": ["Ghost"]},
            "authorities": {"DE": {"supervisory-authority": "fax:123"}, "Germany": {}},
        }
    )
    with pytest.raises(ConfigError) as caught:
        check_references(
            source="leakline.toml",
            channels=settings.channels,
            contacts=settings.contacts,
            authorities=settings.authorities,
            escalation=settings.escalation,
            owners=settings.owners,
        )
    assert caught.value.message.splitlines() == [
        "leakline.toml: contacts[0].channels[0]: no channel 'smtp' is configured (configured: none)",
        "leakline.toml: contacts[0].channels[1]: no channel 'slack.ops' is configured (configured: none)",
        "leakline.toml: contacts[0].email: required when the contact uses smtp",
        "leakline.toml: escalation.chain[1]: no contact named 'Nobody' in [[contacts]]",
        "leakline.toml: owners.backend[0]: no contact named 'Ghost' in [[contacts]]",
        "leakline.toml: authorities.DE.supervisory-authority: expected mailto:ADDRESS, webhook:NAME, slack:NAME or "
        "teams:NAME, got 'fax:123'",
        "leakline.toml: authorities.Germany: expected an ISO 3166 code such as 'DE' or 'US-CA'",
    ]


def test_sector_and_size_copies_match_the_facts_model() -> None:
    import typing

    from leakline.notify import settings as notify_settings
    from leakline.obligations import facts

    assert typing.get_args(notify_settings.Sector) == typing.get_args(facts.Sector)
    assert typing.get_args(notify_settings.Size) == typing.get_args(facts.Size)


def test_smtp_failure_reasons_do_not_quote_addresses() -> None:
    from aiosmtpd.controller import Controller

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
            return f"550 5.1.1 <{address}>: no such user"

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = Settings.model_validate(
            {"channels": {"smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "timeout_seconds": 5.0}}}
        )
        with pytest.raises(DeliveryError) as caught:
            _deliver(settings, "smtp")
    finally:
        controller.stop()
    # The server's words say why (R3 item 11), the address it quoted is taken out.
    assert str(caught.value) == (
        f"smtp 127.0.0.1:{port}: SMTPRecipientsRefused: 1 recipient(s) refused: 550 5.1.1 <address>: no such user"
    )
