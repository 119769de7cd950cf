"""Benchmark of the residency and AI-content rules (LL006, LL013, LL015) against a parse-everything baseline.

    python bench/residency_rules_bench.py [--files 5000] [--repeat 3]

Generates `bench/out/residency-<N>/`: a synthetic Next.js app of N source files (library modules,
client components, non-LLM route handlers and pages that mention chats, messages and `params`,
LLM route handlers behind a wrapper, chat pages), 2-6 KB each, deterministic from a seed, with
planted hits: a middleware whose matcher misses `/api/assist/*` (LL006), vercel.json and edge
routes outside `allowed_regions` (LL013), chat pages without ownership checks (LL015).

Then, in this one process, interleaved and `--repeat` times each, on a fresh index every time:

- walk + index only (no rule), the floor every rule pays;
- the baseline: walk + index + tree-sitter parse of every source file, i.e. the cheapest possible
  rule that cannot skip files;
- each of LL006, LL013, LL015 alone, and the three together;
- LL007 (the reference rule) for comparison.

It prints medians of wall time, how many files each run parsed, the ratio baseline / run (how many
times faster than parsing everything), and the recall and precision of the planted hits.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from leakline.config import Settings, load_settings
from leakline.scan.engine import build_index, scan
from leakline.scan.walker import WalkStats

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
RULES = ("LL006", "LL013", "LL015")

FILLER = [
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
  const res = await fetch(`${{process.env.INVENTORY_URL}}/stock?skus=${{skus.join(",")}}`, {{ cache: "no-store" }});
  if (!res.ok) throw new Error(`inventory ${{res.status}}`);
  return (await res.json()) as Record<string, number>;
}}
""",
    """
export function validateAddress{n}(input: {{ street: string; zip: string; country: string }}) {{
  const errors: string[] = [];
  if (!input.street.trim()) errors.push("street is required");
  if (!/^[0-9]{{5}}$/.test(input.zip)) errors.push("zip must have five digits");
  if (!["DE", "AT", "FR"].includes(input.country)) errors.push("we do not ship there");
  return {{ ok: errors.length === 0, errors, message: errors.join(", ") }};
}}
""",
]

LLM_LIB = """import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL });

export async function askAssistant(question: string) {
  const completion = await client.chat.completions.create({
    model: "llama3.1",
    messages: [{ role: "user", content: question }],
  });
  return completion.choices[0].message.content ?? "";
}
"""

MIDDLEWARE = """import { NextResponse, type NextRequest } from "next/server";

const ALLOWED = ["DE", "FR", "AT"];

export function middleware(request: NextRequest) {
  const country = request.headers.get("x-vercel-ip-country") ?? "";
  if (!ALLOWED.includes(country)) return new NextResponse("unavailable", { status: 451 });
  return NextResponse.next();
}

export const config = {
  matcher: ["/api/chat/:path*", "/((?!api|_next/static|_next/image).*)"],
};
"""
MIDDLEWARE_MATCHER_LINE = 12

VERCEL_JSON = '{\n  "regions": [\n    "fra1",\n    "iad1"\n  ]\n}\n'


def _filler(rng: random.Random, n: int) -> str:
    target = rng.randint(2000, 6000)
    parts: list[str] = []
    size = 0
    k = 0
    while size < target:
        chunk = FILLER[(n + k) % len(FILLER)].format(n=f"{n}_{k}")
        parts.append(chunk)
        size += len(chunk)
        k += 1
    return "".join(parts)


