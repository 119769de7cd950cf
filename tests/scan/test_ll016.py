"""LL016 edge cases beyond the fixture pair: SemVer precedence (canaries, release candidates), the
advisory data file and its validation, applicability conditions, lockfile flavours, and where the
finding lands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.findings import Finding
from leakline.scan.engine import scan
from leakline.scan.lockfiles import JsonKeyPosition, SemVer, json_key_position
from leakline.scan.rules.ll016 import AdvisoryDataError, default_advisories, load_advisories


def _v(text: str) -> SemVer:
    version = SemVer.parse(text)
    assert version is not None, text
    return version


def _app(tmp_path: Path, dependencies: dict[str, str], files: dict[str, str] | None = None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "package.json").write_text(
        json.dumps({"name": "shop", "private": True, "dependencies": dependencies}, indent=2) + "\n"
    )
    for rel, text in (files or {}).items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def _findings(app: Path) -> list[Finding]:
    result = scan(app, rule_ids=["LL016"])
    assert result.stats.rule_errors == []
    return result.findings


def _ids(finding: Finding) -> list[str]:
    head = finding.message.split(" is affected by ", 1)[1]
    return head.split(" (applies here", 1)[0].split(":", 1)[0].split(", ")


PAGE = "export default function Page() { return null; }\n"
MIDDLEWARE = (
    "import { NextResponse } from 'next/server';\nexport function middleware() { return NextResponse.next(); }\n"
)


# ---- SemVer ---------------------------------------------------------------------------------------


def test_semver_precedence_follows_the_spec_example() -> None:
    # semver.org section 11's own example, in ascending order.
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11"]
    ordered += ["1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    versions = [_v(t) for t in ordered]
    assert sorted(reversed(versions)) == versions


def test_semver_canaries_sit_between_releases() -> None:
    assert _v("14.2.35") < _v("14.3.0-canary.77") < _v("15.0.0-rc.0") < _v("15.0.0")
    assert _v("15.6.0-canary.9") < _v("15.6.0-canary.58") < _v("15.6.0")
    assert _v("16.0.0-0") <= _v("16.0.0-beta.0")
    assert _v("15.1.0+build.7") == _v("15.1.0")


@pytest.mark.parametrize("text", ["15.1", "15.01.0", "v", "latest", "^15.1.0", "15.1.0-", "15.1.0-a..b", ""])
def test_semver_rejects_what_is_not_one_version(text: str) -> None:
    assert SemVer.parse(text) is None


_identifier = st.one_of(
    st.integers(min_value=0, max_value=99).map(str), st.sampled_from(["alpha", "beta", "rc", "canary"])
)
_versions = st.builds(
    lambda major, minor, patch, pre: f"{major}.{minor}.{patch}" + ("-" + ".".join(pre) if pre else ""),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 20),
    st.lists(_identifier, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(_versions, _versions)
def test_semver_order_is_total_and_round_trips(a_text: str, b_text: str) -> None:
    a, b = _v(a_text), _v(b_text)
    assert _v(str(a)) == a
    assert [a < b, a == b, a > b].count(True) == 1
    if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch):
        assert (a < b) == ((a.major, a.minor, a.patch) < (b.major, b.minor, b.patch))
    elif a.prerelease and not b.prerelease:
        assert a < b


# ---- package.json positions -----------------------------------------------------------------------


def test_json_key_position_follows_the_object_path() -> None:
    text = (
        '{\n  "peerDependencies": {"next": "*"},\n  "dependencies": {\n    "next": "15.1.0"\n  },\n'
        '  "overrides": {"dependencies": {"next": "1"}},\n  "list": [{"dependencies": {"next": "2"}}]\n}\n'
    )
    assert json_key_position(text, ("dependencies", "next")) == JsonKeyPosition(4, 5)
    assert json_key_position(text, ("peerDependencies", "next")) == JsonKeyPosition(2, 24)
    assert json_key_position(text, ("overrides", "dependencies", "next")) == JsonKeyPosition(6, 34)
    assert json_key_position(text, ("list", "dependencies", "next")) is None
    assert json_key_position(text, ("next",)) is None
    tricky = '{"a": "\\"next\\": 1", "dependencies": {"next": "1"}}'
    assert json_key_position(tricky, ("dependencies", "next")) == JsonKeyPosition(1, tricky.rindex('"next"') + 1)


# ---- the advisory data ----------------------------------------------------------------------------


def test_shipped_advisories_are_valid_and_sourced() -> None:
    advisories = default_advisories()
    ids = {i for a in advisories for i in a.ids}
    for required in ("CVE-2025-29927", "CVE-2024-46982", "CVE-2024-34351", "CVE-2025-66478", "CVE-2025-55182"):
        assert required in ids
    for advisory in advisories:
        assert all(i.startswith(("CVE-", "GHSA-")) for i in advisory.ids)
        assert all(url.startswith("https://") for url in advisory.sources)


def test_react2shell_range_includes_14_3_canaries_from_77() -> None:
    (entry,) = [a for a in default_advisories() if "CVE-2025-66478" in a.ids]
    (next_pkg,) = entry.affected
    assert next_pkg.matching_range(_v("14.3.0-canary.76")) is None
    assert next_pkg.matching_range(_v("14.3.0-canary.77")) is not None
    assert next_pkg.matching_range(_v("15.0.4")) is not None
    assert next_pkg.matching_range(_v("15.0.5")) is None
    assert next_pkg.matching_range(_v("15.1.0-canary.3")) is not None
    assert next_pkg.matching_range(_v("15.6.0-canary.57")) is not None
    assert next_pkg.matching_range(_v("15.6.0-canary.58")) is None
    assert next_pkg.matching_range(_v("16.0.7")) is None


_VALID = """
[[advisory]]
ids = ["CVE-2099-0001"]
title = "t"
summary = "s"
severity = "high"
published = 2099-01-01
sources = ["https://example.org/a"]
applies_when = []
[[advisory.affected]]
package = "next"
ranges = [{ introduced = "1.0.0", fixed = "1.2.0" }]
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('severity = "high"', 'severity = "urgent"', "advisory[0]: severity 'urgent' is not one of"),
        ('title = "t"\n', "", "advisory[0]: missing field `title`"),
        ('fixed = "1.2.0"', 'fixed = "1.2"', "advisory[0].affected[0].ranges[0].fixed: '1.2' is not a SemVer version"),
        ('fixed = "1.2.0"', 'fixed = "0.9.0"', "ranges[0]: introduced 1.0.0 is not below 0.9.0"),
        ('fixed = "1.2.0" }', 'fixed = "1.2.0", until = "1.3.0" }', "needs exactly one of `fixed` or `until`"),
        ("applies_when = []", 'applies_when = ["vercel"]', "unknown condition(s) vercel"),
        ('"https://example.org/a"', '"http://example.org/a"', "must be an https:// URL"),
        ("published = 2099-01-01", 'published = "2099"', "field `published` must be a TOML date"),
        (
            'ranges = [{ introduced = "1.0.0", fixed = "1.2.0" }]',
            'ranges = [{ introduced = "1.0.0", fixed = "1.2.0" }, { introduced = "1.1.0", fixed = "1.3.0" }]',
            "ranges starting at 1.0.0 and 1.1.0 overlap",
        ),
        ("[[advisory]]", "[[advisory]", "advisories.toml: not valid TOML"),
    ],
)
def test_malformed_advisory_data_names_entry_and_field(old: str, new: str, message: str) -> None:
    assert load_advisories(_VALID)[0].ids == ("CVE-2099-0001",)
    with pytest.raises(AdvisoryDataError) as caught:
        load_advisories(_VALID.replace(old, new, 1))
    assert message in caught.value.message


