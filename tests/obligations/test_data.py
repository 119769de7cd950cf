"""The regime data files: every fixed regime id present, every rule sourced, broken data rejected by name."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from leakline.obligations.errors import RegimeDataError
from leakline.obligations.regimes import REGIME_IDS, RegimeSpec, load_regime_files, load_regimes

EXPECTED_RECIPIENTS = {
    "gdpr-33": {"supervisory-authority"},
    "gdpr-34": {"data-subjects"},
    "gdpr-33-5": {"internal-record"},
    "nis2-23-early-warning": {"csirt"},
    "ai-act-73": {"market-surveillance-authority"},
    "au-ndb": {"supervisory-authority", "data-subjects", "internal-record"},
    "us-ca-1798-82": {"data-subjects", "attorney-general"},
    "us-ny-899-aa": {"data-subjects", "attorney-general", "consumer-reporting-agencies"},
    "sec-8k-1-05": {"public-filing"},
}


def test_every_fixed_regime_id_has_rules_with_article_source_and_review_date() -> None:
    regimes = load_regimes()
    rules = [rule for regime in regimes for rule in regime.rules]
    assert {rule.id for rule in rules} == set(REGIME_IDS)
    for regime in regimes:
        assert regime.sources and all(url.startswith("https://") for url in regime.sources), regime.id
        assert regime.last_reviewed.isoformat() == "2026-11-26"
    for rule in rules:
        assert rule.basis and rule.deadline and rule.content, rule.id
        assert rule.source.startswith("https://"), rule.id


def test_recipients_per_regime() -> None:
    recipients: dict[str, set[str]] = {}
    for regime in load_regimes():
        for rule in regime.rules:
            recipients.setdefault(rule.id, set()).add(rule.recipient)
    for regime_id, expected in EXPECTED_RECIPIENTS.items():
        assert recipients[regime_id] == expected, regime_id


def _minimal(**rule: Any) -> dict[str, Any]:
    base_rule = {
        "id": "gdpr-33",
        "recipient": "supervisory-authority",
        "authority": "x",
        "basis": "Art. 1",
        "source": "https://example.org/law",
        "deadline": "soon",
        "content": ["facts"],
    }
    return {
        "id": "t",
        "name": "test",
        "scope": "eu-eea",
        "last_reviewed": date(2026, 1, 1),
        "sources": ["https://example.org"],
        "rules": [{**base_rule, **rule}],
    }


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"id": "gdpr-99"}, "rules.0.id"),
        ({"recipient": "press"}, "rules.0.recipient"),
        ({"source": "http://insecure.example"}, "rules.0.source"),
        ({"clock": {"anchor": "awareness"}}, "rules.0.clock"),
        ({"clock": {"anchor": "awareness", "hours": 1, "days": 2}}, "rules.0.clock"),
        ({"clock": {"anchor": "awareness", "business_days": 3}}, "rules.0.clock"),
        ({"clock": {"anchor": "yesterday", "hours": 1}}, "rules.0.clock"),
        ({"surprise": True}, "rules.0.surprise"),
    ],
)
def test_malformed_rules_are_rejected_naming_the_field(rule: dict[str, Any], field: str) -> None:
    data = _minimal(**rule)
    with pytest.raises(ValidationError) as caught:
        RegimeSpec.model_validate(data)
    locations = {".".join(str(p) for p in error["loc"]) for error in caught.value.errors()}
    assert field in locations


def test_every_condition_that_reads_params_is_memoised_per_regime() -> None:
    import inspect
    import re

    from leakline.obligations.predicates import CONDITIONS, USES_PARAMS

    def reads(name: str) -> bool:
        source = inspect.getsource(type(CONDITIONS[name]))
        if re.search(r"params\[|params\.get", source):
            return True
        callees = set(re.findall(r'CONDITIONS\["([a-z0-9-]+)"\]\.check\(ctx, j, [^)]*params\)', source)) - {name}
        return any(reads(callee) for callee in callees)

    assert {name for name in CONDITIONS if reads(name)} == USES_PARAMS
    assert {
        "covered-pi", "pdpa-notifiable", "pdpa-significant-harm", "lgpd-relevant", "appi-reportable",
        "pipa-report", "nis2-significant", "ai-serious-incident", "ai-critical-infrastructure",
    } == USES_PARAMS


GOOD_RULE = """
id = "t"
name = "test law"
scope = "eu-eea"
last_reviewed = 2026-01-01
sources = ["https://example.org"]
[params]
with_name = ["health@2025-03-25"]
[[rules]]
id = "gdpr-33"
recipient = "supervisory-authority"
authority = "x"
basis = "Art. 1"
source = "https://example.org/law"
deadline = "soon"
content = ["facts"]
requires = ["personal-data"]
"""


def test_a_valid_folder_loads(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text(GOOD_RULE)
    (tmp_path / "README.txt").write_text("not a regime")
    (regime,) = load_regime_files(tmp_path)
    assert (regime.id, regime.rules[0].requires) == ("t", ("personal-data",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id = = 1", "regimes/t.toml: invalid TOML: "),
        (GOOD_RULE.replace('"personal-data"', '"personal-dta"'), "regimes/t.toml: unknown condition 'personal-dta'"),
        (GOOD_RULE.replace("@2025-03-25", "@2025-13-01"), "regimes/t.toml: params.with_name: 'health@2025-13-01'"),
        (GOOD_RULE.replace('scope = "eu-eea"', 'scope = "mars"'), "regimes/t.toml: scope: expected one of"),
    ],
)
def test_a_broken_regime_file_is_rejected_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "t.toml").write_text(text)
    with pytest.raises(RegimeDataError) as caught:
        load_regime_files(tmp_path)
    assert caught.value.message.startswith(message)
