"""End to end: the example shop's full finding list is pinned by the `ruleid:` annotations in its files
(and expected.txt for files without comments). Every rule fires there at least once."""

from __future__ import annotations

from pathlib import Path

from leakline.scan.engine import scan
from leakline.scan.rules import registry
from tests.conftest import REPO
from tests.scan.annotations import expected_findings

SHOP = REPO / "examples" / "vulnerable-shop"


def _expected_all_rules(app: Path) -> set[tuple[str, str, int]]:
    return {(rule, path, line) for rule in registry() for path, line in expected_findings(app, rule)}


def test_example_shop_full_finding_list() -> None:
    result = scan(SHOP)
    assert result.stats.rule_errors == []
    found = {(f.rule, f.path, f.line) for f in result.findings if f.suppressed is None}
    assert sorted(found) == sorted(_expected_all_rules(SHOP))


def test_every_rule_fires_in_the_example_shop() -> None:
    fired = {rule for rule, _, _ in _expected_all_rules(SHOP)}
    assert fired == set(registry())