# ---- applicability --------------------------------------------------------------------------------


def test_middleware_advisory_needs_a_middleware(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "15.1.0"}, {"pages/index.tsx": PAGE})
    assert _findings(app) == []
    (tmp_path / "middleware.ts").write_text(MIDDLEWARE)
    (finding,) = _findings(app)
    assert (finding.path, finding.line, finding.column) == ("package.json", 5, 5)
    assert _ids(finding) == ["CVE-2025-29927"]
    assert finding.severity.value == "critical"
    assert finding.confidence.value == "high"  # an exact pin is as good as a lockfile
    assert finding.message.endswith("upgrade to 15.2.3 or later")


RSC_DOS_2026 = ["CVE-2026-23864", "CVE-2026-23869", "CVE-2026-23870"]
PROXY_BYPASS_2026 = ["CVE-2026-44575", "CVE-2026-45109"]


def test_next16_proxy_in_src_counts_as_middleware_beside_src_app(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "16.0.10"}, {"src/app/page.tsx": PAGE, "src/proxy.ts": MIDDLEWARE})
    (finding,) = _findings(app)
    assert _ids(finding) == RSC_DOS_2026 + PROXY_BYPASS_2026
    assert "(applies here: App Router, middleware/proxy present)" in finding.message


def test_root_proxy_beside_src_app_is_not_a_middleware(tmp_path: Path) -> None:
    # Next.js reads proxy.* from the folder holding app/ (src/ here): a root proxy.ts is never built.
    app = _app(tmp_path, {"next": "16.0.10"}, {"src/app/page.tsx": PAGE, "proxy.ts": MIDDLEWARE})
    (finding,) = _findings(app)
    assert _ids(finding) == RSC_DOS_2026
    assert "(applies here: App Router)" in finding.message


