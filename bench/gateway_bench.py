"""Gateway benchmark: the same wrk load against (a) the scripted upstream directly, (b) a bare
FastAPI + aiohttp pass-through proxy on the same stack, (c) leakline's gateway with every detector on,
(d) LiteLLM's proxy with its content-filter guardrail (when installed in a venv, see --litellm),
non-stream and stream, at 1 and 50 connections, in one run. (c') is the gateway's routes mounted in a
bare FastAPI app, so that requests go through FastAPI's middleware and routing, which `leakline serve`
skips for `/v1` (see `leakline.web.app.LeaklineApp`). Reports req/s, p50/p99 and ratios: (c)/(b)
throughput, (c)/(d) throughput, and the p50 that (c) adds over (a) at one connection. It also reports the
CPU time each server's processes spent per request (user + system from /proc, the server's whole process
group, over the measured run): on a shared machine, throughput swings with the neighbours' load, while
CPU per request shows what the server itself costs; (b)/(c) of it is the throughput ratio that (c) would
reach if it were CPU-bound.

    python3 bench/gateway_bench.py [--seconds 5] [--rounds 1] [--litellm /tmp/litellm-venv/bin/litellm]

Every server is its own process on 127.0.0.1; wrk (Debian package `wrk`) is the load generator. While a
target is measured, only it and the upstream run: the other proxies' process groups are stopped (SIGSTOP)
and resumed for their own turn, since LiteLLM working off its backlog took CPU from whichever target ran
next (on 2 vCPUs that moved leakline's whole c=50 ratio from ~0.68 to ~0.56). The requests are benign (no leak), so (c) pays for scanning every byte and releasing it, not for redaction.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from fastapi import Request  # module level: FastAPI resolves the handler's annotation here

HERE = Path(__file__).resolve()
KEY = "sk-bench-0123456789abcdef0123456789"
BODY = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "where is my order?"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# --- the servers (each runs in its own process: `python3 gateway_bench.py --serve KIND PORT ...`) ---------


def serve_upstream(port: int) -> None:
    import asyncio

    from aiohttp import web

    from leakline.guard.upstream import ScriptedUpstream

    async def main() -> None:
        runner = web.AppRunner(ScriptedUpstream().app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        await asyncio.Event().wait()

    import uvloop

    uvloop.run(main())


def passthrough_app(upstream: str):  # type: ignore[no-untyped-def]
    """The bare pass-through: FastAPI + a pooled aiohttp session, bytes relayed unchanged."""
    import aiohttp
    from fastapi import FastAPI
    from fastapi.responses import Response, StreamingResponse

    app = FastAPI()
    state: dict[str, aiohttp.ClientSession] = {}

    def session() -> aiohttp.ClientSession:
        if "s" not in state:
            state["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        return state["s"]

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.body()
        answer = await session().post(
            f"{upstream}/chat/completions", data=body, headers={"content-type": "application/json"}
        )
        if answer.headers.get("content-type", "").startswith("text/event-stream"):

            async def relay():  # type: ignore[no-untyped-def]
                async for chunk in answer.content.iter_any():
                    yield chunk
                answer.release()

            return StreamingResponse(relay(), media_type="text/event-stream")
        data = await answer.read()
        answer.release()
        return Response(data, media_type="application/json")

    return app


def serve_passthrough(port: int, upstream: str) -> None:
    import uvicorn

    uvicorn.run(passthrough_app(upstream), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False)


def serve_gateway_only(port: int, config: str) -> None:
    """leakline's /v1 routes in a bare FastAPI app: every request goes through FastAPI's middleware and
    routing, which `leakline serve` skips for them (shows what that shortcut is worth)."""
    import uvicorn
    from fastapi import FastAPI

    from leakline.config import load_settings
    from leakline.guard.build import router

    app = FastAPI()
    app.include_router(router(load_settings(Path(config), required=True)))
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
                access_log=False, server_header=False)


def write_leakline_config(directory: Path, upstream: str) -> Path:
    from leakline.audit.keys import generate_key_file
    from leakline.guard.auth import key_digest
    from leakline.guard.upstream import DEMO_CANARY, PROTECTED_PARAGRAPH

    generate_key_file(directory / "audit.key")
    (directory / "corpus.txt").write_text(PROTECTED_PARAGRAPH, encoding="utf-8")
    config = directory / "leakline.toml"
    config.write_text(f"""
