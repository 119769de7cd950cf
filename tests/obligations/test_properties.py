"""Properties of assess() over generated facts: pure, deterministic, well-formed, and monotone in the facts
that can only make a breach worse or better."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.obligations import assess, parse_facts
from leakline.obligations.errors import FactsValidationError
from leakline.obligations.regimes import REGIME_IDS
from leakline.obligations.risk import RISK_ORDER
from tests.obligations.helpers import facts

NOW = datetime(2026, 11, 26, tzinfo=UTC)
CATEGORIES = [
    "identity", "contact", "address", "date-of-birth", "financial", "payment-card", "credentials",
    "password-hashes", "government-id", "special-category", "health", "children", "location", "prompts",
    "model-outputs", "model-weights", "business",
]
PLACES = ["DE", "FR", "IE", "GB", "CH", "BR", "SG", "AU", "CA", "CA-QC", "JP", "KR", "CN", "IN",
          "US-CA", "US-NY", "US-TX", "US-FL", "US-CO", "US-WA"]


@st.composite
def any_fact_sets(draw: st.DrawFn) -> dict[str, Any]:
    aware = draw(st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)))
    places = draw(st.dictionaries(st.sampled_from(PLACES), st.integers(0, 20_000), max_size=6))
    return {
        "aware_at": aware.isoformat(),
        "controller": {
            "establishments": draw(st.lists(st.sampled_from(["DE", "IE", "US", "GB", "SG", "BR"]), min_size=1, max_size=2)),
            "role": draw(st.sampled_from(["controller", "processor"])),
            "sector": draw(st.sampled_from(["retail", "online-marketplace", "healthcare", "finance", "energy"])),
            "size": draw(st.sampled_from(["micro", "small", "medium", "large"])),
            "sec_registrant": draw(st.booleans()),
        },
        "breach": {
            "types": draw(st.lists(st.sampled_from(["confidentiality", "integrity", "availability"]), min_size=1, unique=True)),
            "cause": draw(st.sampled_from(["ransomware", "hacking", "misdelivery", "theft", "llm-output-leak", "unknown"])),
            "malicious": draw(st.booleans()),
            "exfiltration": draw(st.sampled_from(["confirmed", "likely", "ruled-out", "unknown"])),
            "materiality": draw(st.sampled_from(["material", "not-material", "undetermined"])),
        },
        "data": {
            "categories": draw(st.lists(st.sampled_from(CATEGORIES), unique=True, max_size=5)),
            "subjects": sum(places.values()) or draw(st.integers(0, 50_000)),
            "subjects_by_jurisdiction": places,
            "vulnerable_subjects": draw(st.booleans()),
            "protection": {
                "encrypted": draw(st.booleans()),
                "key_compromised": draw(st.booleans()),
                "hashing": draw(st.sampled_from(["strong", "weak", "none"])),
            },
        },
        "containment": {
            "availability_restored_after_hours": draw(st.none() | st.floats(0, 500)),
            "operational_impact": draw(st.sampled_from(["none", "minor", "significant"])),
            "recipient_trusted": draw(st.booleans()),
            "data_retrieved_or_deleted": draw(st.booleans()),
            "misuse_observed": draw(st.booleans()),
        },
        "ai_system": {"high_risk": draw(st.booleans()), "role": draw(st.sampled_from(["provider", "deployer"]))},
    }


@st.composite
def fact_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Valid facts: an LLM answer is plain text, so it is never `encrypted` (such facts are refused)."""
    data = draw(any_fact_sets())
    if data["breach"]["cause"] == "llm-output-leak":
        data["data"]["protection"]["encrypted"] = False
    return data


@settings(max_examples=60, deadline=None)
@given(data=fact_sets())
def test_assessment_is_deterministic_and_well_formed(data: dict[str, Any]) -> None:
    facts = parse_facts(data, source="generated")
    first, second = assess(facts, now=NOW), assess(facts, now=NOW)
    assert first == second
    keys = [(o.regime, o.jurisdiction, o.recipient) for o in first.obligations]
    assert len(keys) == len(set(keys))
    assert {o.regime for o in first.obligations} <= set(REGIME_IDS)
    for obligation in first.obligations:
        if obligation.due_at is not None:
            assert obligation.required
            assert obligation.due_at > facts.aware_at or obligation.due_at > facts.determination
        assert obligation.content
    dues = [o.due_at for o in first.obligations if o.due_at is not None]
    assert dues == sorted(dues)
    assert first.reasons


def _worse(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "containment": {**data["containment"], "misuse_observed": True}}


@settings(max_examples=40, deadline=None)
@given(data=fact_sets())
def test_observed_misuse_never_lowers_the_risk(data: dict[str, Any]) -> None:
    base = assess(parse_facts(data, source="g"), now=NOW).risk
    worse = assess(parse_facts(_worse(data), source="g"), now=NOW).risk
    assert RISK_ORDER[worse] >= RISK_ORDER[base]


@settings(max_examples=40, deadline=None)
@given(data=fact_sets())
def test_safe_encryption_never_raises_the_risk(data: dict[str, Any]) -> None:
    plain = {**data, "data": {**data["data"], "protection": {"encrypted": False, "hashing": "none"}}}
    safe = {**data, "data": {**data["data"], "protection": {"encrypted": True, "key_compromised": False}}}
    if data["breach"]["cause"] == "llm-output-leak":
        with pytest.raises(FactsValidationError, match=r"^g: data\.protection\.encrypted: true contradicts"):
            parse_facts(safe, source="g")
        return
    assert RISK_ORDER[assess(parse_facts(safe, source="g"), now=NOW).risk] <= RISK_ORDER[
        assess(parse_facts(plain, source="g"), now=NOW).risk
    ]


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess(facts(), now=datetime(2026, 1, 1))