def test_proxy_before_next16_is_not_a_middleware(tmp_path: Path) -> None:
    # proxy.* is Next 16's name; next 15.2.2 only builds middleware.*, so CVE-2025-29927 cannot reach it.
    app = _app(tmp_path, {"next": "15.2.2"}, {"pages/index.tsx": PAGE, "proxy.ts": MIDDLEWARE})
    assert _findings(app) == []
    (tmp_path / "middleware.ts").write_text(MIDDLEWARE)
    (finding,) = _findings(app)
    assert _ids(finding) == ["CVE-2025-29927"]  # i18n is not configured, so CVE-2026-44573 does not apply


def test_pages_router_cache_poisoning(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "14.2.5"}, {"pages/dashboard.tsx": PAGE})
    (finding,) = _findings(app)
    assert _ids(finding) == ["CVE-2024-46982"]
    assert finding.severity.value == "high"
    assert finding.message.endswith("upgrade to 14.2.10 or later")


def test_i18n_middleware_bypass_needs_i18n_in_next_config(tmp_path: Path) -> None:
    files = {"pages/account.tsx": PAGE, "middleware.ts": MIDDLEWARE, "next.config.js": "module.exports = {};\n"}
    app = _app(tmp_path, {"next": "14.2.30"}, files)
    assert _findings(app) == []
    (tmp_path / "next.config.js").write_text(
        "// i18n is configured below\nmodule.exports = { i18n: { locales: ['en', 'de'], defaultLocale: 'en' } };\n"
    )
    (finding,) = _findings(app)
    assert _ids(finding) == ["CVE-2026-44573"]


def test_inline_server_action_makes_the_ssrf_advisory_apply(tmp_path: Path) -> None:
    action = (
        "export default function Page() {\n"
        "  async function save() {\n    'use server';\n    return 1;\n  }\n"
        "  return <form action={save} />;\n}\n"
    )
    # 14.0.0 predates the App Router RSC advisories' ranges except the 13.x/14.x DoS ones.
    app = _app(tmp_path, {"next": "14.0.0"}, {"app/page.tsx": action})
    (finding,) = _findings(app)
    assert "CVE-2024-34351" in _ids(finding)
    app_without = _app(tmp_path / "other", {"next": "14.0.0"}, {"app/page.tsx": PAGE})
    (other,) = _findings(app_without)
    assert "CVE-2024-34351" not in _ids(other)


