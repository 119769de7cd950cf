"""Scan benchmark: leakline vs semgrep on a synthetic 5,000-file Next.js app, side by side in one run.

    python bench/scan_bench.py [--files 5000] [--semgrep PATH] [--small 300] [--repeat 3]

Generates `bench/out/synthetic-<N>/` (route handlers, client components and library modules of
2-6 KB with planted hits for every rule, deterministic from a seed), byte-compiles leakline (as
`pip install` does), then runs, in this process's children, alternately and `--repeat` times each
(alternating, so that a busy neighbour on a shared machine slows both alike):

- `leakline scan` with all rules (JSON output), and
- `semgrep --config bench/semgrep-rules.yml -j 1` (5 rules equivalent to LL003, LL007, LL010,
  LL011, LL012), if semgrep is installed (`pip install semgrep`, or pass --semgrep).

It reports medians of wall time and CPU time (user + system, worker processes included), files/s,
peak RSS (from wait4, per child), the ratios of throughputs and of CPU time, and recall of the planted hits of the five shared rules for both tools. A second,
smaller tree (`--small`, a few hundred files) measures leakline's whole-process wall time on an
app of ordinary size, start-up included, alternately with an app that has no source file (the fixed
cost of a scan), `python -c pass` (what the interpreter and this machine's site packages cost
before leakline does anything), the small tree with `--no-cache` and with the default text report. The
prefilter's compiled database is kept in `bench/out/cache` (filled by one untimed scan first), not in the
user's cache. `--small-only` skips the large tree and semgrep; `--busy-core` measures
the small tree a second time while a spinning process keeps one of the cores busy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SEMGREP_RULES = HERE / "semgrep-rules.yml"
SHARED_RULES = ("LL003", "LL007", "LL010", "LL011", "LL012")

FILLER_FUNCTIONS = [
    """
export function formatPrice{n}(cents: number, currency = "EUR"): string {{
  const value = (cents / 100).toFixed(2);
  return new Intl.NumberFormat("de-DE", {{ style: "currency", currency }}).format(Number(value));
}}
""",
    """
export function groupByCategory{n}(items: Array<{{ sku: string; category: string; price: number }}>) {{
  const groups: Record<string, typeof items> = {{}};
  for (const item of items) {{
    (groups[item.category] ??= []).push(item);
  }}
  return Object.entries(groups).map(([category, list]) => ({{ category, count: list.length, list }}));
}}
""",
    """
export async function loadInventory{n}(skus: string[]) {{
  try {{
    const res = await fetch(`${{process.env.INVENTORY_URL}}/stock?skus=${{skus.join(",")}}`, {{ cache: "no-store" }});
    if (!res.ok) throw new Error(`inventory ${{res.status}}`);
    return (await res.json()) as Record<string, number>;
  }} catch (err) {{
    console.error("inventory lookup failed", skus.length);
    return {{}};
  }}
}}
""",
    """
export function shippingEstimate{n}(country: string, weightGrams: number): {{ days: number; cents: number }} {{
  const zones: Record<string, number> = {{ DE: 1, AT: 1, FR: 2, NL: 2, IT: 3, ES: 3 }};
  const zone = zones[country] ?? 4;
  const days = zone + (weightGrams > 5000 ? 2 : 0);
  return {{ days, cents: 490 + zone * 150 + Math.ceil(weightGrams / 1000) * 80 }};
}}
""",
]

ROUTE_HEAD = """import {{ NextResponse }} from "next/server";
import OpenAI from "openai";

const client = new OpenAI({{ baseURL: process.env.OLLAMA_BASE_URL, apiKey: process.env.OLLAMA_KEY }});
"""

ROUTE_HANDLER_SAFE = """
export async function POST(req: Request) {{
  const {{ question, sessionId }} = await req.json();
  const completion = await client.chat.completions.create({{
    model: "llama3.1",
    messages: [{{ role: "system", content: "You are the shop assistant." }}, {{ role: "user", content: question }}],
  }});
  const answer = completion.choices[0].message.content ?? "";
  console.info("assistant{n}", {{ sessionId, tokens: completion.usage?.total_tokens, chars: answer.length }});
  return NextResponse.json({{ answer }});
}}
"""

CLIENT_HEAD = """"use client";
import {{ useState }} from "react";
"""

CLIENT_COMPONENT = """
export function ProductCard{n}({{ name, price, image }}: {{ name: string; price: number; image: string }}) {{
  const [open, setOpen] = useState(false);
  return (
    <div className="card" onClick={{() => setOpen(!open)}}>
      <img src={{image}} alt={{name}} width={{320}} height={{240}} />
      <h3>{{name}}</h3>
      <p className="price">{{(price / 100).toFixed(2)}} €</p>
      {{open ? <p className="details">Free returns within 30 days.</p> : null}}
    </div>
  );
}}
"""

# Planted hits; the line with the marker comment is the next line of the snippet.
PLANTS = {
    "LL007": """
