"""Residency: the country → region → model matrix (pure), and refusals over HTTP (451, signal, audit)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leakline.config import parse_settings
from leakline.guard.auth import Client
from leakline.guard.errors import ModelNotFound, ResidencyDenied
from leakline.guard.residency import decide, normalise_country, parse_networks, peer_is_trusted, visitor_country
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of

SETTINGS = parse_settings(
    {
        "regions": {
            "eu": {"upstream": "http://127.0.0.1:1/v1", "countries": ["DE", "FR"], "models": ["llama"]},
            "eu2": {"upstream": "http://127.0.0.1:2/v1", "countries": ["DE"], "models": ["mistral"]},
            "us": {"upstream": "http://127.0.0.1:3/v1", "countries": ["US"], "models": []},
        }
    },
    source="t.toml",
)
ANY = Client("any", (), (), None)
ONLY_US = Client("only-us", (), ("us",), None)


@pytest.mark.parametrize(
    ("client", "country", "model", "expected"),
    [
        (ANY, "DE", "llama", "eu"),
        (ANY, "DE", "mistral", "eu2"),  # the model decides between two regions serving DE
        (ANY, "FR", "llama", "eu"),
        (ANY, "FR", "mistral", "policy:regions.models"),  # mistral only runs in eu2, which does not serve FR
        (ANY, "US", "mistral", "us"),  # an empty model list serves any known model
        (ANY, "BR", "llama", "policy:regions.countries"),
        (ANY, None, "llama", "policy:gateway.on_missing_country"),
        (ONLY_US, "DE", "llama", "policy:clients.regions"),
        (ONLY_US, "US", "llama", "us"),
        (ANY, "DE", None, "eu"),  # /v1/models: no model yet
    ],
)
def test_region_matrix(client: Client, country: str | None, model: str | None, expected: str) -> None:
    def run() -> str:
        return decide(
            gateway=SETTINGS.gateway,
            regions=SETTINGS.regions,
            client=client,
            country=country,
            country_source="header",
            model=model,
        ).region

    if expected.startswith("policy:"):
        with pytest.raises(ResidencyDenied) as caught:
            run()
        assert caught.value.policy == expected[7:]
        assert caught.value.status == 451
        assert caught.value.country == country
    else:
        assert run() == expected


def test_unknown_model_is_not_found_before_residency() -> None:
    with pytest.raises(ModelNotFound):
        decide(
            gateway=SETTINGS.gateway,
            regions={k: v for k, v in SETTINGS.regions.items() if k != "us"},
            client=ANY,
            country="BR",
            country_source="header",
            model="gpt-9",
        )


def test_on_missing_country_may_name_a_region() -> None:
    settings = parse_settings(
        {"gateway": {"on_missing_country": "eu"}, "regions": {"eu": {"upstream": "http://x/v1", "countries": ["DE"]}}},
        source="t.toml",
    )
    decision = decide(
        gateway=settings.gateway, regions=settings.regions, client=ANY, country=None, country_source="none", model="m"
    )
    assert (decision.region, decision.country_source) == ("eu", "default")


def test_country_header_is_only_trusted_from_trusted_proxies() -> None:
    nets = parse_networks(["127.0.0.1/32", "::1/128", "10.0.0.0/8"])
    assert peer_is_trusted("127.0.0.1", nets)
    assert peer_is_trusted("10.2.3.4", nets)
    assert peer_is_trusted("::1", nets)
    assert not peer_is_trusted("192.168.1.1", nets)
    assert not peer_is_trusted("testclient", nets)
    assert not peer_is_trusted(None, nets)
    assert visitor_country(ANY, "de", trusted=False) == (None, "none")
    assert visitor_country(ANY, "de", trusted=True) == ("DE", "header")
    bound = Client("bo", (), (), "NL")
    assert visitor_country(bound, "US", trusted=True) == ("NL", "key")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("de", "DE"), (" FR ", "FR"), ("XX", None), ("", None), ("DEU", None), ("T1", None), ("1A", None)],
)
def test_normalise_country(raw: str, expected: str | None) -> None:
    assert normalise_country(raw) == expected


def _chat(env: Env, key: str, headers: dict[str, str], model: str = "llama3.1:8b") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    return httpx.post(
        f"{env.url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {KEYS[key]}", **headers},
        timeout=20,
    )


HTTP_MATRIX: list[tuple[str, dict[str, str], str, int, str | None]] = [
    ("storefront", {"x-vercel-ip-country": "DE"}, "llama3.1:8b", 200, "eu"),
    ("storefront", {"x-vercel-ip-country": "US"}, "llama3.1:8b", 200, "us"),
    ("storefront", {"x-vercel-ip-country": "US"}, "mistral:7b", 200, "us"),
    ("storefront", {"x-vercel-ip-country": "DE"}, "mistral:7b", 451, None),
    ("storefront", {"x-vercel-ip-country": "JP"}, "llama3.1:8b", 451, None),
    ("storefront", {}, "llama3.1:8b", 451, None),
    ("backoffice", {}, "llama3.1:8b", 200, "eu"),  # bound to NL
    ("backoffice", {"x-vercel-ip-country": "US"}, "llama3.1:8b", 200, "eu"),  # the binding wins
    ("eu-only", {"x-vercel-ip-country": "US"}, "llama3.1:8b", 451, None),
    ("eu-only", {"x-vercel-ip-country": "DE"}, "mistral:7b", 403, None),
]


@pytest.mark.parametrize(("key", "headers", "model", "status", "upstream"), HTTP_MATRIX)
def test_http_residency_matrix(
    env: Env, key: str, headers: dict[str, str], model: str, status: int, upstream: str | None
) -> None:
    response = _chat(env, key, headers, model)
    assert response.status_code == status, response.text
    assert len(env.eu.upstream.requests) == (1 if upstream == "eu" else 0)
    assert len(env.us.upstream.requests) == (1 if upstream == "us" else 0)
    if status == 451:
        error = response.json()["error"]
        assert error["type"] == "residency_error"
        assert error["code"] == "residency_refused"
        assert error["param"] in {
            "regions.countries",
            "regions.models",
            "clients.regions",
            "gateway.on_missing_country",
        }


def test_decisions_stay_right_when_the_same_requests_come_again_in_any_order(env: Env) -> None:
    # The gateway keeps each (key's regions, country, source, model) decision: one gateway answering the
    # whole matrix three times, interleaved differently each time, must route every request as the first time.
    rows = HTTP_MATRIX + HTTP_MATRIX[::-1] + HTTP_MATRIX[1::2] + HTTP_MATRIX[::2]
    for key, headers, model, status, upstream in rows:
        env.eu.upstream.requests.clear()
        env.us.upstream.requests.clear()
        response = _chat(env, key, headers, model)
        assert response.status_code == status, (key, headers, model, response.text)
        assert len(env.eu.upstream.requests) == (1 if upstream == "eu" else 0), (key, headers, model)
        assert len(env.us.upstream.requests) == (1 if upstream == "us" else 0), (key, headers, model)


def test_untrusted_peer_country_header_is_ignored(make_env: Any) -> None:
    env = make_env(trusted_proxies=["10.0.0.0/8"])
    response = _chat(env, "storefront", {"x-vercel-ip-country": "DE"})
    assert response.status_code == 451
    assert response.json()["error"]["param"] == "gateway.on_missing_country"
    assert env.eu.upstream.requests == []


def test_refusal_writes_a_signal_and_an_audit_record(fresh_env: Env) -> None:
    response = _chat(fresh_env, "storefront", {"x-vercel-ip-country": "JP", "x-vercel-id": "hnd1::abc"})
    assert response.status_code == 451
    fresh_env.drain()
    records = audit_records(fresh_env.tmp / "audit", fresh_env.tmp / "audit.key")
    exchanges = [r for r in records if r.meta.get("kind") == "gateway.exchange"]
    assert len(exchanges) == 1
    meta = meta_of(exchanges[0])
    assert meta["status"] == 451
    assert meta["error"] == "residency_refused"
    assert meta["country"] == "JP"
    assert meta["pop"] == "hnd1"
    assert exchanges[0].payload["prompt"]["messages"][0]["content"] == "hello"
    signals = [r for r in records if r.meta.get("kind") == "gateway.signal"]
    signal_meta = meta_of(signals[0])
    assert signal_meta["signal"]["kind"] == "residency-violation"
    assert signal_meta["signal"]["details"]["policy"] == "regions.countries"
    from sqlalchemy import text

    from leakline.incidents.runtime import store_for

    store = store_for(fresh_env.settings)
    with store.transaction() as session:
        kinds = [row[0] for row in session.execute(text("SELECT kind FROM signals"))]
    assert kinds == ["residency-violation"]
