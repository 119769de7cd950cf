"""Facts that contradict themselves are refused with one line naming both fields (exit 2), rather than assessed
into duties that are wrong: encrypted LLM output (review R3 item 4), a breakdown by jurisdiction larger than
`data.subjects` (item 5); and when the breach occurred, optional, for the notices (item 8)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leakline.obligations import assess, parse_facts
from leakline.obligations.errors import FactsValidationError
from leakline.obligations.facts import people_listed
from tests.obligations.helpers import NOW

# The reviewer's facts (fenc.json): a malicious prompt-injection theft whose data the DPO marked "encrypted".
REVIEW: dict[str, Any] = {
    "aware_at": "2026-11-26T14:30:00+01:00",
    "controller": {"establishments": ["DE"], "sector": "online-marketplace", "size": "medium"},
    "breach": {"types": ["confidentiality"], "cause": "llm-output-leak", "malicious": True, "exfiltration": "confirmed"},
    "data": {
        "categories": ["identity", "contact", "address", "payment-card", "prompts"],
        "subjects": 1700,
        "records": 5400,
        "subject_categories": ["Kundinnen und Kunden"],
        "subjects_by_jurisdiction": {"DE": 650, "FR": 250, "AT": 120, "NL": 80, "US-CA": 600},
        "protection": {"encrypted": True, "key_compromised": False, "hashing": "none"},
    },
}
ENCRYPTED_LLM = (
    "f: data.protection.encrypted: true contradicts breach.cause 'llm-output-leak': an LLM answer reaches its "
    "reader as plain text, so the encryption exemptions cannot apply; `encrypted` describes the data as it left "
    "(set it to false, or correct breach.cause if encrypted data was taken some other way)"
)


def _facts(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(REVIEW)
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return data


def _refused(data: dict[str, Any]) -> str:
    with pytest.raises(FactsValidationError) as caught:
        parse_facts(data, source="f")
    return caught.value.message


# --- item 4: LLM output is never "encrypted" ----------------------------------------------------------


def test_encrypted_llm_output_is_refused_naming_both_fields() -> None:
    assert _refused(_facts()) == ENCRYPTED_LLM
    # Whatever else the facts say: a compromised key changes nothing about the contradiction.
    assert _refused(_facts(data__protection={"encrypted": True, "key_compromised": True})) == ENCRYPTED_LLM


def test_the_same_leak_without_the_encryption_flag_keeps_every_duty() -> None:
    assessment = assess(parse_facts(_facts(data__protection={"encrypted": False}), source="f"), now=NOW)
    assert assessment.risk == "high"
    required = {(o.regime, o.jurisdiction, o.recipient) for o in assessment.obligations if o.required}
    assert {("gdpr-33", "DE", "supervisory-authority"), ("gdpr-34", "EU", "data-subjects"),
            ("us-ca-1798-82", "US-CA", "data-subjects")} <= required  # fmt: skip


def test_an_encrypted_backup_stolen_by_other_means_stays_valid_and_exempt() -> None:
    facts = parse_facts(_facts(breach__cause="theft"), source="f")
    assert facts.data.protection.encrypted
    assessment = assess(facts, now=NOW)
    assert assessment.risk == "none"
    assert "confidentiality: the data is unintelligible (encrypted with a safe key or strongly hashed)" in (
        assessment.reasons
    )


def test_assess_exits_2_with_the_message_and_no_traceback(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    path = tmp_path / "fenc.json"
    path.write_text(json.dumps(_facts()), encoding="utf-8")
    code, out, err = cli("assess", str(path))
    assert (code, out) == (2, "")
    assert err.strip() == ENCRYPTED_LLM.replace("f: ", f"{path}: ", 1)


# --- item 5: the breakdown by jurisdiction fits in data.subjects --------------------------------------


@pytest.mark.parametrize(
    ("subjects", "by_jurisdiction", "message"),
    [
        (1200, REVIEW["data"]["subjects_by_jurisdiction"],
         "f: data.subjects_by_jurisdiction: the people listed per jurisdiction add up to 1,700 (DE 650, FR 250, "
         "AT 120, NL 80, US-CA 600), more than data.subjects (1,200); data.subjects counts everyone affected: "
         "raise it to at least 1,700 or correct the breakdown"),
        (10, {"US-CA": 600},
         "f: data.subjects_by_jurisdiction: the people listed per jurisdiction add up to 600 (US-CA 600), more "
         "than data.subjects (10); data.subjects counts everyone affected: raise it to at least 600 or correct "
         "the breakdown"),
        (10, {"CA-QC": 3, "US-CA": 8},
         "f: data.subjects_by_jurisdiction: the people listed per jurisdiction add up to 11 (CA-QC 3, US-CA 8), "
         "more than data.subjects (10); data.subjects counts everyone affected: raise it to at least 11 or "
         "correct the breakdown"),
    ],
)  # fmt: skip
def test_a_breakdown_larger_than_subjects_is_refused_naming_both_fields(
    subjects: int, by_jurisdiction: dict[str, int], message: str
) -> None:
    data = _facts(data__protection={}, data__subjects=subjects, data__subjects_by_jurisdiction=by_jurisdiction)
    assert _refused(data) == message


@pytest.mark.parametrize(
    ("by_jurisdiction", "listed"),
    [
        ({"DE": 650, "FR": 250, "AT": 120, "NL": 80, "US-CA": 600}, 1700),
        ({"CA": 10, "CA-QC": 3}, 10),  # "CA" includes "CA-QC" (docs/assess.md)
        ({"CA": 2, "CA-QC": 3, "CA-ON": 4}, 7),  # a country smaller than its parts counts its parts
        ({"US-CA": 5, "US-NY": 6}, 11),
        ({}, 0),
    ],
)
def test_people_listed_counts_subdivisions_inside_their_country(by_jurisdiction: dict[str, int], listed: int) -> None:
    assert people_listed(by_jurisdiction) == listed


def test_a_breakdown_that_fits_is_accepted_up_to_equality() -> None:
    for subjects, by_jurisdiction in ((1700, REVIEW["data"]["subjects_by_jurisdiction"]), (10, {"CA": 10, "CA-QC": 3})):
        data = _facts(data__protection={}, data__subjects=subjects, data__subjects_by_jurisdiction=by_jurisdiction)
        assert parse_facts(data, source="f").data.subjects == subjects


def test_an_invalid_subjects_count_is_reported_alone() -> None:
    data = _facts(data__protection={}, data__subjects="1200")
    assert _refused(data) == "f: data.subjects: expected an integer, got '1200'"


# --- item 8: when the breach occurred ------------------------------------------------------------------


def test_occurrence_fields_are_optional_normalised_to_utc_and_round_trip() -> None:
    base = _facts(data__protection={})
    plain = parse_facts(base, source="f")
    assert "occurred_at" not in plain.model_dump(mode="json")
    at = parse_facts({**base, "occurred_at": "2026-11-25T23:10:00+01:00", "occurred_estimated": True}, source="f")
    assert (at.occurred_at.isoformat() if at.occurred_at else None, at.occurred_estimated) == (
        "2026-11-25T22:10:00+00:00", True
    )  # fmt: skip
    span = parse_facts(
        {**base, "occurred_from": "2026-11-20T00:00:00Z", "occurred_until": "2026-11-26T12:00:00Z"}, source="f"
    )
    dumped = span.model_dump(mode="json")
    assert (dumped["occurred_from"], dumped["occurred_until"]) == ("2026-11-20T00:00:00Z", "2026-11-26T12:00:00Z")
    assert "occurred_at" not in dumped and "occurred_estimated" not in dumped
    assert parse_facts(dumped, source="f") == span


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"occurred_at": "2026-11-25T10:00:00Z", "occurred_from": "2026-11-24T10:00:00Z"},
         "f: occurred_at: give either occurred_at (one moment) or occurred_from (a period), not both"),
        ({"occurred_until": "2026-11-25T10:00:00Z"},
         "f: occurred_until: needs occurred_from (the start of the period within which the breach occurred)"),
        ({"occurred_from": "2026-11-25T10:00:00Z", "occurred_until": "2026-11-24T10:00:00Z"},
         "f: occurred_until: 2026-11-24T10:00:00+00:00 is before occurred_from (2026-11-25T10:00:00+00:00)"),
        ({"occurred_at": "2026-11-27T10:00:00Z"},
         "f: occurred_at: 2026-11-27T10:00:00+00:00 is after aware_at (2026-11-26T13:30:00+00:00): nobody becomes "
         "aware of a breach before it happens"),
        ({"occurred_estimated": True},
         "f: occurred_estimated: needs occurred_at or occurred_from (the date it qualifies)"),
        ({"occurred_at": "2026-11-25"},
         "f: occurred_at: expected an ISO 8601 date-time with a UTC offset (e.g. +00:00 or Z), got '2026-11-25'"),
    ],
)  # fmt: skip
def test_inconsistent_occurrence_fields_are_named(patch: dict[str, Any], message: str) -> None:
    assert _refused({**_facts(data__protection={}), **patch}) == message
