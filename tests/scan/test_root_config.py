"""A leakline.toml at the scanned root of a monorepo (a folder that is no app): every app's default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakline.errors import ConfigError
from leakline.findings import Severity
from leakline.scan.command import run_scan
from leakline.scan.engine import scan
from tests.scan.test_cli import LOGGING_ROUTE


def _monorepo(root: Path, own: dict[str, str]) -> Path:
    """apps/admin and apps/storefront, each logging an LLM answer in app/api/chat, app/legacy and
    app/generated; `own` gives the apps that have a leakline.toml of their own."""
    for name in ("admin", "storefront"):
        app = root / "apps" / name
        for folder in ("app/api/chat", "app/legacy", "app/generated"):
            (app / folder).mkdir(parents=True)
            (app / folder / "route.ts").write_text(LOGGING_ROUTE)
        (app / "package.json").write_text(json.dumps({"dependencies": {"next": "15.2.4", "openai": "4.77.0"}}))
        if name in own:
            (app / "leakline.toml").write_text(own[name])
    (root / "package.json").write_text('{"private": true, "workspaces": ["apps/*"]}')
    return root


ROOT_TOML = """[scan]
fail_on = "medium"
disable_rules = ["LL006"]
exclude = ["apps/storefront/app/legacy/**", "**/generated/**"]
"""


def test_a_root_file_is_the_default_of_every_app_without_its_own(tmp_path: Path) -> None:
    root = _monorepo(tmp_path, {"admin": '[scan]\nfail_on = "critical"\n'})
    (root / "leakline.toml").write_text(ROOT_TOML)
    result = scan(root, rule_ids=["LL006", "LL007"])
    by_app = {app.prefix: app.settings for app in result.apps}
    assert by_app["apps/storefront"].source == str(root / "leakline.toml")
    assert by_app["apps/storefront"].scan.fail_on == "medium"
    assert by_app["apps/storefront"].scan.disable_rules == ["LL006"]
    # Paths in the root file are relative to the root: the pattern naming apps/storefront applies there only,
    # the wildcard one everywhere.
    assert by_app["apps/storefront"].scan.exclude == ["app/legacy/**", "**/generated/**"]
    # An app with its own file uses that file alone.
    assert by_app["apps/admin"].source == str(root / "apps/admin/leakline.toml")
    assert by_app["apps/admin"].scan.fail_on == "critical"
    assert result.thresholds() == {"apps/admin": Severity.CRITICAL, "apps/storefront": Severity.MEDIUM}
    # `--rule LL006` asks for LL006 explicitly; without it the root file switches it off in apps/storefront.
    result = scan(root, rule_ids=None)
    assert result.stats.disabled_rules == {"LL006": ["leakline.toml: scan.disable_rules"]}
    assert sorted((f.rule, f.path) for f in result.findings if f.rule in ("LL006", "LL007")) == [
        ("LL006", "apps/admin/app/api/chat/route.ts"),
        ("LL006", "apps/admin/app/generated/route.ts"),
        ("LL006", "apps/admin/app/legacy/route.ts"),
        ("LL007", "apps/admin/app/api/chat/route.ts"),
        ("LL007", "apps/admin/app/generated/route.ts"),
        ("LL007", "apps/admin/app/legacy/route.ts"),
        ("LL007", "apps/storefront/app/api/chat/route.ts"),
    ]


def test_the_root_baseline_is_written_and_read_once_for_the_apps_that_inherit_it(tmp_path: Path) -> None:
    root = _monorepo(tmp_path, {})
    (root / "leakline.toml").write_text('[scan]\nbaseline = "ci/leakline-baseline.json"\n')
    (root / "ci").mkdir()
    assert run_scan(root, write_baseline=True, rule=["LL007"], progress=False, cache=False) == 0
    assert {app.prefix: app.settings.scan.baseline for app in scan(root, rule_ids=["LL007"]).apps} == {
        "apps/admin": "../../ci/leakline-baseline.json",
        "apps/storefront": "../../ci/leakline-baseline.json",
    }
    written = json.loads((root / "ci/leakline-baseline.json").read_text())
    assert sorted({entry["app"] for entry in written["findings"]}) == ["../apps/admin", "../apps/storefront"]
    result = scan(root, rule_ids=["LL007"])
    assert len(result.findings) == 6
    assert [f.path for f in result.findings if f.suppressed != "baseline"] == []


@pytest.mark.parametrize("own", [{}, {"admin": "", "storefront": ""}])
def test_an_invalid_root_file_stops_the_scan_naming_file_and_key(tmp_path: Path, own: dict[str, str]) -> None:
    root = _monorepo(tmp_path, own)
    (root / "leakline.toml").write_text('[scan]\nfail_on = "medium"\nnot_a_key = true\n')
    with pytest.raises(ConfigError) as caught:
        scan(root, rule_ids=["LL007"])
    assert str(caught.value).startswith(f"{root / 'leakline.toml'}: scan.not_a_key: ")


def test_the_file_of_an_app_at_the_root_stays_that_apps_own(tmp_path: Path) -> None:
    root = _monorepo(tmp_path, {})
    (root / "package.json").write_text(json.dumps({"dependencies": {"next": "15.2.4"}}))
    (root / "leakline.toml").write_text('[scan]\nfail_on = "low"\n')
    result = scan(root, rule_ids=["LL007"])
    assert {app.prefix: app.settings.scan.fail_on for app in result.apps} == {
        ".": "low",
        "apps/admin": "high",
        "apps/storefront": "high",
    }