export async function POST(req: Request) {{
  const {{ question }} = await req.json();
  const completion = await client.chat.completions.create({{ model: "llama3.1", messages: [{{ role: "user", content: question }}] }});
  const answer = completion.choices[0].message.content;
  // planted: LL007
  console.log("assistant answer", answer);
  return NextResponse.json({{ ok: true }});
}}
""",
    "LL011": """
export async function POST(req: Request) {{
  const {{ question }} = await req.json();
  const completion = await client.chat.completions.create({{ model: "llama3.1", messages: [{{ role: "user", content: question }}] }});
  const answer = completion.choices[0].message.content ?? "";
  const res = NextResponse.json({{ ok: true }});
  // planted: LL011
  res.headers.set("x-assistant-answer", answer);
  return res;
}}
""",
    "LL012": """
export async function POST(req: Request) {{
  try {{
    const {{ question }} = await req.json();
    const completion = await client.chat.completions.create({{ model: "llama3.1", messages: [{{ role: "user", content: question }}] }});
    return NextResponse.json({{ answer: completion.choices[0].message.content }});
  }} catch (error: any) {{
    // planted: LL012
    return NextResponse.json({{ error: error.message }}, {{ status: 500 }});
  }}
}}
""",
    "LL010": """
export function AssistantAnswer{n}() {{
  const [html, setHtml] = useState("");
  async function ask(q: string) {{
    const res = await fetch(`${{process.env.NEXT_PUBLIC_ASSISTANT_URL}}/v1/chat/completions`, {{ method: "POST", body: JSON.stringify({{ q }}) }});
    const data = await res.json();
    setHtml(data.choices[0].message.content);
  }}
  const reply = html;
  // planted: LL010
  return <div onClick={{() => ask("hi")}} dangerouslySetInnerHTML={{{{ __html: reply }}}} />;
}}
""",
    "LL003": """
export function assistantConfig{n}() {{
  // planted: LL003
  return {{ key: process.env.NEXT_PUBLIC_OPENAI_API_KEY, region: "eu" }};
}}
""",
}


@dataclass(frozen=True)
class Planted:
    rule: str
    path: str
    line: int


def _line_of_marker(text: str, rule: str) -> int:
    lines = text.splitlines()
    for i, line in enumerate(lines, start=1):
        if f"planted: {rule}" in line:
            return i + 1
    raise ValueError(rule)


def generate(root: Path, files: int, seed: int = 1) -> list[Planted]:
    """Write a synthetic app with `files` source files; returns the planted hits."""
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    planted: list[Planted] = []
    (root / "app").mkdir(parents=True)
    (root / "package.json").write_text(
        json.dumps(
            {
                "name": "synthetic-shop",
                "private": True,
                "dependencies": {"next": "15.5.7", "react": "19.1.2", "openai": "4.77.0"},
            }
        )
    )
    (root / "tsconfig.json").write_text('{"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}')
    (root / "next.config.js").write_text("module.exports = { reactStrictMode: true };\n")
    (root / ".env.production").write_text(
        "OLLAMA_BASE_URL=http://127.0.0.1:11434/v1\nINVENTORY_URL=https://inventory.internal\n"
    )
    rules = list(PLANTS)
    for i in range(files):
        plant = rules[(i // 10) % len(rules)] if i % 10 == 0 else None
        kind = ("route", "client", "lib")[i % 3]
        if plant in ("LL007", "LL011", "LL012"):
            kind = "route"
        elif plant == "LL010":
            kind = "client"
        if kind == "route":
            rel = f"app/api/shop{i // 50}/item{i}/route.ts"
            handler = PLANTS[plant] if plant in ("LL007", "LL011", "LL012") else ROUTE_HANDLER_SAFE
            body = ROUTE_HEAD.format() + handler.format(n=i)
        elif kind == "client":
            rel = f"components/shop{i // 50}/Widget{i}.tsx"
            body = CLIENT_HEAD.format() + CLIENT_COMPONENT.format(n=i)
            if plant == "LL010":
                body += PLANTS[plant].format(n=i)
        else:
            rel = f"lib/shop{i // 50}/util{i}.ts"
            body = "// utilities\n"
        if plant == "LL003":
            body += PLANTS["LL003"].format(n=i)
        target = 2048 + rng.randrange(0, 4096)
        n = 0
        while len(body) < target:
            body += FILLER_FUNCTIONS[(i + n) % len(FILLER_FUNCTIONS)].format(n=f"{i}_{n}")
            n += 1
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        if plant is not None:
            planted.append(Planted(plant, rel, _line_of_marker(body, plant)))
    (root / "planted.json").write_text(json.dumps([p.__dict__ for p in planted]))
    return planted


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    """user + system time of the child and the children it waited for (leakline's shard workers)."""
    max_rss_mb: float
    stdout: str


def run_child(argv: list[str], cwd: Path | None = None) -> Run:
    before = os.times()
    started = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, text=True) as proc:
        out = proc.stdout.read() if proc.stdout else ""
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
    wall = time.perf_counter() - started
    after = os.times()
    # wait4's rusage covers the child alone; os.times() also counts the grandchildren it reaped.
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    cpu = max(cpu, usage.ru_utime + usage.ru_stime)
    return Run(wall, cpu, usage.ru_maxrss / 1024, out)