[gateway]
on_missing_country = "reject"
[regions.eu]
upstream = "{upstream}"
countries = ["DE"]
[[clients]]
name = "bench"
key_sha256 = "{key_digest(KEY)}"
[sanitize]
canaries = ["{DEMO_CANARY}"]
protected_corpus = ["corpus.txt"]
[audit]
path = "audit"
key = "audit.key"
[audit.sinks.eu]
path = "audit-eu"
[database]
url = "sqlite:///leakline.db"
""", encoding="utf-8")
    return config


def write_litellm_config(directory: Path, upstream: str) -> Path:
    config = directory / "litellm.yaml"
    config.write_text(f"""
model_list:
  - model_name: llama3.1:8b
    litellm_params:
      model: openai/llama3.1:8b
      api_base: {upstream}
      api_key: none
guardrails:
  - guardrail_name: content-filter
    litellm_params:
      guardrail: litellm_content_filter
      mode: [pre_call, post_call, during_call]
      default_on: true
      pattern_redaction_format: "[REDACTED:{{pattern_name}}]"
      patterns:
        - pattern_type: prebuilt
          pattern_name: email
          action: MASK
        - pattern_type: prebuilt
          pattern_name: visa
          action: MASK
        - pattern_type: prebuilt
          pattern_name: mastercard
          action: MASK
        - pattern_type: prebuilt
          pattern_name: iban
          action: MASK
        - pattern_type: prebuilt
          pattern_name: us_ssn
          action: MASK
litellm_settings:
  drop_params: true