def generate(root: Path, files: int, seed: int = 7) -> set[tuple[str, str, int]]:
    """Write the app; return the planted (rule, path, line) hits."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    planted: set[tuple[str, str, int]] = set()

    def write(rel: str, text: str) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    write("package.json", '{"name":"bench","dependencies":{"next":"15.2.4","openai":"4.77.0"}}\n')
    write("tsconfig.json", '{"compilerOptions":{"baseUrl":".","paths":{"@/*":["./*"]}}}\n')
    write("leakline.toml", '[residency]\nallowed_regions = ["fra1", "cdg1"]\n')
    write("vercel.json", VERCEL_JSON)
    planted.add(("LL013", "vercel.json", 4))
    write("middleware.ts", MIDDLEWARE)
    planted.add(("LL006", "middleware.ts", MIDDLEWARE_MATCHER_LINE))
    write("lib/llm.ts", LLM_LIB)
    for n in range(files - 1):
        kind = n % 20
        body = _filler(rng, n)
        if kind < 8:
            write(f"lib/shop/module{n}.ts", body)
        elif kind < 13:
            write(
                f"components/Widget{n}.tsx",
                f'"use client";\nimport {{ useState }} from "react";\n{body}\n'
                f"export default function Widget{n}() {{\n  const [open, setOpen] = useState(false);\n"
                f'  return <button onClick={{() => setOpen(!open)}}>{{open ? "close" : "chat with us"}}</button>;\n}}\n',
            )
        elif kind < 17:
            # non-LLM route handlers that say "message" and read params: they pass LL015's prefilter
            write(
                f"app/api/orders{n}/[id]/route.ts",
                f"{body}\nexport async function GET(req: Request, {{ params }}: {{ params: Promise<{{ id: string }}> }}) {{\n"
                f"  const {{ id }} = await params;\n"
                f'  return Response.json({{ id, message: "order status" }});\n}}\n',
            )
        elif kind == 17:
            base = "chat" if n % 40 < 20 else "assist"
            text = (
                f'import {{ askAssistant }} from "@/lib/llm";\n{body}\n'
                f"export async function POST(req: Request) {{\n  const {{ q }} = await req.json();\n"
                f"  return Response.json({{ a: await askAssistant(q) }});\n}}\n"
            )
            if n % 100 == 17:
                text = 'export const runtime = "edge";\n' + text
                planted.add(("LL013", f"app/api/{base}/r{n}/route.ts", 1))
            write(f"app/api/{base}/r{n}/route.ts", text)
        elif kind == 18:
            lines = [
                'import { prisma } from "@/lib/db";',
                'import { auth } from "@/auth";',
                *body.splitlines(),
                "export default async function Page({ params }: { params: Promise<{ id: string }> }) {",
                "  const { id } = await params;",
            ]
            if n % 60 == 18:
                lines.append("  const chat = await prisma.conversation.findUnique({ where: { id } });")
                planted.add(("LL015", f"app/chats{n}/[id]/page.tsx", len(lines)))
            else:
                lines.append("  const session = await auth();")
                lines.append(
                    "  const chat = await prisma.conversation.findFirst({ where: { id, userId: session.user.id } });"
                )
            lines += ["  return <h1>{chat?.title}</h1>;", "}", ""]
            write(f"app/chats{n}/[id]/page.tsx", "\n".join(lines))
        else:
            write(
                f"app/shop/p{n}/page.tsx", f"{body}\nexport default function Page() {{ return <main>shop</main>; }}\n"
            )
    # the LL006 finding names the missed /api/assist routes once, on the matcher line
    return planted


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (sharded rules run in forked workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Wall and CPU seconds: the machine's cores are shared, so CPU time is the steadier measure."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = fn()
    return time.perf_counter() - wall, _cpu_seconds() - cpu, result


def _parse_everything(root: Path) -> int:
    settings: Settings = load_settings(root / "leakline.toml")
    index = build_index(root, settings, WalkStats(), set())
    parsed = 0
    for f in index.sources:
        if f.root is not None:
            parsed += 1
    return parsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = OUT / f"residency-{args.files}"
    planted = generate(root, args.files)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"tree: {root} ({args.files} source files, {size / 1e6:.1f} MB), planted hits: {len(planted)}")

    runs: dict[str, list[float]] = {}
    cpu_runs: dict[str, list[float]] = {}
    parsed: dict[str, int] = {}
    found: dict[str, set[tuple[str, str, int]]] = {}
    cases: list[tuple[str, list[str] | None]] = [
        ("index only", []),
        ("baseline: parse all", None),
        *[(rule, [rule]) for rule in RULES],
        ("LL006+LL013+LL015", list(RULES)),
        ("LL007 (reference)", ["LL007"]),
    ]
    for _ in range(args.repeat):
        for name, rule_ids in cases:
            if rule_ids is None:
                elapsed, cpu, count = _timed(partial(_parse_everything, root))
                parsed[name] = count
            else:
                elapsed, cpu, result = _timed(partial(scan, root, rule_ids=rule_ids))
                parsed[name] = result.stats.files_parsed
                found[name] = {(f.rule, f.path, f.line) for f in result.findings}
            runs.setdefault(name, []).append(elapsed)
            cpu_runs.setdefault(name, []).append(cpu)

    baseline = statistics.median(runs["baseline: parse all"])
    cpu_baseline = statistics.median(cpu_runs["baseline: parse all"])
    print(f"{'run':<22} {'wall s':>8} {'cpu s':>8} {'parsed':>7} {'wall ratio':>11} {'cpu ratio':>10}")
    for name, _ in cases:
        wall, cpu = statistics.median(runs[name]), statistics.median(cpu_runs[name])
        print(
            f"{name:<22} {wall:>8.3f} {cpu:>8.3f} {parsed[name]:>7} "
            f"{baseline / wall:>10.2f}x {cpu_baseline / cpu:>9.2f}x"
        )
    print("ratio = baseline (parse every source file) / run: above 1 means faster than parsing everything")
    mine = found["LL006+LL013+LL015"]
    hit = planted & mine
    print(f"planted hits found: {len(hit)}/{len(planted)}; findings not planted: {sorted(mine - planted)}")
    return 0 if hit == planted and mine == planted else 1


if __name__ == "__main__":
    sys.exit(main())