def byte_compile_leakline() -> None:
    """Write leakline's .pyc files first, as `pip install` does: with PYTHONDONTWRITEBYTECODE set (as on
    some CI images) every run would otherwise recompile the package from source and time that too."""
    import leakline

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(leakline.__file__).parent)], check=True)


def leakline_hits(stdout: str) -> set[tuple[str, str, int]]:
    data = json.loads(stdout)
    return {(f["rule"], f["path"], f["line"]) for f in data["findings"]}


def semgrep_hits(stdout: str, root: Path) -> set[tuple[str, str, int]]:
    data = json.loads(stdout)
    out = set()
    for result in data.get("results", []):
        rule = result["check_id"].rsplit(".", 1)[-1]
        path = Path(result["path"])
        rel = path.relative_to(root).as_posix() if path.is_absolute() else path.as_posix()
        out.add((rule, rel, result["start"]["line"]))
    return out


@dataclass(frozen=True)
class Summary:
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    stdout: str


def _summary(runs: list[Run]) -> Summary:
    return Summary(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        max(r.max_rss_mb for r in runs),
        runs[-1].stdout,
    )


def _median_run(argv: list[str], repeat: int, cwd: Path | None = None) -> Summary:
    return _summary([run_child(argv, cwd) for _ in range(repeat)])


def _interleaved(first: list[str], second: list[str], repeat: int) -> tuple[Summary, Summary]:
    """Alternate the two commands so that a busy neighbour on a shared machine slows both alike."""
    a: list[Run] = []
    b: list[Run] = []
    for _ in range(repeat):
        a.append(run_child(first))
        b.append(run_child(second))
    return _summary(a), _summary(b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--semgrep", default=shutil.which("semgrep"))
    parser.add_argument("--small-only", action="store_true", help="only the small tree and the start-up floor")
    parser.add_argument(
        "--busy-core",
        action="store_true",
        help="measure the small tree again while another process keeps one core busy (a neighbour's build)",
    )
    args = parser.parse_args()
    # The compiled prefilter databases of the bench's own: timings must not depend on what the user's
    # ~/.cache/leakline holds (the --no-cache runs of the small tree show the other case).
    os.environ["LEAKLINE_CACHE_DIR"] = str(OUT / "cache")
    if not args.small_only:
        compare_with_semgrep(args.files, args.repeat, args.semgrep)
    else:
        byte_compile_leakline()
    measure_small_app(args.small, args.repeat)
    if args.busy_core:
        with _one_core_busy():
            measure_small_app(args.small, args.repeat, label="one core busy")
    return 0


@contextmanager
def _one_core_busy(limit_s: float = 900.0) -> Iterator[None]:
    """A child process spinning on one core for the duration (it also ends by itself after `limit_s`)."""
    spin = f"import time\nend = time.monotonic() + {limit_s}\nwhile time.monotonic() < end:\n    pass\n"
    hog = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.2)  # let it reach the spinning loop before measuring
        yield
    finally:
        hog.terminate()
        hog.wait()


