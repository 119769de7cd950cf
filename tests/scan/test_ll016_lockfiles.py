"""LL016 reads what is installed: a monorepo app whose package.json names no version (`catalog:`, `latest`,
`workspace:*`) is judged by the workspace lockfile above it, or by its pnpm catalog; lockfiles are read
whatever `[scan] max_file_bytes` says, up to a hard cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakline.findings import Finding
from leakline.scan import engine, lockfiles
from leakline.scan.engine import scan

PAGE = "export default function Page() { return null; }\n"
CRITICAL = "CVE-2025-66478"
"""App Router RCE: next 15.1.0 (below 15.1.9) is in range, 16.2.6 is not."""


def _findings(root: Path) -> list[Finding]:
    result = scan(root, rule_ids=["LL016"])
    assert result.stats.rule_errors == []
    return result.findings


def _app(folder: Path, next_spec: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"name": folder.name, "private": True, "dependencies": {"react": "19.0.0", "next": next_spec}}
    (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (folder / "app").mkdir(exist_ok=True)
    (folder / "app" / "page.tsx").write_text(PAGE)
    return folder


NEXT_LINE = 6
"""The line of `"next": ...` in the package.json `_app` writes."""


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "package.json").write_text('{"name": "monorepo", "private": true, "workspaces": ["apps/*"]}\n')
    for rel, text in files.items():
        (repo / rel).write_text(text)
    return repo


def _pnpm_lock(spec: str, version: str) -> str:
    return (
        "lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n\n  apps/web:\n    dependencies:\n      next:\n"
        f"        specifier: '{spec}'\n        version: {version}(react-dom@19.0.0(react@19.0.0))(react@19.0.0)\n"
        "      react:\n        specifier: 19.0.0\n        version: 19.0.0\n\n"
        f"packages:\n\n  next@{version}:\n    resolution: {{integrity: sha512-x}}\n"
    )


# ---- 1. non-version specifiers in a monorepo ---------------------------------------------------------


@pytest.mark.parametrize("spec", ["catalog:", "catalog:react19", "latest", "canary", "*", "workspace:*"])
def test_a_spec_that_is_no_version_is_resolved_from_the_workspace_pnpm_lock(tmp_path: Path, spec: str) -> None:
    repo = _repo(tmp_path, {"pnpm-lock.yaml": _pnpm_lock(spec, "15.1.0")})
    _app(repo / "apps" / "web", spec)
    (finding,) = _findings(repo)
    assert (finding.rule, finding.path, finding.line) == ("LL016", "apps/web/package.json", NEXT_LINE)
    assert finding.evidence == "next@15.1.0 (../../pnpm-lock.yaml)"
    assert finding.message.startswith(f"next 15.1.0 is affected by {CRITICAL}")
    assert (finding.severity.value, finding.confidence.value) == ("critical", "high")


def test_a_catalog_pinned_to_a_patched_version_in_the_workspace_lock_is_not_a_finding(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"pnpm-lock.yaml": _pnpm_lock("catalog:", "16.2.6")})
    _app(repo / "apps" / "web", "catalog:")
    assert _findings(repo) == []


@pytest.mark.parametrize("nested", [False, True])
def test_latest_in_an_npm_workspace_reads_the_root_package_lock(tmp_path: Path, nested: bool) -> None:
    packages: dict[str, object] = {"": {"workspaces": ["apps/*"]}, "node_modules/next": {"version": "15.1.0"}}
    if nested:
        # The app's own copy wins over the hoisted one.
        packages["node_modules/next"] = {"version": "16.2.6"}
        packages["apps/web/node_modules/next"] = {"version": "15.1.0"}
    lock = {"name": "monorepo", "lockfileVersion": 3, "packages": packages}
    repo = _repo(tmp_path, {"package-lock.json": json.dumps(lock, indent=2)})
    _app(repo / "apps" / "web", "latest")
    (finding,) = _findings(repo)
    assert (finding.rule, finding.path, finding.line) == ("LL016", "apps/web/package.json", NEXT_LINE)
    assert finding.evidence == "next@15.1.0 (../../package-lock.json)"


def test_a_yarn_workspace_lock_gives_each_app_the_entry_of_its_own_range(tmp_path: Path) -> None:
    lock = (
        '# yarn lockfile v1\n\n\nnext@^16.0.0:\n  version "16.2.6"\n\n'
        'next@latest:\n  version "15.1.0"\n  dependencies:\n    version "1.0.0"\n'
    )
    repo = _repo(tmp_path, {"yarn.lock": lock})
    _app(repo / "apps" / "web", "latest")
    _app(repo / "apps" / "docs", "^16.0.0")
    (finding,) = _findings(repo)
    assert (finding.rule, finding.path, finding.line) == ("LL016", "apps/web/package.json", NEXT_LINE)
    assert finding.evidence == "next@15.1.0 (../../yarn.lock)"


def test_a_pnpm_catalog_is_read_when_there_is_no_lockfile(tmp_path: Path) -> None:
    workspace = (
        "packages:\n  - apps/*\ncatalog:\n  next: 15.1.0\n  react: 19.0.0\n"
        "catalogs:\n  next15:\n    next: ^15.0.0\n  current:\n    next: 16.2.6\n"
    )
    repo = _repo(tmp_path, {"pnpm-workspace.yaml": workspace})
    _app(repo / "apps" / "web", "catalog:")
    _app(repo / "apps" / "admin", "catalog:next15")
    _app(repo / "apps" / "docs", "catalog:current")  # look-alike: a catalog pinned outside every advisory range
    admin, web = _findings(repo)
    assert (web.rule, web.path, web.line) == ("LL016", "apps/web/package.json", NEXT_LINE)
    assert web.evidence == "next@15.1.0 (../../pnpm-workspace.yaml catalog)"
    assert (web.severity.value, web.confidence.value) == ("critical", "high")
    assert (admin.rule, admin.path, admin.line) == ("LL016", "apps/admin/package.json", NEXT_LINE)
    assert admin.evidence == "next@15.0.0 (lowest version the ../../pnpm-workspace.yaml catalog range allows)"
    assert admin.confidence.value == "medium"


def test_a_catalog_of_another_name_or_a_missing_entry_gives_no_version(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"pnpm-workspace.yaml": "packages:\n  - apps/*\ncatalog:\n  react: 19.0.0\n"})
    _app(repo / "apps" / "web", "catalog:")
    _app(repo / "apps" / "docs", "catalog:missing")
    assert _findings(repo) == []


# ---- 3. lockfiles over max_file_bytes ---------------------------------------------------------------


def _npm_lock(entries: int, extra: dict[str, str]) -> str:
    packages: dict[str, object] = {"": {"dependencies": {"next": "^15.0.0"}}}
    for i in range(entries):
        packages[f"node_modules/pkg-{i}"] = {"version": f"1.0.{i}", "integrity": "sha512-" + "A" * 86}
    packages.update({f"node_modules/{name}": {"version": version} for name, version in extra.items()})
    return json.dumps({"name": "shop", "lockfileVersion": 3, "packages": packages}, indent=2)


def test_a_lockfile_over_max_file_bytes_is_still_read(tmp_path: Path) -> None:
    app = _app(tmp_path / "shop", "^15.0.0")
    (app / "leakline.toml").write_text("[scan]\nmax_file_bytes = 1000\n")
    text = _npm_lock(200, {"next": "15.1.0", "react-server-dom-webpack": "19.0.0"})
    assert len(text) > 20_000
    (app / "package-lock.json").write_text(text)
    result = scan(app, rule_ids=["LL016"])
    assert result.stats.skipped_files == []
    assert dict(result.stats.skipped) == {}
    rsc, declared = result.findings
    assert (declared.rule, declared.path, declared.line) == ("LL016", "package.json", NEXT_LINE)
    assert declared.evidence == "next@15.1.0 (package-lock.json)"
    rsc_line = text.splitlines().index('    "node_modules/react-server-dom-webpack": {') + 1
    assert (rsc.rule, rsc.path, rsc.line, rsc.column) == ("LL016", "package-lock.json", rsc_line, 5)
    assert rsc.evidence == "react-server-dom-webpack@19.0.0 (package-lock.json)"


def test_a_lockfile_over_the_hard_cap_is_skipped_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path / "shop", "^15.0.0")
    (app / "package-lock.json").write_text(_npm_lock(20, {"next": "16.2.6"}))
    monkeypatch.setattr(engine, "LOCKFILE_MAX_BYTES", 1000)
    monkeypatch.setattr(lockfiles, "LOCKFILE_MAX_BYTES", 1000)
    result = scan(app, rule_ids=["LL016"])
    assert result.stats.skipped_files == [("package-lock.json", "lockfile larger than 256 MB")]
    assert dict(result.stats.skipped) == {"lockfile larger than 256 MB": 1}
    # Unread, the lockfile's patched 16.2.6 is unknown: the package.json range is judged, with medium confidence.
    (finding,) = result.findings
    assert finding.evidence == "next@15.0.0 (lowest version the package.json range allows)"
    assert finding.confidence.value == "medium"


def test_a_workspace_lockfile_over_the_hard_cap_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Named once, though each of the two apps below it would have read it."""
    repo = _repo(tmp_path, {"pnpm-lock.yaml": _pnpm_lock("latest", "15.1.0") + "#" * 2000 + "\n"})
    _app(repo / "apps" / "web", "latest")
    _app(repo / "apps" / "docs", "latest")
    monkeypatch.setattr(lockfiles, "LOCKFILE_MAX_BYTES", 1000)
    result = scan(repo, rule_ids=["LL016"])
    assert result.findings == []
    assert result.stats.skipped_files == [("pnpm-lock.yaml", "lockfile larger than 256 MB")]
    assert dict(result.stats.skipped) == {"lockfile larger than 256 MB": 1}


def test_the_root_lockfile_of_a_monorepo_is_parsed_once_for_all_its_apps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path, {"pnpm-lock.yaml": _pnpm_lock("latest", "15.1.0")})
    _app(repo / "apps" / "web", "latest")
    _app(repo / "apps" / "docs", "latest")
    parsed: list[str] = []
    real = lockfiles._parse

    def counting(filename: str, data: bytes) -> object:
        parsed.append(filename)
        return real(filename, data)

    monkeypatch.setattr(lockfiles, "_LOCK_CACHE", {})
    monkeypatch.setattr(lockfiles, "_parse", counting)
    findings = _findings(repo)
    assert [f.path for f in findings] == ["apps/web/package.json"]  # apps/docs has no importer entry
    assert parsed == ["pnpm-lock.yaml"]
