"""What the gateway's evidence carries (issue 6, r8): the audit record counts the invisible characters
removed from an answer, and no signal carries a canary or a matched value in clear — neither the
gateway's own signal (built by `events.leak_signal`, posted by `signals_out`) nor the copy a receiver
stores (`incidents.ingest.redact_signal`)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from leakline.guard.events import Exchange, Hit, exchange_meta, leak_signal
from leakline.guard.signals_out import InProcessSignalSink
from leakline.guard.upstream import DEMO_CANARY, SCRIPTS, Script
from leakline.incidents.ingest import redact_signal
from leakline.incidents.runtime import store_for
from leakline.signals import Signal
from tests.guard import test_gateway_signals
from tests.guard.conftest import Env
from tests.guard.helpers import audit_records, meta_of
from tests.guard.test_gateway_http import chat
from tests.guard.test_gateway_signals import TOKEN, _Central

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"
EMAIL = "jane.doe@example.com"
central = test_gateway_signals.central
"""The central leakline on 127.0.0.1 (a fixture)."""


def _exchange(**changes: Any) -> Exchange:
    fields: dict[str, Any] = {
        "route": "/v1/chat/completions", "client": "storefront", "region": "eu", "country": "DE", "pop": "fra1",
        "model": "m", "status": 200, "stream": False, "prompt": None, "response_text": "", "upstream_text": "",
        "prompt_bytes": 10, "response_bytes": 20, "scanned_bytes": 20,
    }  # fmt: skip
    return Exchange(**{**fields, **changes})


# -- 1. invisible_removed in the audit record ----------------------------------------------------------


def test_the_exchange_record_counts_invisible_characters_next_to_the_scanned_bytes() -> None:
    meta = exchange_meta(_exchange(scanned_bytes=31, invisible_removed=3))
    keys = list(meta)
    assert keys[keys.index("scanned_bytes") + 1] == "invisible_removed"
    assert (meta["scanned_bytes"], meta["invisible_removed"]) == (31, 3)
    assert exchange_meta(_exchange())["invisible_removed"] == 0


ZW_SCRIPT = Script(("Your order\u200b ships to\u00ad", "morrow\u2066, thank\u200b you.\u2069"))
"""Four invisible characters the sanitizer removes (two ZWSP, a soft hyphen, a bidi isolate pair: five)."""


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_with_invisible_characters_is_audited_with_their_count(
    fresh_env: Env, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setitem(SCRIPTS, "zero width please", ZW_SCRIPT)
    chat(fresh_env, "zero width please", stream=stream)
    fresh_env.drain()
    records = audit_records(fresh_env.tmp / "audit-eu", fresh_env.tmp / "audit.key")
    (meta,) = [meta_of(r) for r in records if meta_of(r).get("kind") == "gateway.exchange"]
    assert meta["scanned_bytes"] == len(ZW_SCRIPT.text.encode())
    assert meta["invisible_removed"] == 5


# -- 2. canaries and matched values never in clear in a signal -----------------------------------------


def test_a_leak_signal_describes_canary_and_protected_hits_by_length_only() -> None:
    hits = (
        Hit("canary", "block", 10, 34, "Zq7…dM3c"),
        Hit("protected_text", "block", 40, 120, "The…ther"),
        Hit("email", "redact", 130, 150, "jan…e.com"),
    )
    signal = leak_signal(_exchange(hits=hits, blocked=True))
    assert signal is not None
    assert signal.details["previews"] == ("canary=(24 characters), email=jan…e.com, protected_text=(80 characters)")
    dumped = signal.model_dump_json()
    for fragment in ("Zq7", "dM3c", "The…"):
        assert fragment not in dumped


def _spellings() -> list[tuple[str, str]]:
    return [
        ("plain", CANARY),
        ("spaced", " ".join(CANARY)),
        ("base64", base64.b64encode(CANARY.encode()).decode()),
        ("hex", CANARY.encode().hex()),
    ]


@pytest.mark.parametrize(("name", "spelling"), _spellings(), ids=[n for n, _ in _spellings()])
def test_a_received_signal_loses_the_configured_canaries_in_every_spelling(name: str, spelling: str) -> None:
    raw = Signal(
        kind="manual", source="browser", severity="high", fingerprint=f"page-error:{spelling}",
        summary=f"the assistant wrote {spelling} to {EMAIL}", details={"answer": f"token: {spelling}."},
    )  # fmt: skip
    redacted = redact_signal(raw, canaries=(CANARY,))
    assert redacted.signal.summary == "the assistant wrote [REDACTED:CANARY] to [REDACTED:EMAIL]"
    assert redacted.signal.fingerprint == "page-error:[REDACTED:CANARY]"
    assert redacted.signal.details == {"answer": "token: [REDACTED:CANARY]."}
    assert redacted.hits == {"fingerprint": ["canary"], "summary": ["canary", "email"], "details.answer": ["canary"]}
    assert CANARY not in redacted.signal.model_dump_json()
    # Without the canaries the other values still go; nothing else changed.
    assert redact_signal(raw).signal.summary == f"the assistant wrote {spelling} to [REDACTED:EMAIL]"


def test_the_incident_engine_stores_a_signal_without_the_gateways_canary(fresh_env: Env) -> None:
    sink = InProcessSignalSink(fresh_env.settings)
    try:
        sink.emit(Signal(
            kind="manual", source="browser", severity="high", fingerprint="page-error",
            summary=f"answer quoted {DEMO_CANARY} and {EMAIL}", details={"line": f"{DEMO_CANARY[:18]} {DEMO_CANARY[18:]}"},
        ))  # fmt: skip
    finally:
        sink.close()
    with store_for(fresh_env.settings).transaction() as session:
        rows = list(session.execute(text("SELECT summary, data FROM signals")))
    assert [r[0] for r in rows] == ["answer quoted [REDACTED:CANARY] and [REDACTED:EMAIL]"]
    stored = rows[0][1] if isinstance(rows[0][1], str) else json.dumps(rows[0][1])
    assert '"line": "[REDACTED:CANARY]"' in stored
    assert DEMO_CANARY[:18] not in stored and DEMO_CANARY[18:] not in stored


def test_the_gateways_leak_signal_reaches_the_central_leakline_without_a_canary_fragment(
    make_env: Any,
    central: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CENTRAL_TOKEN", TOKEN)
    env = make_env(signals_url=f"{central}/api/v1/signals", signals_token_env="CENTRAL_TOKEN")
    chat(env, "canary", stream=True)
    env.drain()
    ((_, signal),) = _Central.received
    spelling = base64.b64encode(DEMO_CANARY.encode()).decode()  # how the script leaks it
    assert spelling in SCRIPTS["canary"].text
    assert signal["details"]["previews"] == f"canary=({len(spelling)} characters)"
    sent = json.dumps(signal)
    for fragment in (DEMO_CANARY[:3], DEMO_CANARY[-4:], spelling[:3], spelling[-4:]):
        assert fragment not in sent
    records = audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")
    audited = [meta_of(r) for r in records if meta_of(r).get("kind") == "gateway.signal"]
    assert audited and DEMO_CANARY[-4:] not in json.dumps(audited)


def test_the_http_sink_redacts_the_gateways_canaries_before_posting(
    make_env: Any,
    central: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leakline.guard.signals_out import sink_for

    monkeypatch.setenv("CENTRAL_TOKEN", TOKEN)
    env = make_env(signals_url=f"{central}/api/v1/signals", signals_token_env="CENTRAL_TOKEN")
    sink = sink_for(env.settings)
    sink.emit(Signal(kind="manual", source="gateway", severity="high", fingerprint="f",
                     summary=f"quoted {DEMO_CANARY}", at=datetime(2026, 11, 27, tzinfo=UTC)))  # fmt: skip
    ((_, signal),) = _Central.received
    assert signal["summary"] == "quoted [REDACTED:CANARY]"
