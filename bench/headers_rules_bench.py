"""Benchmark of the header and source-map rules (LL001, LL002, LL019, LL020) against a parse-everything baseline.

    python bench/headers_rules_bench.py [--files 5000] [--chunks 400] [--repeat 3]

Generates `bench/out/headers-<N>/`: the synthetic Next.js app of `bench/scan_bench.py` (N route handlers,
client components and library modules of 2-6 KB), plus what these rules read: a next.config.js whose
`headers()` returns a multi-line template CSP with `'unsafe-eval' 'unsafe-inline'` and `connect-src https:`
and that sets `productionBrowserSourceMaps: true`, a middleware that sets HSTS on the response, a
vercel.json with X-Frame-Options, and a `.next/static` with `--chunks` browser chunks and as many `.map`
files. Planted hits: LL002 on the script-src and connect-src lines, LL019 on the option line and on every
map, LL020 (Referrer-Policy missing) on next.config.js line 1; LL001 must stay silent (a CSP is set).

Then, in this one process, interleaved and `--repeat` times each, on a fresh index every time:

- walk + index only (no rule), the floor every rule pays;
- the baseline: walk + index + tree-sitter parse of every source file, the cheapest possible rule that
  cannot skip files;
- each of the four rules alone, and the four together;
- LL007 (the reference rule) for comparison.

It prints medians of wall and CPU time, how many files each run parsed, the ratio baseline / run, and
the recall and precision of the planted hits.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from leakline.config import Settings
from leakline.scan.engine import build_index, scan
from leakline.scan.walker import WalkStats

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
RULES = ("LL001", "LL002", "LL019", "LL020")
T = TypeVar("T")

NEXT_CONFIG = """\
const cspHeader = `
    default-src 'self';
    script-src 'self' 'unsafe-eval' 'unsafe-inline';
    style-src 'self' 'unsafe-inline';
    connect-src 'self' https:;
    frame-ancestors 'none';
`;

module.exports = {
  reactStrictMode: true,
  productionBrowserSourceMaps: true,
  async headers() {
    return [
      {
        source: "/(.*)",
        headers: [
          { key: "Content-Security-Policy", value: cspHeader.replace(/\\s{2,}/g, " ").trim() },
          { key: "X-Content-Type-Options", value: "nosniff" },
        ],
      },
    ];
  },
};
"""
MIDDLEWARE = """\
import { NextResponse, type NextRequest } from "next/server";

export function middleware(request: NextRequest) {
  const response = NextResponse.next();
  response.headers.set("Strict-Transport-Security", "max-age=63072000; includeSubDomains");
  return response;
}
"""
VERCEL_JSON = '{"headers": [{"source": "/(.*)", "headers": [{"key": "X-Frame-Options", "value": "DENY"}]}]}\n'
CHUNK = "(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[{n}],{{{n}:function(e,t,n){{n.r(t)}}}}]);"


def generate(root: Path, files: int, chunks: int) -> set[tuple[str, str, int]]:
    sys.path.insert(0, str(HERE))
    from scan_bench import generate as generate_synthetic_app

    generate_synthetic_app(root, files)
    (root / "next.config.js").write_text(NEXT_CONFIG, encoding="utf-8")
    (root / "middleware.ts").write_text(MIDDLEWARE, encoding="utf-8")
    (root / "vercel.json").write_text(VERCEL_JSON, encoding="utf-8")
    static = root / ".next" / "static" / "chunks"
    static.mkdir(parents=True, exist_ok=True)
    planted = {("LL002", "next.config.js", 3), ("LL002", "next.config.js", 5), ("LL019", "next.config.js", 11)}
    planted.add(("LL020", "next.config.js", 1))
    for n in range(chunks):
        body = CHUNK.format(n=n) * 40
        (static / f"{n}-{n:08x}.js").write_text(f"{body}\n//# sourceMappingURL={n}-{n:08x}.js.map\n", encoding="utf-8")
        (static / f"{n}-{n:08x}.js.map").write_text('{"version":3,"sources":[],"mappings":""}', encoding="utf-8")
        planted.add(("LL019", f".next/static/chunks/{n}-{n:08x}.js.map", 1))
    return planted


def _timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Wall and CPU seconds: the machine's cores are shared, so CPU time is the steadier measure."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _parse_everything(root: Path) -> int:
    index = build_index(root, Settings(), WalkStats(), set())
    return sum(1 for f in index.sources if f.root is not None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = OUT / f"headers-{args.files}"
    planted = generate(root, args.files, args.chunks)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(
        f"tree: {root} ({args.files} source files, {args.chunks} chunks + {args.chunks} maps, {size / 1e6:.1f} MB), "
        f"planted hits of {', '.join(RULES)}: {len(planted)}"
    )

    cases: list[tuple[str, list[str] | None]] = [
        ("index only", []),
        ("baseline: parse all", None),
        *[(rule, [rule]) for rule in RULES],
        ("+".join(RULES), list(RULES)),
        ("LL007 (reference)", ["LL007"]),
    ]
    runs: dict[str, list[float]] = {}
    cpu_runs: dict[str, list[float]] = {}
    parsed: dict[str, int] = {}
    found: set[tuple[str, str, int]] = set()
    for _ in range(args.repeat):
        for name, rule_ids in cases:
            if rule_ids is None:
                elapsed, cpu, count = _timed(partial(_parse_everything, root))
                parsed[name] = count
            else:
                elapsed, cpu, result = _timed(partial(scan, root, rule_ids=rule_ids))
                parsed[name] = result.stats.files_parsed
                if rule_ids == list(RULES):
                    found = {(f.rule, f.path, f.line) for f in result.findings}
            runs.setdefault(name, []).append(elapsed)
            cpu_runs.setdefault(name, []).append(cpu)

    baseline = statistics.median(runs["baseline: parse all"])
    cpu_baseline = statistics.median(cpu_runs["baseline: parse all"])
    print(f"{'run':<24} {'wall s':>8} {'cpu s':>8} {'parsed':>7} {'wall ratio':>11} {'cpu ratio':>10}")
    for name, _ in cases:
        wall, cpu = statistics.median(runs[name]), statistics.median(cpu_runs[name])
        print(
            f"{name:<24} {wall:>8.3f} {cpu:>8.3f} {parsed[name]:>7} "
            f"{baseline / wall:>10.2f}x {cpu_baseline / cpu:>9.2f}x"
        )
    hit = planted & found
    print(
        f"planted hits found: {len(hit)}/{len(planted)} (recall {len(hit) / len(planted):.3f}); "
        f"extra findings: {len(found - planted)} (precision {len(hit) / max(1, len(found)):.3f})"
    )
    for missing in sorted(planted - found)[:10]:
        print(f"  missed: {missing}")
    for extra in sorted(found - planted)[:10]:
        print(f"  extra: {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
