"""Rules that read build output, run on a genuine `next build` of tests/fixtures/nextbuild/shop.

The shop is a small Next.js 15 App Router app: a client component reads NEXT_PUBLIC_LLM_API_KEY (a
fake, provider-shaped key from .env.production) so the build inlines it into a chunk (LL005);
`productionBrowserSourceMaps: true` publishes .map files (LL019); /recommendations calls an LLM and
is prerendered once with no revalidation (LL009, prerender-manifest.json). The prerendered /concierge
server page passes a server-only key (CONCIERGE_API_KEY) as a prop to a 'use client' component, and the
Pages Router /help returns it from getStaticProps: both are written into the HTML/RSC/JSON that `next start`
serves from .next/server (LL004 at the source line, LL005 in those files). Chunk names carry build hashes,
so the expected paths are found by searching the output, then rule + path + line are asserted exactly.

The build runs once per session (module fixture, tests/nextapps.py), only when .next is missing or older
than the sources; it needs the fixture's node_modules (scripts/setup-dev runs `npm ci` there; missing, the
tests skip, or fail under CI) and no network.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakline.findings import Finding, Severity
from leakline.scan.engine import scan
from tests.nextapps import next_build

SHOP = Path(__file__).resolve().parent.parent / "fixtures" / "nextbuild" / "shop"
BUILD = SHOP / ".next"
SOURCES = ("app", "pages", "next.config.mjs", ".env.production", "package.json", "package-lock.json")
KEY_NAME = "NEXT_PUBLIC_LLM_API_KEY"
SERVER_KEY_NAME = "CONCIERGE_API_KEY"

pytestmark = pytest.mark.slow


def _env_value(name: str) -> str:
    for line in (SHOP / ".env.production").read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    raise AssertionError(f"{name} is not set in .env.production")


@pytest.fixture(scope="module")
def shop() -> Path:
    return next_build(SHOP, SOURCES)


def _rel(path: Path) -> str:
    return path.relative_to(SHOP).as_posix()


def _lines_containing(root: Path, needle: str, pattern: str = "*") -> set[tuple[str, int]]:
    out = set()
    for path in sorted(root.rglob(pattern)):
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if needle in line:
                out.add((_rel(path), number))
    return out


def _findings(app: Path, rule: str) -> list[Finding]:
    result = scan(app, rule_ids=[rule])
    assert result.stats.rule_errors == []
    return [f for f in result.findings if f.rule == rule and f.suppressed is None]


# ---- the build itself is what the fixture promises --------------------------------------------------


def test_build_output_has_what_the_rules_need(shop: Path) -> None:
    key = _env_value(KEY_NAME)
    assert key.startswith("sk-proj-")
    inlined = _lines_containing(BUILD / "static", key)
    assert len(inlined) == 1
    ((chunk, _line),) = inlined
    assert chunk.startswith(".next/static/chunks/app/assistant/page-") and chunk.endswith(".js")
    maps = sorted(BUILD.joinpath("static").rglob("*.js.map"))
    assert maps, "productionBrowserSourceMaps produced no .map files"
    manifest = json.loads((BUILD / "prerender-manifest.json").read_text(encoding="utf-8"))
    assert manifest["routes"]["/recommendations"]["initialRevalidateSeconds"] is False
    assert "/assistant" not in manifest["routes"]  # force-dynamic: rendered per request
    assert manifest["routes"]["/concierge"]["dataRoute"] == "/concierge.rsc"
    assert manifest["routes"]["/help"]["dataRoute"].endswith("/help.json")
    server_key = _env_value(SERVER_KEY_NAME)
    assert _lines_containing(BUILD / "static", server_key) == set()  # never in a chunk: only in page output
    assert {path for path, _ in _lines_containing(BUILD / "server", server_key)} == {
        ".next/server/app/concierge.html",
        ".next/server/app/concierge.rsc",
        ".next/server/pages/help.html",
        ".next/server/pages/help.json",
    }


# ---- the rules on it --------------------------------------------------------------------------------


def test_ll005_reports_the_inlined_key_in_its_chunk_and_the_prerendered_pages_carrying_a_prop(shop: Path) -> None:
    pytest.importorskip("leakline.scan.rules.ll005")
    key = _env_value(KEY_NAME)
    server_key = _env_value(SERVER_KEY_NAME)
    expected = _lines_containing(BUILD / "static", key) | _lines_containing(BUILD / "server", server_key)
    found = _findings(shop, "LL005")
    assert {(f.path, f.line) for f in found if f.path.startswith(".next/")} == expected
    for f in found:
        assert key not in f.evidence and key not in f.message
        assert server_key not in f.evidence and server_key not in f.message


def test_ll004_reports_the_prop_and_the_static_props_at_their_source_lines(shop: Path) -> None:
    pytest.importorskip("leakline.scan.rules.ll004")

    def line_of(rel: str, needle: str) -> int:
        lines = (shop / rel).read_text(encoding="utf-8").splitlines()
        return next(n for n, line in enumerate(lines, start=1) if needle in line)

    found = _findings(shop, "LL004")
    assert [(f.path, f.line) for f in found] == [
        ("app/concierge/page.jsx", line_of("app/concierge/page.jsx", "apiKey={process.env.CONCIERGE_API_KEY}")),
        ("pages/help.jsx", line_of("pages/help.jsx", "apiKey: process.env.CONCIERGE_API_KEY")),
    ]
    # Graded by the value .env.production gives the variable: a provider key.
    assert [f.severity for f in found] == [Severity.CRITICAL, Severity.CRITICAL]
    assert found[0].message == (
        "process.env.CONCIERGE_API_KEY as `apiKey` (OpenAI API key) is passed by a server component to the "
        "client component <ConciergePanel>: Next serializes its props into the page's HTML and RSC payload"
    )


def test_ll019_reports_the_config_line_and_every_published_map(shop: Path) -> None:
    pytest.importorskip("leakline.scan.rules.ll019")
    config_line = next(
        n
        for n, line in enumerate((shop / "next.config.mjs").read_text().splitlines(), start=1)
        if "productionBrowserSourceMaps: true" in line
    )
    maps = {(_rel(p), 1) for p in BUILD.joinpath("static").rglob("*.map") if p.is_file()}
    assert {(f.path, f.line) for f in _findings(shop, "LL019")} == {("next.config.mjs", config_line), *maps}


def test_ll009_reports_the_never_revalidated_llm_route_in_the_manifest(shop: Path) -> None:
    pytest.importorskip("leakline.scan.rules.ll009")
    manifest = BUILD / "prerender-manifest.json"
    route_line = next(
        n
        for n, line in enumerate(manifest.read_text().splitlines(), start=1)
        if line.strip().startswith('"/recommendations": {')
    )
    in_manifest = {(f.path, f.line) for f in _findings(shop, "LL009") if f.path == ".next/prerender-manifest.json"}
    # "/" and "/_not-found" are never revalidated too, but they call no LLM.
    assert in_manifest == {(".next/prerender-manifest.json", route_line)}


def test_fixture_pins_next_past_every_known_advisory(shop: Path) -> None:
    assert _findings(shop, "LL016") == []
    assert _findings(shop, "LL017") == []
