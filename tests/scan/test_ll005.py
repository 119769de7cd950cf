"""LL005 edge cases beyond the fixture pair: a real `next build` output, several hits on one minified line,
detectors without any .env file, chunks larger than [scan] max_file_bytes, non-text assets, redaction."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.findings import Finding, Severity
from leakline.scan.engine import scan
from leakline.scan.rules.ll005 import _lines_and_columns
from leakline.scan.walker import WalkStats, walk_app

PACKAGE = '{"dependencies":{"next":"15.3.2"}}'
OPENAI = "sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs"
NEXT_BUILD = Path(__file__).resolve().parent.parent / "fixtures" / "nextbuild" / "shop"


def _app(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in {"package.json": PACKAGE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def _findings(app: Path) -> list[Finding]:
    result = scan(app, rule_ids=["LL005"])
    assert result.stats.rule_errors == []
    return [f for f in result.findings if f.suppressed is None]


# Genuine `next build` output is covered in tests/scan/test_nextbuild.py (it builds the fixture first).


def test_several_hits_on_one_minified_line_become_one_finding_naming_all(tmp_path: Path) -> None:
    chunk = (
        f'let a="{OPENAI}",b="http://10.20.0.5:11434",c="AKIAMVN4A4WFHYM4L1VF",'
        'd="ghp_mZp0zVZomHFwUbbYrEqmSM9wCZ7Uw9xfogoE";'
    )
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\nOLLAMA_URL=http://10.20.0.5:11434\n",
            ".next/static/chunks/42-abc.js": chunk,
        },
    )
    [finding] = _findings(app)
    assert (finding.path, finding.line, finding.column, finding.severity) == (
        ".next/static/chunks/42-abc.js",
        1,
        8,
        Severity.CRITICAL,
    )
    assert finding.message == (
        "browser build output contains the value of OPENAI_API_KEY, the value of OLLAMA_URL, "
        "an AWS access key id, a GitHub token"
    )
    assert finding.evidence == "sk-…Llqs"
    assert OPENAI not in json.dumps(finding.to_dict())


def test_only_an_internal_endpoint_is_high_not_critical(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {".env": "LLM_BASE_URL=http://gpu.lan:8000/v1\n", ".next/static/chunks/1.js": 'x("http://gpu.lan:8000/v1")'},
    )
    [finding] = _findings(app)
    assert (finding.line, finding.severity) == (1, Severity.HIGH)
    # Scheme, kind of host and port: `redact` would keep the ends (`htt…0/v1`), which name nothing useful.
    assert finding.evidence == "http://….lan:8000"
    assert "gpu" not in json.dumps(finding.to_dict())


def test_chunks_beyond_max_file_bytes_are_still_searched(tmp_path: Path) -> None:
    filler = "a=1;" * 400_000  # 1.6 MB on one line
    app = _app(
        tmp_path,
        {
            "leakline.toml": "[scan]\nmax_file_bytes = 1000\n",
            ".next/static/chunks/big.js": filler + "\n" + filler + f'k="{OPENAI}"',
        },
    )
    assert [(f.path, f.line, f.column) for f in _findings(app)] == [
        (".next/static/chunks/big.js", 2, len(filler) + 4)
    ]


def test_non_text_assets_and_unserved_build_folders_are_not_searched(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            ".next/static/media/logo.png": b"\x89PNG\r\n" + OPENAI.encode(),
            ".next/server/app/page.js": f'k="{OPENAI}"',
            ".next/cache/images/x.txt": OPENAI,
            "public/robots.txt": "User-agent: *\n",
        },
    )
    assert _findings(app) == []


def test_invalid_utf8_in_a_chunk_does_not_stop_the_search(tmp_path: Path) -> None:
    app = _app(tmp_path, {".next/static/chunks/bad.js": b"\xff\xfe broken;\n" + f'k="{OPENAI}"'.encode()})
    assert [(f.path, f.line) for f in _findings(app)] == [(".next/static/chunks/bad.js", 2)]


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet="ab\n", max_size=200), data=st.data())
def test_line_and_column_of_ascending_offsets_match_a_naive_count(text: str, data: st.DataObject) -> None:
    offsets = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=10)))
    naive = [(text.count("\n", 0, o) + 1, o - (text.rfind("\n", 0, o) + 1) + 1) for o in offsets]
    assert _lines_and_columns(text, offsets) == naive


def test_keys_publishable_by_their_variable_name_are_not_build_output_secrets(tmp_path: Path) -> None:
    from leakline.scan.engine import scan

    firebase = "AIza" + "SyD4f8a2c6e1b9d3f7a5c0e8b2d6f4a1c9e"
    other = "AIza" + "SyQ9z8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k"
    (tmp_path / "package.json").write_text('{"dependencies": {"next": "15.2.4"}}')
    (tmp_path / ".env").write_text(f"NEXT_PUBLIC_FIREBASE_API_KEY={firebase}\n")
    chunks = tmp_path / ".next" / "static" / "chunks"
    chunks.mkdir(parents=True)
    (chunks / "1-a.js").write_text(f'var c={{apiKey:"{firebase}"}};\n')
    (chunks / "2-b.js").write_text(f'var g="{other}";\n')
    found = [(f.rule, f.path, f.line) for f in scan(tmp_path, rule_ids=["LL005"]).findings]
    assert found == [("LL005", ".next/static/chunks/2-b.js", 1)]


# ---- prerendered routes under .next/server: served as they are by `next start` and Vercel ---------------

PRERENDER_MANIFEST = {
    "version": 4,
    "routes": {
        "/": {"srcRoute": "/", "dataRoute": "/index.rsc"},
        "/assistant": {"srcRoute": "/assistant", "dataRoute": "/assistant.rsc"},
        "/api/config": {"srcRoute": "/api/config", "dataRoute": None},
        "/help": {"srcRoute": None, "dataRoute": "/_next/data/b1d/help.json"},
        "/../../escape": {"srcRoute": None, "dataRoute": None},
    },
    "dynamicRoutes": {},
    "preview": {"previewModeId": "x", "previewModeSigningKey": "y", "previewModeEncryptionKey": "z"},
}
PAGES_MANIFEST = {"/_app": "pages/_app.js", "/help": "pages/help.js", "/about": "pages/about.html"}


def _prerendered_app(root: Path, manifest: str) -> Path:
    props = f'{{"apiKey":"{OPENAI}"}}'
    return _app(
        root,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            ".next/prerender-manifest.json": manifest,
            ".next/server/pages-manifest.json": json.dumps(PAGES_MANIFEST),
            ".next/server/app/index.html": "<html><body>home</body></html>\n",
            ".next/server/app/assistant.html": f'<html><script>self.__next_f.push([1,"2:{props}"])</script></html>\n',
            ".next/server/app/assistant.rsc": f'1:"$Sreact.fragment"\n2:["$","$L3",null,{props}]\n',
            ".next/server/app/api/config.body": props,
            ".next/server/pages/help.json": f'{{"pageProps":{props}}}',
            ".next/server/pages/help.html": f'<script id="__NEXT_DATA__">{{"props":{{"pageProps":{props}}}}}</script>\n',
            ".next/server/pages/about.html": f"<p>{OPENAI}</p>\n",
            # Never served: server bundles, response metadata, an .html no manifest names, and the manifest.
            ".next/server/app/assistant/page.js": f'const k="{OPENAI}";',
            ".next/server/app/assistant.meta": f'{{"headers":{{"x":"{OPENAI}"}}}}',
            ".next/server/app/old.html": f"<p>{OPENAI}</p>",
            ".next/server/pages/help.js": f'const k="{OPENAI}";',
            ".next/escape.html": f"<p>{OPENAI}</p>",
        },
    )


def test_prerendered_route_files_named_by_the_manifests_are_searched(tmp_path: Path) -> None:
    app = _prerendered_app(tmp_path, json.dumps(PRERENDER_MANIFEST))
    findings = _findings(app)
    assert [(f.path, f.line, f.column) for f in findings] == [
        (".next/server/app/api/config.body", 1, 12),
        (".next/server/app/assistant.html", 1, 51),
        (".next/server/app/assistant.rsc", 2, 30),
        (".next/server/pages/about.html", 1, 4),
        (".next/server/pages/help.html", 1, 61),
        (".next/server/pages/help.json", 1, 25),
    ]
    assert all(f.severity is Severity.CRITICAL for f in findings)
    assert findings[1].message == (
        "prerendered page output (served to every visitor) contains the value of OPENAI_API_KEY"
    )
    assert OPENAI not in json.dumps([f.to_dict() for f in findings])


def test_an_unreadable_prerender_manifest_fails_closed(tmp_path: Path) -> None:
    app = _prerendered_app(tmp_path, '{"version": 4, "routes": ')
    result = scan(app, rule_ids=["LL005"])
    found = {f.path for f in result.findings}
    # Every .html/.rsc/.json/.body under server/app and server/pages, listed or not; still no bundle or .meta.
    assert found == {
        ".next/server/app/api/config.body",
        ".next/server/app/assistant.html",
        ".next/server/app/assistant.rsc",
        ".next/server/app/old.html",
        ".next/server/pages/about.html",
        ".next/server/pages/help.html",
        ".next/server/pages/help.json",
    }
    assert result.stats.notes == {
        ".next/prerender-manifest.json unreadable: every prerendered-looking file under .next/server searched": 1
    }


def test_without_a_prerender_manifest_only_pages_manifest_html_is_searched(tmp_path: Path) -> None:
    # `next dev` leaves no prerender-manifest.json: nothing under .next/server/app is a prerendered page.
    app = _prerendered_app(tmp_path, "")
    (app / ".next" / "prerender-manifest.json").unlink()
    assert [(f.path, f.line) for f in _findings(app)] == [(".next/server/pages/about.html", 1)]


def test_segment_prefetch_payloads_of_a_prerendered_route_are_searched(tmp_path: Path) -> None:
    # The layout `next build` writes with the client segment cache (Next 15.5 experimental.clientSegmentCache):
    # the page segment's payload carries the prop as the whole .rsc does.
    props = f'{{"apiKey":"{OPENAI}"}}'
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            ".next/prerender-manifest.json": json.dumps(
                {"version": 4, "routes": {"/concierge": {"srcRoute": "/concierge", "dataRoute": "/concierge.rsc"}}}
            ),
            ".next/server/app/concierge.segments/_tree.segment.rsc": '0:{"tree":{}}\n',
            ".next/server/app/concierge.segments/concierge/__PAGE__.segment.rsc": f'0:{{"rsc":["$","$L1",null,{props}]}}\n',
            # A route the manifest does not list: never served.
            ".next/server/app/old.segments/__PAGE__.segment.rsc": f"0:{props}\n",
        },
    )
    assert [(f.path, f.line) for f in _findings(app)] == [
        (".next/server/app/concierge.segments/concierge/__PAGE__.segment.rsc", 1)
    ]


def test_the_fallback_page_of_a_dynamic_route_is_searched(tmp_path: Path) -> None:
    # What `next build` writes for getStaticPaths with `fallback: true` (checked on a Next 15.5 build): the
    # shell served for every slug not prerendered, rendered at build time with what the page's body read.
    manifest = {
        "version": 4,
        "routes": {},
        "dynamicRoutes": {
            "/guides/[slug]": {"fallback": "/guides/[slug].html", "dataRoute": "/_next/data/b1/guides/[slug].json"},
            "/docs/[slug]": {"fallback": False, "dataRoute": "/_next/data/b1/docs/[slug].json"},
            "/blog/[slug]": {"fallback": None, "dataRoute": None},
            "/x/[y]": {"fallback": "/../../escape.html"},
        },
    }
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            ".next/prerender-manifest.json": json.dumps(manifest),
            ".next/server/pages/guides/[slug].html": f'<p title="{OPENAI}">Loading</p>\n',
            # fallback: false and null: no shell is served, whatever a stale file holds.
            ".next/server/pages/docs/[slug].html": f"<p>{OPENAI}</p>\n",
            ".next/server/pages/blog/[slug].html": f"<p>{OPENAI}</p>\n",
            ".next/escape.html": f"<p>{OPENAI}</p>\n",
        },
    )
    assert [(f.path, f.line, f.column) for f in _findings(app)] == [(".next/server/pages/guides/[slug].html", 1, 11)]


EXPORT_FILES: dict[str, str | bytes] = {
    ".env": f"OPENAI_API_KEY={OPENAI}\nOLLAMA_URL=http://10.20.0.5:11434\n",
    "out/index.html": "<html><body>home</body></html>\n",
    "out/about.html": f'<html><body><main data-key="{OPENAI}">About</main></body></html>\n',
    "out/concierge.txt": f'1:"$Sreact.fragment"\n2:["$","$L3",null,{{"apiKey":"{OPENAI}"}}]\n',
    "out/_next/data/b1/help.json": '{"pageProps":{"baseURL":"http://10.20.0.5:11434"}}',
    "out/_next/static/chunks/pages/about-5d4c.js": f'let k="{OPENAI}";',
    # Not text: never read, so not even walked.
    "out/_next/static/media/inter.woff2": b"wOF2\x00" + OPENAI.encode(),
    "out/node_modules/pkg/leak.js": f'let k="{OPENAI}";',
}


def test_a_static_export_out_folder_is_searched_like_build_output(tmp_path: Path) -> None:
    app = _app(tmp_path, EXPORT_FILES)
    findings = _findings(app)
    assert [(f.path, f.line, f.column) for f in findings] == [
        ("out/_next/data/b1/help.json", 1, 26),
        ("out/_next/static/chunks/pages/about-5d4c.js", 1, 8),
        ("out/about.html", 1, 29),
        ("out/concierge.txt", 2, 30),
    ]
    assert findings[0].severity is Severity.HIGH  # an internal endpoint alone
    assert findings[2].message == (
        "static export output (out/, served to every visitor) contains the value of OPENAI_API_KEY"
    )
    assert OPENAI not in json.dumps([f.to_dict() for f in findings])


def test_the_export_walk_keeps_text_files_only_and_no_node_modules(tmp_path: Path) -> None:
    app = _app(tmp_path, EXPORT_FILES)
    kept = walk_app(app, exclude=[], nested_apps=set(), stats=WalkStats())
    assert sorted(rel for rel in kept if rel.startswith("out/")) == [
        "out/_next/data/b1/help.json",
        "out/_next/static/chunks/pages/about-5d4c.js",
        "out/about.html",
        "out/concierge.txt",
        "out/index.html",
    ]


def test_next_config_output_export_makes_out_a_static_export(tmp_path: Path) -> None:
    # No out/_next/static (an export of HTML only, or a partial copy): the config says what out/ is.
    files: dict[str, str | bytes] = {".env": f"OPENAI_API_KEY={OPENAI}\n", "out/about.html": f"<p>{OPENAI}</p>\n"}
    config = "const isExport = process.env.EXPORT === '1';\nexport default { output: isExport ? 'export' : undefined };\n"
    assert [(f.path, f.line) for f in _findings(_app(tmp_path / "a", {**files, "next.config.mjs": config}))] == [
        ("out/about.html", 1)
    ]
    # Near misses: no `output: 'export'` (standalone output, or `export` elsewhere in the config): out/ is any folder.
    for name, config in (
        ("b", "export default { output: 'standalone' };\n"),
        ("c", "export default { env: { MODE: 'export' } };\n"),
        ("d", ""),
    ):
        extra = {"next.config.mjs": config} if config else {}
        assert _findings(_app(tmp_path / name, {**files, **extra})) == [], name
