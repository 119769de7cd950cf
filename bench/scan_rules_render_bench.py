"""Benchmark of LL010, LL011, LL012 and LL014 against two baselines, side by side in one process.

    python bench/scan_rules_render_bench.py [--files 5000] [--repeat 3]

Uses the synthetic app of `bench/scan_bench.py` (generated into `bench/out/synthetic-<N>/` if missing;
deterministic). Each measurement builds a fresh project index, so parsing is paid inside the measured
time, exactly as in a real scan. Baselines:

- parse-all: tree-sitter parse of every source file (what a rule without a byte prefilter would pay);
- LL007: the example rule every source rule copies (prefilter, one walk, LLM-data analysis).

`all4|LL007` is the four rules' own time when they run after LL007 on the same index (trees and
LLM-data facts already built), which is their marginal cost inside a full scan.

Reports medians over `--repeat` runs: wall time, files parsed, the ratio of each rule's time to
parse-all and to LL007, and the recall of the planted LL010/LL011/LL012 hits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_bench import OUT, generate  # noqa: E402

from leakline.config import Settings  # noqa: E402
from leakline.scan.context import ScanContext  # noqa: E402
from leakline.scan.engine import build_index  # noqa: E402
from leakline.scan.index import ProjectIndex  # noqa: E402
from leakline.scan.rules import load_rule  # noqa: E402
from leakline.scan.walker import WalkStats  # noqa: E402

MINE = ("LL010", "LL011", "LL012", "LL014")


def _index(app: Path) -> ProjectIndex:
    return build_index(app, Settings(), WalkStats(), set())


def _parsed(index: ProjectIndex) -> int:
    return sum(1 for f in index.files.values() if "tree" in f.__dict__)


def _parse_all(app: Path) -> tuple[float, int, set[tuple[str, str, int]]]:
    index = _index(app)
    started = time.perf_counter()
    for f in index.sources:
        _ = f.root
    return time.perf_counter() - started, _parsed(index), set()


def _rule(rule_id: str) -> Callable[[Path], tuple[float, int, set[tuple[str, str, int]]]]:
    def run(app: Path) -> tuple[float, int, set[tuple[str, str, int]]]:
        index = _index(app)
        rule = load_rule(rule_id)
        started = time.perf_counter()
        hits = list(rule.check(ScanContext(index)))
        elapsed = time.perf_counter() - started
        return elapsed, _parsed(index), {(rule_id, h.path, h.line) for h in hits}

    return run


def _marginal(rule_ids: list[str]) -> Callable[[Path], tuple[float, int, set[tuple[str, str, int]]]]:
    """The rules' time after LL007 has run on the same index: trees and LLM facts already built, as in a
    full scan. Only the rules' own time is returned."""

    def run(app: Path) -> tuple[float, int, set[tuple[str, str, int]]]:
        index = _index(app)
        ctx = ScanContext(index)
        list(load_rule("LL007").check(ctx))
        started = time.perf_counter()
        hits: set[tuple[str, str, int]] = set()
        for rule_id in rule_ids:
            hits |= {(rule_id, h.path, h.line) for h in load_rule(rule_id).check(ctx)}
        return time.perf_counter() - started, _parsed(index), hits

    return run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rules", default=",".join(MINE), help="comma-separated subset of " + ",".join(MINE))
    args = parser.parse_args()
    app = OUT / f"synthetic-{args.files}"
    planted_file = app / "planted.json"
    if not planted_file.exists():
        generate(app, args.files)
    planted = {(p["rule"], p["path"], p["line"]) for p in json.loads(planted_file.read_text())}
    sources = len(_index(app).sources)
    print(f"tree: {app} ({sources} source files)")

    runs: dict[str, Callable[[Path], tuple[float, int, set[tuple[str, str, int]]]]] = {
        "parse-all": _parse_all,
        "LL007": _rule("LL007"),
    }
    chosen = [rule_id for rule_id in args.rules.split(",") if rule_id in MINE]
    runs.update({rule_id: _rule(rule_id) for rule_id in chosen})
    runs["all4|LL007"] = _marginal(chosen)
    times: dict[str, list[float]] = {name: [] for name in runs}
    parsed: dict[str, int] = {}
    found: dict[str, set[tuple[str, str, int]]] = {}
    for _ in range(args.repeat):
        for name, run in runs.items():  # interleaved, so load changes hit every contender alike
            elapsed, count, hits = run(app)
            times[name].append(elapsed)
            parsed[name] = count
            found[name] = hits
    base = statistics.median(times["parse-all"])
    ll007 = statistics.median(times["LL007"])
    print(f"{'run':<10} {'median s':>9} {'files parsed':>13} {'÷ parse-all':>12} {'÷ LL007':>8}  recall")
    for name in runs:
        median = statistics.median(times[name])
        want = {p for p in planted if p[0] == name or (name == "all4|LL007" and p[0] in chosen)}
        recall = f"{len(want & found[name])}/{len(want)}" if want else "-"
        print(f"{name:<10} {median:>9.3f} {parsed[name]:>13} {median / base:>12.3f} {median / ll007:>8.3f}  {recall}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
