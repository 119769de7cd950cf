"""Benchmark of the artifact rules LL016 (vulnerable versions) and LL017 (published weights).

    python bench/artifact_rules_bench.py [--assets 3000] [--weights-gib 6] [--repeat 5]

Generates `bench/out/artifacts/` once: a Next.js app whose package-lock.json has 1,500 packages,
whose `public/` holds `--assets` ordinary files (images, fonts, JSON, a few `.bin` look-alikes) and a
dozen model files, six of them large sparse GGUF / safetensors / PyTorch files adding up to
`--weights-gib` GiB on paper, plus `.next/static` chunks. Then, side by side in this process and
`--repeat` times each (medians reported):

- leakline: `scan(app, rule_ids=["LL016", "LL017"])`, the whole engine (walk, index, both rules);
- baseline: the same walk and index, then what a scanner that reads files whole would do: read
  every weights-suffixed file under public/ and .next/static completely (in 1 MiB chunks) and test
  its magic, and look the packages up in the parsed lockfile.

Both must find the same weights files; the report prints wall time, bytes read and the ratio.
Sparse files cost no disk space, but reading them still copies every (zero) byte, as a real
multi-GiB file would.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import struct
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "artifacts"
SEED = 1729
CHUNK = 1024 * 1024
RULE_SECONDS: list[float] = []
"""Time spent in LL016 + LL017 themselves per leakline run (the engine's per-rule timings)."""
WEIGHT_SUFFIXES = (".gguf", ".ggml", ".safetensors", ".onnx", ".pt", ".pth", ".bin")


def _gguf() -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 291, 24)


def _safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "BF16", "shape": [4096, 4096], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header


def _write_sparse(path: Path, head: bytes, size: int) -> None:
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)


def generate(root: Path, assets: int, weights_gib: int) -> Path:
    marker = root / ".complete"
    if marker.exists() and marker.read_text() == f"{assets} {weights_gib}":
        return root
    rng = random.Random(SEED)
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    (root / "app").mkdir(parents=True)
    packages = {
        f"node_modules/pkg-{i}": {"version": f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 40)}"}
        for i in range(1500)
    }
    packages["node_modules/next"] = {"version": "15.1.7"}
    packages["node_modules/react-server-dom-webpack"] = {"version": "19.1.1"}
    deps = {"next": "^15.1.0", "react": "19.1.1", "react-server-dom-webpack": "19.1.1"}
    (root / "package.json").write_text(json.dumps({"name": "bench", "dependencies": deps}, indent=2))
    lock = {"name": "bench", "lockfileVersion": 3, "packages": {"": {"dependencies": deps}, **packages}}
    (root / "package-lock.json").write_text(json.dumps(lock, indent=2))
    (root / "app" / "page.tsx").write_text("export default function Page() { return null; }\n")
    (root / "middleware.ts").write_text("export function middleware() {}\n")
    public = root / "public"
    kinds = [
        (".png", b"\x89PNG\r\n\x1a\n"),
        (".svg", b"<svg/>"),
        (".woff2", b"wOF2"),
        (".json", b"{}"),
        (".bin", b"\x00\x01"),
    ]
    for i in range(assets):
        suffix, head = kinds[i % len(kinds)]
        folder = public / f"assets-{i % 40}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{i}{suffix}").write_bytes(head + rng.randbytes(rng.randint(200, 4000)))
    static = root / ".next" / "static" / "chunks"
    static.mkdir(parents=True)
    for i in range(300):
        (static / f"{i:04x}.js").write_text(f"(self.webpackChunk=self.webpackChunk||[]).push([[{i}],{{}}]);\n")
    models = public / "models"
    models.mkdir()
    big = weights_gib * 1024**3 // 6
    _write_sparse(models / "assistant-q4.gguf", _gguf(), big)
    _write_sparse(models / "assistant-q8.gguf", _gguf(), big)
    _write_sparse(models / "embed.safetensors", _safetensors(), big)
    _write_sparse(models / "rerank.safetensors", _safetensors(), big)
    _write_sparse(models / "pytorch_model.bin", _gguf(), big)
    _write_sparse(root / ".next" / "static" / "media-model.gguf", _gguf(), big)
    with zipfile.ZipFile(models / "lora.pt", "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("lora/data.pkl", b"\x80\x02}.")
        archive.writestr("lora/data/0", rng.randbytes(4096))
    for i in range(5):
        (models / f"not-weights-{i}.bin").write_bytes(rng.randbytes(10_000))
    marker.write_text(f"{assets} {weights_gib}")
    return root


def run_leakline(app: Path) -> tuple[set[str], int]:
    from leakline.scan.engine import scan

    result = scan(app, rule_ids=["LL016", "LL017"])
    if result.stats.rule_errors:
        raise SystemExit(f"rule errors: {result.stats.rule_errors}")
    weights = {f.path for f in result.findings if f.rule == "LL017"}
    RULE_SECONDS.append(sum(result.stats.rule_seconds.values()))
    return weights, -1


def run_baseline(app: Path) -> tuple[set[str], int]:
    """Same walk and index, then whole-file reads: what LL017 would cost without its head-only reads."""
    from leakline.config import Settings
    from leakline.scan.engine import build_index
    from leakline.scan.rules.ll017 import detect_weights
    from leakline.scan.walker import WalkStats

    index = build_index(app, Settings(), WalkStats(), set())
    found: set[str] = set()
    read = 0
    for f in index.files.values():
        if not f.rel.startswith(("public/", ".next/static/")) or f.suffix not in WEIGHT_SUFFIXES:
            continue
        with f.abs.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                read += len(chunk)
        # Same verdict as LL017, so that only the reading differs.
        if detect_weights(f.abs, f.size) is not None:
            found.add(f.rel)
    lock = json.loads(index.files["package-lock.json"].text)
    for name in ("next", "react-server-dom-webpack", "react-server-dom-parcel", "react-server-dom-turbopack"):
        lock["packages"].get(f"node_modules/{name}")
    return found, read


def _median_time(fn: object, app: Path, repeat: int) -> tuple[float, set[str], int]:
    times = []
    result: tuple[set[str], int] = (set(), 0)
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(app)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), result[0], result[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=3000)
    parser.add_argument("--weights-gib", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    app = generate(OUT, args.assets, args.weights_gib)
    files = sum(1 for p in app.rglob("*") if p.is_file())
    leak_s, leak_found, _ = _median_time(run_leakline, app, args.repeat)
    base_s, base_found, base_read = _median_time(run_baseline, app, args.repeat)
    if leak_found != base_found:
        print(f"MISMATCH: leakline {sorted(leak_found)} vs baseline {sorted(base_found)}", file=sys.stderr)
        raise SystemExit(1)
    print(f"app: {app} ({files} files, {args.weights_gib} GiB of sparse weights)")
    print(f"weights found by both: {len(leak_found)}")
    print(f"leakline LL016+LL017 (whole engine): median {leak_s * 1000:.1f} ms over {args.repeat} runs")
    print(f"  of which inside LL016+LL017       : median {statistics.median(RULE_SECONDS) * 1000:.1f} ms")
    print(
        f"baseline (whole-file reads)        : median {base_s * 1000:.1f} ms, {base_read / 1024**3:.2f} GiB read per run"
    )
    print(f"ratio baseline/leakline: {base_s / leak_s:.1f}x")


if __name__ == "__main__":
    main()