def test_a_string_saying_use_server_is_not_a_server_action(tmp_path: Path) -> None:
    page = "export default function Page() {\n  const hint = 'use server';\n  return <p>{hint}</p>;\n}\n"
    app = _app(tmp_path, {"next": "14.0.0"}, {"app/page.tsx": page})
    (finding,) = _findings(app)
    assert "CVE-2024-34351" not in _ids(finding)


# ---- where versions come from ---------------------------------------------------------------------


def test_lockfile_wins_over_the_declared_range(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "^14.2.0"}, {"pages/index.tsx": PAGE})
    lock = {
        "name": "shop",
        "lockfileVersion": 3,
        "packages": {"": {"dependencies": {"next": "^14.2.0"}}, "node_modules/next": {"version": "14.2.33"}},
    }
    (tmp_path / "package-lock.json").write_text(json.dumps(lock, indent=2))
    assert _findings(app) == []
    lock["packages"]["node_modules/next"] = {"version": "14.2.9"}  # type: ignore[index]
    (tmp_path / "package-lock.json").write_text(json.dumps(lock, indent=2))
    (finding,) = _findings(app)
    assert (finding.evidence, finding.confidence.value) == ("next@14.2.9 (package-lock.json)", "high")


def test_declared_range_without_lockfile_has_medium_confidence(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "^14.2.0"}, {"pages/index.tsx": PAGE})
    (finding,) = _findings(app)
    assert _ids(finding) == ["CVE-2024-46982"]
    assert finding.confidence.value == "medium"
    assert finding.evidence == "next@14.2.0 (lowest version the package.json range allows)"


def test_pnpm_lock_with_peer_suffix(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "^15.0.0"}, {"app/page.tsx": PAGE})
    (tmp_path / "pnpm-lock.yaml").write_text(
        "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      next:\n"
        "        specifier: ^15.0.0\n        version: 15.0.3(react-dom@19.0.0(react@19.0.0))(react@19.0.0)\n"
    )
    (finding,) = _findings(app)
    assert finding.evidence == "next@15.0.3 (pnpm-lock.yaml)"
    assert _ids(finding)[0] == "CVE-2025-66478"
    assert finding.severity.value == "critical"


def test_yarn_lock_canary(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "canary"}, {"app/page.tsx": PAGE})
    (tmp_path / "yarn.lock").write_text(
        '# yarn lockfile v1\n\n\nnext@canary:\n  version "15.6.0-canary.57"\n  resolved "https://registry.yarnpkg.com/next"\n'
    )
    (finding,) = _findings(app)
    assert finding.evidence == "next@15.6.0-canary.57 (yarn.lock)"
    assert _ids(finding) == ["CVE-2025-66478", "CVE-2026-23864"]
    # Stable releases are preferred over a canary that carries a fix; 16.0.7 to 16.2.3 each still fall in a
    # later App Router advisory's range.
    assert finding.message.endswith("upgrade to 16.2.5 or later")


def test_transitive_rsc_package_is_reported_in_the_lockfile(tmp_path: Path) -> None:
    app = _app(tmp_path, {"react-router": "7.9.0", "next": "15.5.29"}, {"app/page.tsx": PAGE})
    lock = {
        "name": "shop",
        "lockfileVersion": 3,
        "packages": {
            "": {"dependencies": {"react-router": "7.9.0", "next": "15.5.29"}},
            "node_modules/next": {"version": "15.5.29"},
            "node_modules/react-router": {"version": "7.9.0"},
            "node_modules/react-server-dom-parcel": {"version": "19.2.0"},
        },
    }
    text = json.dumps(lock, indent=2)
    (tmp_path / "package-lock.json").write_text(text)
    (finding,) = _findings(app)
    expected_line = text.splitlines().index('    "node_modules/react-server-dom-parcel": {') + 1
    assert (finding.path, finding.line, finding.column) == ("package-lock.json", expected_line, 5)
    assert _ids(finding)[0] == "CVE-2025-55182"
    assert finding.message.endswith("upgrade to 19.2.6 or later")


