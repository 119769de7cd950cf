"""Review R3 item 11: a dead-lettered notice's duty is `failed`, and delivery errors say why."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest

from leakline.config import Settings
from leakline.errors import LeaklineError
from leakline.incidents import service
from leakline.notify import service as notify_service
from leakline.notify.channels import Outgoing, build_channels
from leakline.notify.errors import DeliveryError
from tests.notify.helpers import T0, comms, open_incident, outbox_rows, runtime, worker_pass
from tests.store.helpers import Env, free_port

MESSAGE = Outgoing(
    communication_id="msg_abc",
    incident_id="INC-1",
    idempotency_key="msg_abc",
    kind="supervisory-authority",
    to="jane.doe@example.com",
    subject="Meldung",
    body="Text",
    language="de",
)


def _deliver(settings: Settings, name: str) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            await build_channels(settings, session)[name].deliver(MESSAGE)

    asyncio.run(go())


def test_a_refused_webhook_connection_says_connection_refused_and_never_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("SIEM_URL", f"http://127.0.0.1:{port}/hooks/SECRET-TOKEN")
    settings = Settings.model_validate({"channels": {"webhook": {"siem": {"webhook_url_env": "SIEM_URL"}}}})
    with pytest.raises(DeliveryError) as caught:
        _deliver(settings, "webhook.siem")
    # Was: "webhook.siem: ClientConnectorError".
    assert str(caught.value) == "webhook.siem: ClientConnectorError: errno 111 (Connection refused)"


def test_an_smtp_refusal_gives_the_servers_reply_without_addresses_or_tokens() -> None:
    from aiosmtpd.controller import Controller

    class Refusing:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            return "554 5.7.1 rejected for <jane.doe@example.com> by policy; session QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"

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
    # Was: "SMTPDataError: 554", without the reason.
    assert str(caught.value) == (
        f"smtp 127.0.0.1:{port}: SMTPDataError: 554 5.7.1 rejected for <address> by policy; session …"
    )


def test_an_smtp_server_that_refuses_the_connection_is_named_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    settings = Settings.model_validate(
        {"channels": {"smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "timeout_seconds": 5.0}}}
    )
    with pytest.raises(DeliveryError) as caught:
        _deliver(settings, "smtp")
    assert str(caught.value) == f"smtp 127.0.0.1:{port}: ConnectionRefusedError: errno 111 (Connection refused)"


def test_a_dead_lettered_notice_shows_its_duty_failed_and_close_says_delivery_failed(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        notice = next(c for c in comms(rt, incident) if c.kind == "supervisory-authority")
        with rt.store.transaction() as session:
            notify_service.approve(
                session, recorder=rt.recorder, incident_id=incident, communication_id=notice.id, by="Dana", now=T0,
                settings=rt.settings,
            )  # fmt: skip
            notify_service.send(
                session, recorder=rt.recorder, incident_id=incident, communication_id=notice.id, by="Dana", now=T0
            )
        env.smtp.stop()
        for seconds in (0, 10, 30):
            worker_pass(rt, T0 + timedelta(seconds=seconds))
        assert {c.id: c.state for c in comms(rt, incident)}[notice.id] == "failed"
        dead = next(row for row in outbox_rows(rt) if row.communication_id == notice.id)
        assert dead.last_error == (
            f"smtp 127.0.0.1:{env.smtp.port}: ConnectionRefusedError: errno 111 (Connection refused)"
        )
        with rt.store.transaction() as session:
            doc = service.incident_document(session, incident_id=incident)
            duty = next(o for o in doc["obligations"] if o["regime"] == "gdpr-33")
            # Was: "open", like a draft nobody approved.
            assert (duty["status"], duty["outstanding"]) == ("failed", [notice.id])
            with pytest.raises(LeaklineError) as refused:
                service.close_incident(session, recorder=rt.recorder, incident_id=incident, actor="Dana", now=T0)
        assert refused.value.message == (
            f"incident {incident} has 1 required notification not delivered:\n"
            f"  gdpr-33 DE supervisory-authority due {duty['due_at']} (delivery failed)"
        )
