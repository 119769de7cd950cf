"""Every rule against its fixture pair: the vulnerable app yields exactly the annotated findings
(rule, file, line), the safe look-alike yields none."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.scan.engine import scan
from leakline.scan.rules import available_rule_ids
from tests.scan.annotations import expected_findings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"


def _found(app: Path, rule: str) -> set[tuple[str, int]]:
    result = scan(app, rule_ids=[rule])
    assert result.stats.rule_errors == []
    return {(f.path, f.line) for f in result.findings if f.rule == rule and f.suppressed is None}


@pytest.mark.parametrize("rule", available_rule_ids())
def test_vulnerable_fixture_yields_exactly_the_annotated_findings(rule: str) -> None:
    app = FIXTURES / rule / "vulnerable"
    expected = expected_findings(app, rule)
    assert expected, f"{app} has no `ruleid: {rule}` annotation"
    assert _found(app, rule) == expected


@pytest.mark.parametrize("rule", available_rule_ids())
def test_safe_lookalike_yields_nothing(rule: str) -> None:
    app = FIXTURES / rule / "safe"
    assert _found(app, rule) == expected_findings(app, rule) == set()