""", encoding="utf-8")
    return config


# --- load ----------------------------------------------------------------------------------------------


def wrk_script(directory: Path, stream: bool, headers: dict[str, str]) -> Path:
    body = json.dumps({**BODY, "stream": stream})
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in {"content-type": "application/json", **headers}.items()]
    path = directory / f"req-{int(stream)}-{abs(hash(tuple(headers.items())))}.lua"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def to_ms(value: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)$", value)
    if match is None:  # wrk prints e.g. "-nanus" when no request completed
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of the live processes of process group `pgid` (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def settle(pgids: list[int], limit: float = 30.0) -> None:
    """Wait until the servers are idle: LiteLLM keeps working off its backlog for seconds after wrk stops,
    which slowed whichever target ran next (the pass-through's CPU per request doubled in later rounds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(group_cpu_seconds(g) for g in pgids)
        time.sleep(0.5)
        if sum(group_cpu_seconds(g) for g in pgids) - before < 0.05:
            return


def alone(target: int, upstream: int, groups: Iterable[int]) -> None:
    """Resume `target` and `upstream` (process groups) and stop every other server's group."""
    for group in set(groups):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGCONT if group in (target, upstream) else signal.SIGSTOP)


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=False,
    ).stdout
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    # Anchored: "92.50%" in the "+/- Stdev" column must not be read as the 50th percentile.
    p50_match = re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M)
    p99_match = re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M)
    if rps_match is None or p50_match is None or p99_match is None:
        print(f"unreadable wrk output for {url}:\n{out}", file=sys.stderr)
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "non2xx": 0.0, "socket_errors": 1.0}
    rps, p50, p99 = float(rps_match.group(1)), to_ms(p50_match.group(1)), to_ms(p99_match.group(1))
    done = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
            "socket_errors": 1.0 if errors else 0.0, "requests": float(done.group(1)) if done else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", nargs="+")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every target this many times, alternating, and report medians")
    parser.add_argument("--litellm", default="/tmp/litellm-venv/bin/litellm")
    parser.add_argument("--modes", default="whole,stream", help="comma-separated: whole, stream")
    parser.add_argument("--connections", default="1,50", help="comma-separated connection counts")
    parser.add_argument("--workers", type=int, default=1,
                        help="also run `leakline serve --workers N` as (c2) (N > 1; reported beside (c))")
    args = parser.parse_args()
    if args.serve:
        kind, port = args.serve[0], int(args.serve[1])
        if kind == "upstream":
            serve_upstream(port)
        elif kind == "passthrough":
            serve_passthrough(port, args.serve[2])
        elif kind == "gateway-only":
            serve_gateway_only(port, args.serve[2])
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in ("whole", "stream") for m in modes):
        parser.error(f"--modes: expected 'whole', 'stream' or both, got {args.modes!r}")
    streams = [m == "stream" for m in ("whole", "stream") if m in modes]
    try:
        connection_counts = sorted({int(c) for c in args.connections.split(",") if c.strip()})
    except ValueError:
        parser.error(f"--connections: expected comma-separated whole numbers, got {args.connections!r}")
    if not connection_counts or connection_counts[0] < 1:
        parser.error(f"--connections: expected counts of at least 1, got {args.connections!r}")
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="leakline-gwbench-"))
    procs: list[subprocess.Popen[bytes]] = []
    group_of: dict[int, int] = {}  # port -> process group of the server listening on it

    def spawn(cmd: list[str], port: int, env: dict[str, str] | None = None) -> None:
        log = (work / f"{port}.log").open("wb")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                      cwd=work, start_new_session=True))
        group_of[port] = procs[-1].pid  # start_new_session: the pid is the group id
        wait_port(port)

    try:
        up_port, pt_port, ll_port, lite_port = free_port(), free_port(), free_port(), free_port()
        upstream = f"http://127.0.0.1:{up_port}/v1"
        spawn([sys.executable, str(HERE), "--serve", "upstream", str(up_port)], up_port)
        spawn([sys.executable, str(HERE), "--serve", "passthrough", str(pt_port), upstream], pt_port)
        config = write_leakline_config(work, upstream)
        spawn([sys.executable, "-m", "leakline.cli", "serve", "--config", str(config), "--port", str(ll_port)],
              ll_port)
        extra: dict[str, tuple[str, dict[str, str]]] = {}
        if args.workers > 1:
            mw_port = free_port()
            spawn([sys.executable, "-m", "leakline.cli", "serve", "--config", str(config), "--port", str(mw_port),
                   "--workers", str(args.workers)], mw_port)
            extra[f"c2 workers={args.workers}"] = (f"http://127.0.0.1:{mw_port}/v1/chat/completions",
                                                   {"authorization": f"Bearer {KEY}", "x-vercel-ip-country": "DE"})
        go_port = free_port()
        spawn([sys.executable, str(HERE), "--serve", "gateway-only", str(go_port), str(config)], go_port)
        targets = {
            "a upstream": (f"http://127.0.0.1:{up_port}/v1/chat/completions", {}),
            "b pass-through": (f"http://127.0.0.1:{pt_port}/v1/chat/completions", {}),
            "c leakline": (f"http://127.0.0.1:{ll_port}/v1/chat/completions",
                           {"authorization": f"Bearer {KEY}", "x-vercel-ip-country": "DE"}),
            "c' routes only": (f"http://127.0.0.1:{go_port}/v1/chat/completions",
                               {"authorization": f"Bearer {KEY}", "x-vercel-ip-country": "DE"}),
        }
        targets.update(extra)
        if Path(args.litellm).exists():
            lite_config = write_litellm_config(work, upstream)
            master_key = "sk-" + secrets.token_hex(32)  # LiteLLM refuses to start without one
            try:
                spawn([args.litellm, "--config", str(lite_config), "--port", str(lite_port), "--host", "127.0.0.1",
                       "--num_workers", "1"], lite_port, env={"LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": master_key})
                targets["d litellm"] = (f"http://127.0.0.1:{lite_port}/v1/chat/completions",
                                        {"authorization": f"Bearer {master_key}"})
            except RuntimeError:
                print(f"(d) skipped: LiteLLM did not start; see {work / f'{lite_port}.log'}", file=sys.stderr)
        else:
            print(f"(d) skipped: {args.litellm} not found", file=sys.stderr)
        rounds: dict[tuple[str, bool, int], list[dict[str, float]]] = {}
        for round_no in range(1, args.rounds + 1):
            if args.rounds > 1:
                print(f"-- round {round_no} of {args.rounds}", flush=True)
            for stream in streams:
                for connections in connection_counts:
                    for name, (url, headers) in targets.items():
                        script = wrk_script(work, stream, headers)
                        pgid = group_of[int(url.split(":")[2].split("/")[0])]
                        # Only the target and the upstream run while a target is measured: the other
                        # proxies are stopped (SIGSTOP), so that LiteLLM working off its backlog, or any
                        # idle loop, takes no CPU from the 2 vCPUs the target shares with wrk and the upstream.
                        alone(pgid, group_of[up_port], group_of.values())
                        settle([pgid, group_of[up_port]])
                        run_wrk(url, script, connections, 1)  # warm-up (pools, JIT-free but caches)
                        cpu0 = group_cpu_seconds(pgid)
                        r = run_wrk(url, script, connections, args.seconds)
                        r["cpu_ms"] = 1000 * (group_cpu_seconds(pgid) - cpu0) / max(1.0, r["requests"])
                        rounds.setdefault((name, stream, connections), []).append(r)
                        print(f"{name:15} {'stream' if stream else 'whole ':6} c={connections:<3} "
                              f"{r['rps']:9.1f} req/s  p50 {r['p50']:8.2f} ms  p99 {r['p99']:8.2f} ms"
                              f"  cpu/req {r['cpu_ms']:6.3f} ms"
                              + (f"  non-2xx: {r['non2xx']:.0f}" if r["non2xx"] else ""), flush=True)
        # Each figure is the median over the rounds (a round runs every target once, so a neighbour's
        # load spike hits one round's runs, not all of one target's).
        results = {key: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for key, runs in rounds.items()}
        print(f"\nmedians of {args.rounds} round(s):" if args.rounds > 1 else "")
        for stream in streams:
            mode = "stream" if stream else "whole"
            for connections in connection_counts:
                c = results[("c leakline", stream, connections)]
                b = results[("b pass-through", stream, connections)]
                a = results[("a upstream", stream, connections)]
                line = (f"{mode:6} c={connections:<3} (c)/(b) throughput {c['rps'] / b['rps']:.2f}"
                        f"  (b)/(c) CPU per request {b['cpu_ms'] / c['cpu_ms']:.2f}")
                if args.rounds > 1:
                    per_round = [cr["rps"] / br["rps"] for cr, br in zip(rounds[("c leakline", stream, connections)],
                                                                         rounds[("b pass-through", stream, connections)],
                                                                         strict=True)]
                    line += f" (rounds {min(per_round):.2f}-{max(per_round):.2f})"
                c2 = results[("c' routes only", stream, connections)]
                line += f"  (c')/(b) {c2['rps'] / b['rps']:.2f}"
                for name in extra:
                    line += f"  ({name})/(b) {results[(name, stream, connections)]['rps'] / b['rps']:.2f}"
                d = results.get(("d litellm", stream, connections))
                if d and d["rps"]:
                    line += f"  (c)/(d) throughput {c['rps'] / d['rps']:.2f}"
                if connections == 1:
                    line += (f"  p50 added over (a): (c) {c['p50'] - a['p50']:.2f} ms, (c') {c2['p50'] - a['p50']:.2f} ms,"
                             f" (b) {b['p50'] - a['p50']:.2f} ms")
                print(line)
        return 0
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)  # a stopped group would not act on SIGTERM
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