def compare_with_semgrep(files: int, repeat: int, semgrep_path: str | None) -> None:
    big = OUT / f"synthetic-{files}"
    planted = generate(big, files)
    size_mb = sum(p.stat().st_size for p in big.rglob("*") if p.is_file()) / 1e6
    print(f"tree: {files} source files, {size_mb:.1f} MB, {len(planted)} planted hits in {big}")
    byte_compile_leakline()
    leakline = [sys.executable, "-m", "leakline.cli", "scan", str(big), "--format", "json", "--no-progress"]
    semgrep = [
        str(semgrep_path),
        "scan",
        "--config",
        str(SEMGREP_RULES),
        "-j",
        "1",
        "--json",
        "--metrics",
        "off",
        "--disable-version-check",
        "--no-git-ignore",
        str(big),
    ]
    if semgrep_path:
        mine, theirs = _interleaved(leakline, semgrep, repeat)
    else:
        mine, theirs = _median_run(leakline, repeat), None
    found = leakline_hits(mine.stdout)
    want = {(p.rule, p.path, p.line) for p in planted}
    l_recall = len(want & found) / len(want)
    print(
        f"leakline: {mine.wall_s:.2f} s median wall ({mine.cpu_s:.1f} s CPU), {files / mine.wall_s:,.0f} files/s, "
        f"peak RSS {mine.max_rss_mb:.0f} MB, planted recall {l_recall:.3f} ({len(want & found)}/{len(want)})"
    )
    missed = sorted(want - found)[:5]
    if missed:
        print(f"  missed (first 5): {missed}")
    if theirs is not None:
        s_found = semgrep_hits(theirs.stdout, big)
        s_recall = len(want & s_found) / len(want)
        print(
            f"semgrep:  {theirs.wall_s:.2f} s median wall ({theirs.cpu_s:.1f} s CPU), "
            f"{files / theirs.wall_s:,.0f} files/s, peak RSS {theirs.max_rss_mb:.0f} MB, "
            f"planted recall {s_recall:.3f} ({len(want & s_found)}/{len(want)})"
        )
        print(
            f"ratio: leakline is {theirs.wall_s / mine.wall_s:.1f}x semgrep's throughput (target >= 10x); "
            f"CPU ratio {theirs.cpu_s / mine.cpu_s:.1f}x"
        )
    else:
        print("semgrep: not installed (pip install semgrep, or --semgrep PATH); no ratio")


def measure_small_app(files: int, repeat: int, label: str = "") -> None:
    small = OUT / f"synthetic-{files}"
    generate(small, files, seed=2)
    empty = OUT / "no-sources"
    empty.mkdir(parents=True, exist_ok=True)
    (empty / "package.json").write_text(json.dumps({"name": "no-sources", "dependencies": {"next": "15.5.7"}}))
    base = [sys.executable, "-m", "leakline.cli", "scan", "--no-progress"]
    scan = [*base, "--format", "json"]
    run_child([*scan, str(small)])  # fills the bench's cache (see main), untimed
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "no sources": [*scan, str(empty)],
        "small": [*scan, str(small)],
        "small, no cache": [*scan, "--no-cache", str(small)],
        "small, text": [*base, str(small)],
    }
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(max(repeat, 5)):
        for name, argv in commands.items():
            runs[name].append(run_child(argv))
    floor, fixed, small_run, uncached, text = (_summary(runs[name]) for name in commands)
    print(
        f"small app ({files} files{', ' + label if label else ''}): leakline {small_run.wall_s:.2f} s median wall incl. start-up "
        f"({small_run.cpu_s:.2f} s CPU; target < 0.5 s), peak RSS {small_run.max_rss_mb:.0f} MB; "
        f"an app with no source file {fixed.wall_s:.2f} s ({fixed.cpu_s:.2f} s CPU); "
        f"python -c pass {floor.wall_s:.2f} s ({floor.cpu_s:.2f} s CPU)"
    )
    print(
        f"  the same app with --no-cache {uncached.wall_s:.2f} s ({uncached.cpu_s:.2f} s CPU); "
        f"with the default text report instead of JSON {text.wall_s:.2f} s ({text.cpu_s:.2f} s CPU)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
