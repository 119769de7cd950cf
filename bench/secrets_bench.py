"""Benchmark of leakline's secret detectors against detect-secrets (Yelp), side by side in one process.

Corpora (generated, seeded, nothing read from disk):
- "minified": one-line chunks like `.next/static` output, with planted provider keys and
  publishable-by-design decoys (Stripe pk_, Supabase anon JWT, Firebase web config, Sentry DSN);
- "source": multi-line TSX-like modules, same plants and decoys.
For each corpus: throughput of `leakline.detectors.secrets.find_secrets` vs detect-secrets 1.5
(`scan_line` over every line, as `detect-secrets scan` does) with (a) only its provider plugins
(the equivalent rule set) and (b) its default plugins (adds entropy and keyword detectors), reported as
ratios, plus planted secrets found and decoys flagged by each. Then the literal engine of LL005
(`LiteralMatcher`: one `str.find` pass per value vs one combined regex) for growing value counts,
and the whole LL005 rule through the scan engine on a generated `.next/static`.

Run: python3 bench/secrets_bench.py [--scale 1.0]   (needs `pip install detect-secrets==1.5.0`)
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from leakline.detectors.literals import LiteralMatcher
from leakline.detectors.secrets import find_secrets

RUNS = 3
SEED = 20261126
ALNUM = string.ascii_letters + string.digits
WORDS = [
    "function",
    "return",
    "const",
    "let",
    "var",
    "this",
    "props",
    "children",
    "className",
    "useState",
    "useEffect",
    "null",
    "void",
    "0",
    "Object",
    "defineProperty",
    "exports",
    "default",
    "module",
    "require",
    "jsx",
    "jsxs",
    "Fragment",
    "onClick",
    "async",
    "await",
    "fetch",
    "JSON",
    "stringify",
    "parse",
    "Promise",
    "then",
    "catch",
    "length",
    "map",
    "filter",
    "reduce",
    "push",
    "slice",
]
PROVIDER_PLUGINS = [
    "AWSKeyDetector",
    "GitHubTokenDetector",
    "JwtTokenDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "SlackDetector",
    "StripeDetector",
]


def _rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _jwt(rng: random.Random, role: str) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'role': role, 'ref': _rand(rng, 20)})}.{_rand(rng, 43)}"


def _plants(rng: random.Random) -> list[str]:
    return [
        "sk-proj-" + _rand(rng, 48),
        "AKIA" + _rand(rng, 16, string.ascii_uppercase + string.digits),
        "ghp_" + _rand(rng, 36),
        "sk_live_" + _rand(rng, 24),
        "xoxb-" + _rand(rng, 11, string.digits) + "-" + _rand(rng, 13, string.digits) + "-" + _rand(rng, 24),
        _jwt(rng, "service_role"),
        "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
        + _rand(rng, 64)
        + "\\n-----END PRIVATE KEY-----",
    ]


def _decoys(rng: random.Random) -> list[str]:
    return [
        "pk_live_" + _rand(rng, 24),
        _jwt(rng, "anon"),
        f'apiKey:"AIza{_rand(rng, 35)}",authDomain:"shop.firebaseapp.com"',
        f"https://{_rand(rng, 32, '0123456789abcdef')}@o4501.ingest.sentry.io/55123",
        "sha512-" + _rand(rng, 86) + "==",
    ]


def _minified_chunk(rng: random.Random, size: int, plants: list[str], decoys: list[str]) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        word = rng.choice(WORDS) + rng.choice(".,;(){}=:") + rng.choice(("", "e", "t", "n", '"a"', "1"))
        parts.append(word)
        total += len(word)
    for value in plants + decoys:
        parts.insert(rng.randrange(len(parts)), f'"{value}",')
    return "".join(parts)


def _source_module(rng: random.Random, plants: list[str], decoys: list[str]) -> str:
    lines = ["'use client';", "import { useState } from 'react';", ""]
    for i in range(rng.randint(60, 160)):
        lines.append(f"  const v{i} = {rng.choice(WORDS)}({rng.choice(WORDS)}, '{_rand(rng, rng.randint(4, 20))}');")
    for value in plants + decoys:
        lines.insert(rng.randrange(3, len(lines)), f"  const k{rng.randint(0, 99)} = '{value}';")
    return "\n".join(lines) + "\n"


def _median_seconds(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _leakline_scan(texts: list[str]) -> list[str]:
    return [m.value(text) for text in texts for m in find_secrets(text)]


def _detect_secrets_scan(texts: list[str]) -> list[str]:
    from detect_secrets.core.scan import scan_line

    out: list[str] = []
    for text in texts:
        for line in text.splitlines():
            out.extend(str(s.secret_value) for s in scan_line(line))
    return out


def _score(found: list[str], plants: list[str], decoys: list[str]) -> tuple[int, int, int]:
    """(planted secrets found, decoys flagged, total findings)."""
    hit_plants = sum(1 for p in plants if any(p in f or (f in p and len(f) >= 16) for f in found))
    hit_decoys = sum(1 for d in decoys if any(f in d and len(f) >= 12 for f in found))
    return hit_plants, hit_decoys, len(found)


def bench_detectors(scale: float) -> None:
    from detect_secrets.settings import default_settings, transient_settings

    rng = random.Random(SEED)
    corpora: dict[str, tuple[list[str], list[str], list[str]]] = {}
    plants_a: list[str] = []
    decoys_a: list[str] = []
    chunks = []
    for _ in range(max(1, int(4 * scale))):
        plants, decoys = _plants(rng), _decoys(rng)
        plants_a += plants
        decoys_a += decoys
        chunks.append(_minified_chunk(rng, 256_000, plants, decoys))
    corpora["minified"] = (chunks, plants_a, decoys_a)
    plants_b: list[str] = []
    decoys_b: list[str] = []
    modules = []
    for i in range(max(10, int(100 * scale))):
        plants, decoys = (_plants(rng), _decoys(rng)) if i % 10 == 0 else ([], [])
        plants_b += plants
        decoys_b += decoys
        modules.append(_source_module(rng, plants, decoys))
    corpora["source"] = (modules, plants_b, decoys_b)

    print("## Secret detectors: leakline find_secrets vs detect-secrets 1.5.0 (median of 3, same process)")
    print(
        f"{'corpus':<10}{'MB':>6}  {'tool':<34}{'s':>8}{'MB/s':>9}{'ratio':>9}  planted found  decoys flagged  findings"
    )
    for name, (texts, plants, decoys) in corpora.items():
        mb = sum(len(t) for t in texts) / 1e6
        ours = _median_seconds(lambda texts=texts: _leakline_scan(texts))
        rows = [("leakline", ours, _leakline_scan(texts))]
        with transient_settings({"plugins_used": [{"name": n} for n in PROVIDER_PLUGINS]}):
            theirs = _median_seconds(lambda texts=texts: _detect_secrets_scan(texts))
            rows.append(("detect-secrets (provider plugins)", theirs, _detect_secrets_scan(texts)))
        with default_settings():
            theirs_all = _median_seconds(lambda texts=texts: _detect_secrets_scan(texts))
            rows.append(("detect-secrets (default plugins)", theirs_all, _detect_secrets_scan(texts)))
        for tool, seconds, found in rows:
            planted, flagged, total = _score(found, plants, decoys)
            ratio = seconds / ours
            print(
                f"{name:<10}{mb:>6.2f}  {tool:<34}{seconds:>8.3f}{mb / seconds:>9.1f}{ratio:>8.1f}x"
                f"  {planted:>5}/{len(plants):<8}{flagged:>6}/{len(decoys):<9}{total:>8}"
            )
    print("(ratio = tool's time / leakline's time; >1 means leakline is faster)")


def bench_literals(scale: float) -> None:
    rng = random.Random(SEED + 1)
    text = _minified_chunk(rng, int(2_000_000 * scale), [], [])
    print()
    print(f"## LL005 literal engine over {len(text) / 1e6:.1f} MB of minified output (median of 3)")
    print(f"{'values':>7}{'find s':>10}{'regex s':>10}{'regex/find':>12}")
    for count in (8, 32, 96, 128, 512):
        values = {f"V{i}": _rand(rng, rng.randint(12, 64)) for i in range(count)}
        finder = LiteralMatcher(values, strategy="find")
        regex = LiteralMatcher(values, strategy="regex")
        t_find = _median_seconds(lambda f=finder: list(f.finditer(text)))
        t_regex = _median_seconds(lambda r=regex: list(r.finditer(text)))
        print(f"{count:>7}{t_find:>10.3f}{t_regex:>10.3f}{t_regex / t_find:>11.2f}x")


def bench_rule(scale: float) -> None:
    from leakline.scan.engine import scan

    rng = random.Random(SEED + 2)
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp)
        (app / "package.json").write_text('{"dependencies":{"next":"15.3.2"}}')
        env_lines = [f"SERVICE_{i}_TOKEN={_rand(rng, 32)}" for i in range(20)]
        env_lines.append("OLLAMA_URL=http://10.20.0.5:11434")
        (app / ".env").write_text("\n".join(env_lines) + "\n")
        static = app / ".next" / "static" / "chunks"
        static.mkdir(parents=True)
        total = 0
        n_chunks = max(4, int(40 * scale))
        for i in range(n_chunks):
            plants = [_plants(rng)[0]] if i % 10 == 0 else []
            chunk = _minified_chunk(rng, 120_000, plants, _decoys(rng))
            (static / f"{i}-{_rand(rng, 8, '0123456789abcdef')}.js").write_text(chunk)
            total += len(chunk)
        seconds = _median_seconds(lambda: scan(app, rule_ids=["LL005"]))
        findings = scan(app, rule_ids=["LL005"]).findings
        print()
        print(
            f"## LL005 through the scan engine: {n_chunks} chunks, {total / 1e6:.1f} MB, 21 env values: "
            f"{seconds:.3f} s ({total / 1e6 / seconds:.1f} MB/s), {len(findings)} findings "
            f"(expected {len(range(0, n_chunks, 10))})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="corpus size multiplier (default 1.0)")
    args = parser.parse_args()
    try:
        import detect_secrets  # noqa: F401
    except ImportError:
        print("detect-secrets is not installed: pip install detect-secrets==1.5.0", file=sys.stderr)
        return 2
    bench_detectors(args.scale)
    bench_literals(args.scale)
    bench_rule(args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
