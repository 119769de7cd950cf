"""Builders shared by the obligations tests: facts from a small base plus dotted overrides."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from leakline.obligations import Assessment, Facts, Obligation, assess, parse_facts
from leakline.obligations.facts import people_listed

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

BASE: dict[str, Any] = {
    "aware_at": "2025-06-02T10:00:00+00:00",  # a Monday
    "controller": {"establishments": ["DE"], "role": "controller", "sector": "retail", "size": "large"},
    "breach": {"types": ["confidentiality"], "cause": "hacking", "malicious": True, "exfiltration": "confirmed"},
    "data": {"categories": ["identity", "contact"], "subjects": 100, "subjects_by_jurisdiction": {}},
}


def facts(**overrides: Any) -> Facts:
    """BASE with overrides given as dotted paths: facts(**{"data.subjects": 5, "breach.malicious": False})."""
    data = copy.deepcopy(BASE)
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    if "data.subjects" not in overrides:
        # BASE's 100 people is a placeholder: a breakdown naming more people than that (501 Californians)
        # means that many people are affected, and facts whose breakdown exceeds data.subjects are refused.
        listed = people_listed(data["data"]["subjects_by_jurisdiction"])
        data["data"]["subjects"] = max(data["data"]["subjects"], listed)
    return parse_facts(data, source="test")


DELETE = object()


def run(**overrides: Any) -> Assessment:
    return assess(facts(**overrides), now=NOW)


def get(assessment: Assessment, regime: str, jurisdiction: str, recipient: str) -> Obligation:
    matches = [
        o
        for o in assessment.obligations
        if (o.regime, o.jurisdiction, o.recipient) == (regime, jurisdiction, recipient)
    ]
    assert len(matches) == 1, f"{regime}/{jurisdiction}/{recipient}: {len(matches)} matches"
    return matches[0]


def required(assessment: Assessment, prefix: str = "") -> set[tuple[str, str, str]]:
    return {
        (o.regime, o.jurisdiction, o.recipient)
        for o in assessment.obligations
        if o.required and o.regime.startswith(prefix)
    }


def considered(assessment: Assessment, prefix: str = "") -> set[tuple[str, str, str]]:
    return {(o.regime, o.jurisdiction, o.recipient) for o in assessment.obligations if o.regime.startswith(prefix)}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
