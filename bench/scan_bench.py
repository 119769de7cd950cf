"""Scan benchmark: leakline vs semgrep on a synthetic 5,000-file Next.js app, side by side in one run.

    python bench/scan_bench.py [--files 5000] [--semgrep PATH] [--small 300] [--repeat 3]

Generates `bench/out/synthetic-<N>/` (route handlers, client components and library modules of
2-6 KB with planted hits for every rule, deterministic from a seed), then runs, in this process's
children, one after the other and `--repeat` times each:

- `leakline scan` with all rules (JSON output), and
- `semgrep --config bench/semgrep-rules.yml -j 1` (5 rules equivalent to LL003, LL007, LL010,
  LL011, LL012), if semgrep is installed (`pip install semgrep`, or pass --semgrep).

It reports medians of wall time, files/s, peak RSS (from wait4, per child), the ratio of
throughputs, and recall of the planted hits of the five shared rules for both tools. A second,
smaller tree (`--small`, a few hundred files) measures leakline's whole-process wall time on an
app of ordinary size, start-up included.
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
    max_rss_mb: float
    stdout: str


def run_child(argv: list[str], cwd: Path | None = None) -> Run:
    started = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, text=True) as proc:
        out = proc.stdout.read() if proc.stdout else ""
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
    wall = time.perf_counter() - started
    return Run(wall, usage.ru_maxrss / 1024, out)


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


def _median_run(argv: list[str], repeat: int, cwd: Path | None = None) -> tuple[float, float, str]:
    runs = [run_child(argv, cwd) for _ in range(repeat)]
    return statistics.median(r.wall_s for r in runs), max(r.max_rss_mb for r in runs), runs[-1].stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--semgrep", default=shutil.which("semgrep"))
    args = parser.parse_args()

    big = OUT / f"synthetic-{args.files}"
    planted = generate(big, args.files)
    size_mb = sum(p.stat().st_size for p in big.rglob("*") if p.is_file()) / 1e6
    print(f"tree: {args.files} source files, {size_mb:.1f} MB, {len(planted)} planted hits in {big}")
    leakline = [sys.executable, "-m", "leakline.cli", "scan", str(big), "--format", "json", "--no-progress"]
    l_wall, l_rss, l_out = _median_run(leakline, args.repeat)
    found = leakline_hits(l_out)
    want = {(p.rule, p.path, p.line) for p in planted}
    l_recall = len(want & found) / len(want)
    print(
        f"leakline: {l_wall:.2f} s median wall, {args.files / l_wall:,.0f} files/s, peak RSS {l_rss:.0f} MB, "
        f"planted recall {l_recall:.3f} ({len(want & found)}/{len(want)})"
    )
    missed = sorted(want - found)[:5]
    if missed:
        print(f"  missed (first 5): {missed}")
    if args.semgrep:
        semgrep = [
            args.semgrep,
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
        s_wall, s_rss, s_out = _median_run(semgrep, args.repeat)
        s_found = semgrep_hits(s_out, big)
        s_recall = len(want & s_found) / len(want)
        print(
            f"semgrep:  {s_wall:.2f} s median wall, {args.files / s_wall:,.0f} files/s, peak RSS {s_rss:.0f} MB, "
            f"planted recall {s_recall:.3f} ({len(want & s_found)}/{len(want)})"
        )
        print(f"ratio: leakline is {s_wall / l_wall:.1f}x semgrep's throughput (target >= 10x)")
    else:
        print("semgrep: not installed (pip install semgrep, or --semgrep PATH); no ratio")

    small = OUT / f"synthetic-{args.small}"
    generate(small, args.small, seed=2)
    argv = [sys.executable, "-m", "leakline.cli", "scan", str(small), "--format", "json", "--no-progress"]
    s_wall_small, s_rss_small, _ = _median_run(argv, max(args.repeat, 5))
    print(
        f"small app ({args.small} files): leakline {s_wall_small:.2f} s median wall incl. start-up "
        f"(target < 0.5 s), peak RSS {s_rss_small:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
