"""LLM endpoint helpers: URL parsing, loopback, LLM shape, internal vs public, plaintext to a remote host."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.detectors.endpoints import (
    Url,
    is_internal_llm_endpoint,
    is_llm_name,
    is_loopback_host,
    looks_like_llm_url,
    parse_url,
    plaintext_remote,
)


def test_parse_url_keeps_scheme_host_port_path() -> None:
    assert parse_url(' "HTTP://Ollama.Internal:11434/api/chat?x=1" ') == Url("http", "ollama.internal", 11434, "/api/chat")
    assert parse_url("https://[fd00::5]:8443") == Url("https", "fd00::5", 8443, "/")


@pytest.mark.parametrize("value", ["", "ollama:11434", "ftp://x/y", "http://", "http://[::1", "http://host:99999/"])
def test_parse_url_rejects_what_is_not_an_http_url(value: str) -> None:
    assert parse_url(value) is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("10.0.0.5", False),
        ("192.168.1.2", False),
        ("172.16.0.1", False),
        ("fd00::5", False),
        ("ollama", False),
        ("localhost.evil.com", False),
        ("128.0.0.1", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("name", "llm"),
    [
        ("OLLAMA_HOST", True),
        ("llmBaseUrl", True),
        ("NEXT_PUBLIC_VLLM_URL", True),
        ("MODEL_URL", True),
        ("OPENAI_BASE_URL", True),
        ("SMALL_MODEL_NAME", False),
        ("SHOP_API", False),
        ("ALLMARKETS_URL", False),
    ],
)
def test_is_llm_name(name: str, llm: bool) -> None:
    assert is_llm_name(name) is llm


@pytest.mark.parametrize(
    ("value", "name", "llm"),
    [
        ("http://10.0.0.5:11434", None, True),  # Ollama's port
        ("http://gpu-box:8000/v1/chat/completions", None, True),
        ("http://vllm.svc:8000/", None, True),  # host word
        ("http://10.0.0.3/api/products", None, False),
        ("https://shop.example/api/chat", None, False),  # a Next route of the same name
        ("http://10.0.0.3:7860/api/chat", None, True),  # ... but on a model server's port
        ("http://10.0.0.3:8080/", "INFERENCE_URL", True),
        ("https://api.openai.com/v1", None, True),
    ],
)
def test_looks_like_llm_url(value: str, name: str | None, llm: bool) -> None:
    url = parse_url(value)
    assert url is not None
    assert looks_like_llm_url(url, name) is llm


def test_public_provider_apis_are_not_internal_endpoints() -> None:
    assert not is_internal_llm_endpoint("https://api.openai.com/v1", "OPENAI_BASE_URL")
    assert is_internal_llm_endpoint("https://llm.shop.internal/v1", "LLM_URL")
    assert is_internal_llm_endpoint("http://127.0.0.1:11434")  # loopback is still internal infrastructure
    assert not is_internal_llm_endpoint("llama3.1:8b", "LLM_MODEL")


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("http://10.0.0.5:11434/api/generate", "http://10.0.0.5:11434"),
        ("http://ollama:11434", "http://ollama:11434"),
        ("http://[fd00::5]:8000/v1", "http://[fd00::5]:8000"),
        ("http://user:pw@gpu.lan/v1", "http://gpu.lan"),
        ("http://127.0.0.1:11434", None),
        ("http://localhost:8000/v1", None),
        ("https://10.0.0.5/v1", None),
    ],
)
def test_plaintext_remote(value: str, origin: str | None) -> None:
    url = plaintext_remote(value)
    assert (url.origin if url is not None else None) == origin


@settings(max_examples=100, deadline=None)
@given(st.ip_addresses(v=4))
def test_plaintext_remote_agrees_with_the_loopback_range_for_every_ipv4(address: object) -> None:
    text = str(address)
    expected_local = text.startswith("127.") or text == "0.0.0.0"
    assert (plaintext_remote(f"http://{text}:11434/api/chat") is None) is expected_local
