"""Facts loading: JSON and TOML, stdin, defaults, and errors that name the field, type or byte offset."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leakline.obligations.errors import FactsFileError, FactsValidationError
from leakline.obligations.facts import decode_facts, load_facts
from tests.obligations.helpers import BASE

TOML_FACTS = """
aware_at = 2025-06-02T12:00:00+02:00

[controller]
establishments = ["FR"]

[breach]
types = ["confidentiality"]

[data]
categories = ["identity"]
subjects = 3
subjects_by_jurisdiction = { FR = 3 }
"""


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_json_file_is_parsed_and_times_normalised_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_bytes(_json({**BASE, "aware_at": "2025-06-02T12:00:00+02:00"}))
    facts = load_facts(str(path))
    assert facts.aware_at == datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    assert facts.discovery == facts.aware_at
    assert facts.determination == facts.aware_at
    assert facts.assessment == facts.aware_at
    assert facts.controller.establishments == ("DE",)
    assert facts.data.categories == frozenset({"identity", "contact"})
    assert facts.containment.availability_restored_after_hours is None
    assert facts.data.protection.hashing == "none"


def test_toml_file_with_native_datetime(tmp_path: Path) -> None:
    path = tmp_path / "facts.toml"
    path.write_text(TOML_FACTS)
    facts = load_facts(str(path))
    assert facts.aware_at == datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    assert facts.data.subjects_by_jurisdiction == {"FR": 3}


def test_a_toml_date_time_without_offset_is_shown_as_written(tmp_path: Path) -> None:
    # TOML reads `2025-06-02T10:00:00` as a local date-time: the message shows it as the user wrote it,
    # not as Python's repr.
    path = tmp_path / "facts.toml"
    path.write_text(TOML_FACTS.replace("2025-06-02T12:00:00+02:00", "2025-06-02T12:00:00"))
    with pytest.raises(FactsValidationError) as caught:
        load_facts(str(path))
    assert caught.value.message == (
        f"{path}: aware_at: expected an ISO 8601 date-time with a UTC offset (e.g. +00:00 or Z), "
        "got 2025-06-02T12:00:00 (a TOML local date-time: add the offset, e.g. 2025-06-02T12:00:00+02:00)"
    )


def test_an_impossible_date_says_what_is_wrong_with_it() -> None:
    with pytest.raises(FactsValidationError) as caught:
        decode_facts(_json({**BASE, "aware_at": "2025-02-30T10:00:00Z"}), source="f")
    assert caught.value.message == (
        "f: aware_at: expected an ISO 8601 date-time with a UTC offset (day is out of range for month), "
        "got '2025-02-30T10:00:00Z'"
    )


def test_stdin_is_sniffed_as_toml_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TOML_FACTS.encode())))
    assert load_facts("-").controller.establishments == ("FR",)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(_json(BASE))))
    assert load_facts("-").controller.establishments == ("DE",)


def test_determined_and_assessed_anchors_default_in_order() -> None:
    data = {**BASE, "determined_at": "2025-06-03T00:00:00Z"}
    facts = decode_facts(_json(data), source="f")
    assert facts.assessment == datetime(2025, 6, 3, tzinfo=UTC)
    data["assessed_at"] = "2025-06-04T00:00:00Z"
    assert decode_facts(_json(data), source="f").assessment == datetime(2025, 6, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"controller": {**BASE["controller"], "colour": "red"}}, "f: controller.colour: unknown field"),
        (
            {"data": {**BASE["data"], "subjects": "12"}},
            "f: data.subjects: expected an integer, got '12'",
        ),
        (
            {"breach": {**BASE["breach"], "malicious": "yes"}},
            "f: breach.malicious: expected a boolean (true or false), got 'yes'",
        ),
        (
            {"breach": {**BASE["breach"], "types": ["confidentiality", "leak"]}},
            "f: breach.types.1: expected one of 'confidentiality', 'integrity' or 'availability', got 'leak'",
        ),
        (
            {"aware_at": "2025-06-02T10:00:00"},
            "f: aware_at: expected an ISO 8601 date-time with a UTC offset (e.g. +00:00 or Z), got '2025-06-02T10:00:00'",
        ),
        (
            {"data": {**BASE["data"], "subjects_by_jurisdiction": {"de": 3}}},
            "f: data.subjects_by_jurisdiction.de.(key): expected an ISO 3166 code such as 'DE' or 'US-CA', got 'de'",
        ),
        (
            {"data": {**BASE["data"], "subjects": -1}},
            "f: data.subjects: expected a number >= 0, got -1",
        ),
        ({"breach": {**BASE["breach"], "types": []}}, "f: breach.types: "),
    ],
)
def test_validation_errors_name_the_field_and_expected_type(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(FactsValidationError) as caught:
        decode_facts(_json({**BASE, **patch}), source="f")
    assert caught.value.message.splitlines()[0].startswith(message)
    assert caught.value.exit_code == 2


def test_missing_required_sections_are_each_reported() -> None:
    with pytest.raises(FactsValidationError) as caught:
        decode_facts(b'{"aware_at": "2025-06-02T10:00:00Z"}', source="f")
    assert caught.value.message.splitlines() == [
        "f: controller: required field is missing",
        "f: breach: required field is missing",
        "f: data: required field is missing",
    ]


def test_invalid_json_names_the_byte_offset() -> None:
    raw = '{"aware_at": "é", '.encode()
    with pytest.raises(FactsFileError) as caught:
        decode_facts(raw, source="f.json", fmt="json")
    # "é" is two bytes in UTF-8, so the byte offset (19) differs from the character offset (18).
    assert caught.value.message.startswith("f.json: invalid JSON at byte offset 19 (line 1, column 19)")


def test_invalid_utf8_names_the_byte_offset() -> None:
    with pytest.raises(FactsFileError) as caught:
        decode_facts(b'{"a": "\xff"}', source="f")
    assert caught.value.message == "f: not valid UTF-8 at byte offset 7"


def test_invalid_toml_and_non_table_top_level() -> None:
    with pytest.raises(FactsFileError, match=r"^f: invalid TOML: "):
        decode_facts(b"aware_at = = 1", source="f", fmt="toml")
    with pytest.raises(FactsValidationError, match=r"^f: \(top level\): expected a table/object, got list$"):
        decode_facts(b"[1, 2]", source="f", fmt="json")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(FactsFileError, match="no such file"):
        load_facts(str(tmp_path / "absent.json"))


def test_eu_and_uk_are_not_jurisdiction_codes() -> None:
    data = {**BASE, "data": {**BASE["data"], "subjects_by_jurisdiction": {"EU": 3, "UK": 1}}}
    with pytest.raises(FactsValidationError) as caught:
        decode_facts(_json(data), source="f")
    assert caught.value.message.splitlines() == [
        "f: data.subjects_by_jurisdiction.EU.(key): use the member states' codes (DE, FR, ...), not 'EU', got 'EU'",
        "f: data.subjects_by_jurisdiction.UK.(key): the ISO 3166 code of the United Kingdom is 'GB', got 'UK'",
    ]


def test_notice_fields_are_optional_and_unset_ones_leave_the_dump_as_before() -> None:
    plain = decode_facts(_json(BASE), source="f")
    dumped = plain.model_dump(mode="json")
    assert set(dumped) == {
        "aware_at",
        "discovered_at",
        "determined_at",
        "assessed_at",
        "controller",
        "breach",
        "data",
        "containment",
        "service_impact",
        "ai_system",
    }
    assert set(dumped["data"]) == {
        "categories",
        "subjects",
        "subjects_by_jurisdiction",
        "vulnerable_subjects",
        "protection",
    }
    given = decode_facts(
        _json(
            {
                **BASE,
                "data": {**BASE["data"], "subject_categories": [" customers ", "employees"], "records": 250},
                "law_enforcement_delay": True,
                "delay_reasons": "forensics took four days",
                "identity_protection_enrolment": "call 1-800-555-0100",
            }
        ),
        source="f",
    )
    assert (given.data.subject_categories, given.data.records) == (("customers", "employees"), 250)
    assert (given.law_enforcement_delay, given.delay_reasons, given.identity_protection_enrolment) == (
        True,
        "forensics took four days",
        "call 1-800-555-0100",
    )
    again = given.model_dump(mode="json")
    assert again["data"]["subject_categories"] == ["customers", "employees"]
    assert decode_facts(_json(again), source="f") == given


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"data": {**BASE["data"], "subject_categories": []}},
         "f: data.subject_categories: expected a non-empty array (leave the field out while nobody knows), got list"),
        ({"data": {**BASE["data"], "subject_categories": ["  "]}},
         "f: data.subject_categories.0: expected a non-empty string, got '  '"),
        ({"data": {**BASE["data"], "records": -1}}, "f: data.records: expected a number >= 0, got -1"),
        ({"law_enforcement_delay": "no"}, "f: law_enforcement_delay: expected a boolean (true or false), got 'no'"),
        ({"delay_reasons": ""}, "f: delay_reasons: expected a non-empty string, got ''"),
        ({"identity_protection_enrolment": 3}, "f: identity_protection_enrolment: expected a string, got 3"),
    ],
)  # fmt: skip
def test_notice_fields_with_wrong_values_are_named(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(FactsValidationError) as caught:
        decode_facts(_json({**BASE, **patch}), source="f")
    assert caught.value.message == message