def test_patched_versions_and_unparseable_specifiers_are_not_findings(tmp_path: Path) -> None:
    files = {"app/page.tsx": PAGE, "pages/index.tsx": PAGE, "middleware.ts": MIDDLEWARE}
    for spec in ("15.5.18", "16.2.6", "latest", "workspace:*", "github:vercel/next.js"):
        app = _app(tmp_path / spec.replace(":", "_").replace("/", "_"), {"next": spec}, files)
        assert _findings(app) == [], spec


def test_upgrade_hint_skips_versions_that_later_advisories_affect(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next": "15.1.7"}, {"app/page.tsx": PAGE, "middleware.ts": MIDDLEWARE})
    (finding,) = _findings(app)
    # 15.5.16 fixed CVE-2026-44575 but not its Turbopack follow-up CVE-2026-45109 (fixed in 15.5.18).
    assert finding.message.endswith("upgrade to 15.5.18 or later")
    assert _ids(finding) == [
        "CVE-2025-29927",
        "CVE-2025-66478",
        "CVE-2025-55184",
        "CVE-2026-23864",
        "CVE-2026-23869",
        "CVE-2026-23870",
    ]


# ---- monorepos: the workspace lockfile sits above the app ------------------------------------------


def _workspace(tmp_path: Path, lockfile: str, text: str) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "package.json").write_text('{"name": "monorepo", "private": true, "workspaces": ["apps/*"]}\n')
    (repo / lockfile).write_text(text)
    return repo


def test_pnpm_workspace_lockfile_above_the_app(tmp_path: Path) -> None:
    lock = (
        "lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n\n  apps/web:\n    dependencies:\n      next:\n"
        "        specifier: ^15.0.0\n        version: 15.0.3(react-dom@19.0.0(react@19.0.0))(react@19.0.0)\n"
        "  apps/docs:\n    dependencies:\n      next:\n        specifier: 15.5.29\n        version: 15.5.29\n"
    )
    repo = _workspace(tmp_path, "pnpm-lock.yaml", lock)
    _app(repo / "apps" / "web", {"next": "^15.0.0"}, {"app/page.tsx": PAGE})
    _app(repo / "apps" / "docs", {"next": "15.5.29"}, {"app/page.tsx": PAGE})
    (finding,) = _findings(repo)
    assert (finding.path, finding.line) == ("apps/web/package.json", 5)
    assert finding.evidence == "next@15.0.3 (../../pnpm-lock.yaml)"
    assert finding.confidence.value == "high"


def test_npm_workspace_prefers_the_app_own_nested_copy(tmp_path: Path) -> None:
    lock = {
        "name": "monorepo",
        "lockfileVersion": 3,
        "packages": {
            "": {"workspaces": ["apps/*"]},
            "node_modules/next": {"version": "15.5.29"},
            "apps/shop/node_modules/next": {"version": "14.2.5"},
        },
    }
    repo = _workspace(tmp_path, "package-lock.json", json.dumps(lock, indent=2))
    app = _app(repo / "apps" / "shop", {"next": "^14.0.0"}, {"pages/index.tsx": PAGE})
    (finding,) = _findings(app)
    assert finding.evidence == "next@14.2.5 (../../package-lock.json)"
    assert _ids(finding) == ["CVE-2024-46982"]


def test_lockfiles_outside_the_repository_are_not_read(tmp_path: Path) -> None:
    outer_lock = {"lockfileVersion": 3, "packages": {"node_modules/next": {"version": "14.2.33"}}}
    (tmp_path / "package-lock.json").write_text(json.dumps(outer_lock))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = _app(repo, {"next": "^14.2.0"}, {"pages/index.tsx": PAGE})
    (finding,) = _findings(app)
    assert finding.evidence == "next@14.2.0 (lowest version the package.json range allows)"
    assert finding.confidence.value == "medium"
