"""`leakline serve --workers 2`: `leakline_gateway_dropped_fields_total` is summed over the workers like the
other counters, whichever worker takes the scrape (a real process, real workers, a scripted upstream)."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import httpx
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from leakline.guard.auth import key_digest
from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
from tests.guard.helpers import start_serve

KEY = "sk-test-dropped-0123456789abcdef"


class PromptEcho(ScriptedUpstream):
    """vLLM asked for `prompt_logprobs`: every answer carries the prompt token by token at its top level."""

    async def chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        answer = {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "prompt_logprobs": [None, {"2675": {"logprob": -1.5, "rank": 1, "decoded_token": "You are"}}],
        }
        return web.json_response(answer)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _per_worker(folder: Path) -> list[float]:
    """The dropped-field count each worker wrote into its own file of the metrics directory."""
    from prometheus_client.mmap_dict import MmapedDict

    counts = []
    for path in sorted(folder.glob("counter_*.db")):
        values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        counts.append(
            sum(
                value
                for key, value, *_ in values
                if json.loads(key)[1] == "leakline_gateway_dropped_fields_total"
                and json.loads(key)[2] == {"field": "answer.prompt_logprobs"}
            )
        )
    return counts


def _dropped(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10, headers={"connection": "close"}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "leakline_gateway_dropped_fields_total"
        and sample.labels.get("field") == "answer.prompt_logprobs"
    )


def test_dropped_fields_are_summed_over_every_worker(tmp_path: Path) -> None:
    from leakline.audit.keys import generate_key_file

    upstream = UpstreamThread(PromptEcho()).start()
    generate_key_file(tmp_path / "audit.key")
    (tmp_path / "leakline.toml").write_text(
        f"""[gateway]
on_missing_country = "eu"

[gateway.anomalies]
state_path = "state.sqlite"

[regions.eu]
upstream = {json.dumps(upstream.upstream_url)}
countries = ["DE"]

[[clients]]
name = "storefront"
key_sha256 = "{key_digest(KEY)}"

[audit]
path = "audit"
key = "audit.key"

[audit.sinks.eu]
path = "audit-eu"

[database]
url = "sqlite:///leakline.db"
""",
        encoding="utf-8",
    )
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {"TMPDIR": str(tmpdir)}
    proc = start_serve(tmp_path, port, "--workers", "2", env=env, wait=90)
    try:
        [folder] = tmpdir.glob("leakline-metrics-*")
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        sent = 0
        # New connections until both workers have dropped the field (the kernel deals them out).
        while sent < 200 and (sent < 10 or len(counts := _per_worker(folder)) < 2 or min(counts) == 0):
            answer = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {KEY}", "connection": "close"},
                timeout=10,
            )
            assert answer.json()["choices"][0]["message"] == {"role": "assistant", "content": "ok"}
            assert "prompt_logprobs" not in answer.json()
            sent += 1
        counts = _per_worker(folder)
        assert len(counts) == 2 and min(counts) > 0 and sum(counts) == sent, counts
        assert [_dropped(port) for _ in range(6)] == [sent] * 6
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        upstream.stop()
    assert proc.returncode == 0, stderr
