"""`leakline serve --host ::` sees IPv4 peers as IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`): a trusted proxy
given as `127.0.0.1/32` must still be trusted, or every IPv4 edge's country header is ignored (the ops review saw a
German visitor answered by the US region, and with `on_missing_country = "reject"` every IPv4 request refused)."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import httpx

from leakline.guard.residency import parse_networks, peer_is_trusted
from tests.guard.helpers import start_serve
from tests.guard.test_gateway_r6_hygiene import _free_port
from tests.guard.test_serve_cli import _gateway_toml

KEY = "sk-dual-stack-0123456789abcdef"


def test_ipv4_mapped_peers_are_judged_as_their_ipv4_address() -> None:
    nets = parse_networks(["127.0.0.1/32", "::1/128", "10.0.0.0/8"])
    assert peer_is_trusted("::ffff:127.0.0.1", nets)
    assert peer_is_trusted("::ffff:10.9.8.7", nets)
    assert not peer_is_trusted("::ffff:192.168.1.1", nets)
    # An IPv6 network still matches IPv6 peers only as written; a mapped network written as such still matches.
    assert not peer_is_trusted("::2", nets)
    assert peer_is_trusted("::ffff:192.168.1.1", parse_networks(["::ffff:192.168.0.0/112"]))


def test_serve_on_the_ipv6_wildcard_trusts_the_country_header_of_an_ipv4_proxy(tmp_path: Path) -> None:
    _gateway_toml(tmp_path)
    config = tmp_path / "leakline.toml"
    text = config.read_text(encoding="utf-8").replace('on_missing_country = "eu"', 'on_missing_country = "reject"')
    config.write_text(text.replace("0" * 64, hashlib.sha256(KEY.encode()).hexdigest()), encoding="utf-8")
    port = _free_port()
    proc = start_serve(tmp_path, port, "--host", "::")
    try:
        body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hi"}]}
        answers = {}
        for host in ("127.0.0.1", "[::1]"):
            answers[host] = httpx.post(
                f"http://{host}:{port}/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {KEY}", "x-vercel-ip-country": "DE"},
                timeout=30,
            )
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=30)
    # Trusted from both: the country (DE) picks region eu, whose upstream (port 9) is down: 502, not a 451 refusal.
    for host, answer in answers.items():
        assert (answer.status_code, answer.json()["error"]["code"]) == (502, "upstream_unavailable"), (host, answer.text)
