"""A scripted OpenAI-compatible upstream on loopback, for `leakline serve --demo`, tests and benchmarks.

It speaks the real wire protocol (chat completions streamed and not, completions, embeddings,
models) with canned answers chosen by a keyword in the last user message. Several answers leak on
purpose, split the way real token streams split them: an email across three chunks, a card number
with spaces cut mid-group, a canary in base64, a paragraph of the protected corpus, a PEM private key.
It also sends headers that leak internals (`server`, `x-ollama-model`, `x-prompt-tokens`), so that
header hygiene has something to strip. Every value in it is fake.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

DEMO_CANARY = "lkc-7f3a9c1e5b2d48e6a0c4f8b1d3e5a7c9"
"""The demo's canary (128 bits of hex after the prefix); fixed so the demo answers can carry it."""

PROTECTED_PARAGRAPH = (
    "You are the shopping assistant of Example Shop. Never reveal discount codes to customers. "
    "Internal escalation goes to the duty manager, and refunds above two hundred euros need approval "
    "from the finance team before they are promised to anyone."
)

FAKE_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----"
)


@dataclass(frozen=True)
class Script:
    """One canned answer: the chunks a stream sends (the whole answer is their concatenation)."""

    chunks: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.chunks)


SCRIPTS: dict[str, Script] = {
    "email": Script(("Sure, write to jane.", "doe@exam", "ple.com and she will answer today.")),
    "card": Script(
        (
            "The card on file is 4111 11",
            "11 1111 1111, expiring 12/29.",
        )
    ),
    "canary": Script(
        (
            "Reference: ",
            base64.b64encode(DEMO_CANARY.encode()).decode()[:20],
            base64.b64encode(DEMO_CANARY.encode()).decode()[20:],
            " (internal)",
        )
    ),
    "corpus": Script(tuple(PROTECTED_PARAGRAPH[i : i + 37] for i in range(0, len(PROTECTED_PARAGRAPH), 37))),
    "pem": Script(("Here is the key:\n", FAKE_PEM[:70], FAKE_PEM[70:], "\nKeep it safe.")),
    # Larger than one socket read: a whole answer arrives in several pieces.
    "catalogue": Script(("Our oak tables ship flat-packed, with every tool included. ",) * 4000),
    "benign": Script(
        ("Your order A-10023 (SKU 4006381333931) ", "ships on 2026-12-01 for €49.99; ", "tracking 1Z999AA10123456784.")
    ),
}

LEAKY_HEADERS = {"x-ollama-model": "llama3.1:8b-instruct-q4", "x-prompt-tokens": "42", "x-powered-by": "demo"}
MODELS = ("llama3.1:8b", "mistral:7b")


def pick(prompt: str) -> tuple[str, Script]:
    lowered = prompt.lower()
    for name, script in SCRIPTS.items():
        if name in lowered:
            return name, script
    return "benign", SCRIPTS["benign"]


def _last_user_text(body: dict[str, Any]) -> str:
    if isinstance(body.get("prompt"), str):
        return str(body["prompt"])
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _chunk(kind: str, cid: str, model: str, text: str | None, finish: str | None, role: bool = False) -> bytes:
    if kind == "chat":
        delta: dict[str, Any] = {}
        if role:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish}
        obj = "text_completion"
    data = {"id": cid, "object": obj, "created": int(time.time()), "model": model, "choices": [choice]}
    return f"data: {json.dumps(data)}\n\n".encode()


class ScriptedUpstream:
    """`aiohttp.web` app; `mode` changes its behaviour for failure tests ("ok", "malformed", "slow", "down")."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.mode = "ok"
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self.chat)
        self.app.router.add_post("/v1/completions", self.completions)
        self.app.router.add_post("/v1/embeddings", self.embeddings)
        self.app.router.add_get("/v1/models", self.models)

    async def models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "demo"} for m in MODELS]
        return web.json_response({"object": "list", "data": data}, headers=LEAKY_HEADERS)

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1, -0.2, 0.3]} for i in range(len(inputs))]
        usage = {"prompt_tokens": 3, "total_tokens": 3}
        return web.json_response({"object": "list", "data": data, "model": body["model"], "usage": usage})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "chat")

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "completions")

    async def _answer(self, request: web.Request, kind: str) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "slow":
            await asyncio.sleep(5)
        name, script = pick(_last_user_text(body))
        model = str(body.get("model", "demo"))
        cid = f"chatcmpl-demo-{name}"
        if not body.get("stream"):
            if kind == "chat":
                message = {"role": "assistant", "content": script.text}
                choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "stop"}
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": script.text, "finish_reason": "stop"}
                obj = "text_completion"
            usage = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
            data = {
                "id": cid,
                "object": obj,
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
            return web.json_response(data, headers={**LEAKY_HEADERS, "server": "ollama-demo"})
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", "server": "ollama-demo", **LEAKY_HEADERS}
        )
        await response.prepare(request)
        if self.mode == "malformed":
            await response.write(b'data: {"choices": [{"index": 0, "delta": {"content": "jane.do')
            await response.write(b"\n\ndata: not json\n\n")
            await response.write_eof()
            return response
        await response.write(_chunk(kind, cid, model, "", None, role=True))
        for piece in script.chunks:
            if self.delay:
                await asyncio.sleep(self.delay)
            await response.write(_chunk(kind, cid, model, piece, None))
        await response.write(_chunk(kind, cid, model, None, "stop"))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


class UpstreamThread:
    """Runs a `ScriptedUpstream` on 127.0.0.1 in a background thread with its own event loop."""

    def __init__(self, upstream: ScriptedUpstream | None = None, port: int = 0) -> None:
        self.upstream = upstream or ScriptedUpstream()
        self._port = port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="leakline-demo-upstream", daemon=True)

    @property
    def upstream_url(self) -> str:
        """The base URL to put in `[regions.*] upstream` (with `/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> UpstreamThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the scripted upstream did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(
            self.upstream.app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            runner, self._runner = self._runner, None
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
