"""US state breach laws (thresholds, discovery and determination clocks, dated amendments) and SEC Item 1.05."""

from __future__ import annotations

from typing import Any

from tests.obligations.helpers import considered, get, required, run, utc

CARD = {"data.categories": ["identity", "payment-card"]}


def _discovered(moment: str) -> dict[str, str]:
    """Discovered and aware at once: awareness never comes before discovery (the facts refuse it)."""
    return {"discovered_at": moment, "aware_at": moment}


def residents(state: str, count: int) -> dict[str, Any]:
    return {"data.subjects_by_jurisdiction": {state: count}}


def test_california_30_days_from_discovery_since_2026() -> None:
    assessment = run(**CARD, **residents("US-CA", 10), discovered_at="2026-01-10T10:00:00-08:00",
                     aware_at="2026-01-12T10:00:00-08:00")
    notice = get(assessment, "us-ca-1798-82", "US-CA", "data-subjects")
    assert notice.due_at == utc("2026-02-09T23:59:59-08:00")
    assert notice.deadline == "within 30 calendar days of discovery or notification of the breach"


def test_california_before_2026_has_no_fixed_deadline() -> None:
    assessment = run(**CARD, **residents("US-CA", 10), **_discovered("2025-12-31T10:00:00-08:00"))
    notice = get(assessment, "us-ca-1798-82", "US-CA", "data-subjects")
    assert (notice.required, notice.due_at) == (True, None)
    assert notice.deadline == "in the most expedient time possible and without unreasonable delay"


def test_california_attorney_general_more_than_500_residents_15_days_after_notice() -> None:
    for count, expected in ((499, False), (500, False), (501, True)):
        assessment = run(**CARD, **residents("US-CA", count), **_discovered("2026-01-10T10:00:00-08:00"))
        assert get(assessment, "us-ca-1798-82", "US-CA", "attorney-general").required is expected, count
    ag = get(
        run(**CARD, **residents("US-CA", 501), **_discovered("2026-01-10T10:00:00-08:00")),
        "us-ca-1798-82",
        "US-CA",
        "attorney-general",
    )
    assert ag.due_at == utc("2026-02-24T23:59:59-08:00")


def test_state_personal_information_definitions() -> None:
    names_only = {"data.categories": ["identity", "contact"]}
    assert required(run(**names_only, **residents("US-CA", 10)), "us-ca") == set()
    login = {"data.categories": ["contact", "credentials"]}
    assert ("us-ca-1798-82", "US-CA", "data-subjects") in required(run(**login, **residents("US-CA", 10)))
    # Texas does not count online credentials; Washington counts name with date of birth.
    assert required(run(**login, **residents("US-TX", 10)), "us-tx") == set()
    birth = {"data.categories": ["identity", "date-of-birth"]}
    assert ("us-wa-19-255-010", "US-WA", "data-subjects") in required(run(**birth, **residents("US-WA", 10)))
    assert required(run(**birth, **residents("US-CA", 10)), "us-ca") == set()


def test_encryption_safe_harbour_unless_the_key_was_compromised() -> None:
    safe = run(**CARD, **residents("US-NY", 10), **{"data.protection": {"encrypted": True}})
    assert required(safe, "us-ny") == set()
    leaked = run(**CARD, **residents("US-NY", 10), **{"data.protection": {"encrypted": True, "key_compromised": True}})
    assert ("us-ny-899-aa", "US-NY", "data-subjects") in required(leaked)


def test_new_york_30_days_attorney_general_always_and_agencies_above_5000() -> None:
    assessment = run(**CARD, **residents("US-NY", 5000), discovered_at="2025-06-01T12:00:00-04:00")
    assert get(assessment, "us-ny-899-aa", "US-NY", "data-subjects").due_at == utc("2025-07-01T23:59:59-04:00")
    assert get(assessment, "us-ny-899-aa", "US-NY", "attorney-general").required
    assert not get(assessment, "us-ny-899-aa", "US-NY", "consumer-reporting-agencies").required
    more = run(**CARD, **residents("US-NY", 5001))
    assert get(more, "us-ny-899-aa", "US-NY", "consumer-reporting-agencies").required
    before = run(**CARD, **residents("US-NY", 10), discovered_at="2024-12-20T12:00:00-05:00")
    assert get(before, "us-ny-899-aa", "US-NY", "data-subjects").due_at is None


def test_texas_clocks_run_from_determination() -> None:
    assessment = run(**CARD, **residents("US-TX", 250), determined_at="2025-06-10T10:00:00-05:00")
    assert get(assessment, "us-tx-521-053", "US-TX", "data-subjects").due_at == utc("2025-08-09T23:59:59-05:00")
    assert get(assessment, "us-tx-521-053", "US-TX", "attorney-general").due_at == utc("2025-07-10T23:59:59-05:00")
    below = run(**CARD, **residents("US-TX", 249), determined_at="2025-06-10T10:00:00-05:00")
    assert not get(below, "us-tx-521-053", "US-TX", "attorney-general").required


def test_texas_attorney_general_had_60_days_before_1_september_2023() -> None:
    assessment = run(**CARD, **residents("US-TX", 300), determined_at="2023-08-15T10:00:00-05:00")
    assert get(assessment, "us-tx-521-053", "US-TX", "attorney-general").due_at == utc("2023-10-14T23:59:59-05:00")


def test_florida_thresholds_and_third_party_agent_10_days() -> None:
    for count, expected in ((499, False), (500, True), (501, True)):
        assessment = run(**CARD, **residents("US-FL", count), determined_at="2025-06-10T10:00:00-04:00")
        assert get(assessment, "us-fl-501-171", "US-FL", "attorney-general").required is expected, count
    ag = get(run(**CARD, **residents("US-FL", 500), determined_at="2025-06-10T10:00:00-04:00"),
             "us-fl-501-171", "US-FL", "attorney-general")
    assert ag.due_at == utc("2025-07-10T23:59:59-04:00")
    agent = run(**CARD, **residents("US-FL", 3), **{"controller.role": "processor"},
                determined_at="2025-06-10T10:00:00-04:00")
    assert considered(agent, "us-fl") == {("us-fl-501-171", "US-FL", "controller")}
    assert get(agent, "us-fl-501-171", "US-FL", "controller").due_at == utc("2025-06-20T23:59:59-04:00")


def test_colorado_attorney_general_500_and_agencies_above_1000() -> None:
    at = {"determined_at": "2025-06-10T10:00:00-06:00"}
    cases = ((499, False, False), (500, True, False), (1000, True, False), (1001, True, True))
    for count, ag, cra in cases:
        assessment = run(**CARD, **residents("US-CO", count), **at)
        assert get(assessment, "us-co-6-1-716", "US-CO", "attorney-general").required is ag, count
        assert get(assessment, "us-co-6-1-716", "US-CO", "consumer-reporting-agencies").required is cra, count
    notice = get(run(**CARD, **residents("US-CO", 3), **at), "us-co-6-1-716", "US-CO", "data-subjects")
    assert notice.due_at == utc("2025-07-10T23:59:59-06:00")


def test_washington_500_501_and_the_45_day_rule_before_march_2020() -> None:
    for count, expected in ((500, False), (501, True)):
        assessment = run(**CARD, **residents("US-WA", count))
        assert get(assessment, "us-wa-19-255-010", "US-WA", "attorney-general").required is expected, count
    old = run(**CARD, **residents("US-WA", 3), discovered_at="2020-02-10T10:00:00-08:00")
    assert get(old, "us-wa-19-255-010", "US-WA", "data-subjects").due_at == utc("2020-03-26T23:59:59-07:00")
    new = run(**CARD, **residents("US-WA", 3), discovered_at="2020-03-02T10:00:00-08:00")
    assert get(new, "us-wa-19-255-010", "US-WA", "data-subjects").due_at == utc("2020-04-01T23:59:59-07:00")


def test_washington_risk_of_harm_exception() -> None:
    slip = {
        "data.categories": ["identity", "date-of-birth"],
        "breach.cause": "misdelivery",
        "breach.malicious": False,
        "data.subjects": 1,
    }
    assessment = run(**slip, **residents("US-WA", 1))
    assert assessment.risk == "none"
    notice = get(assessment, "us-wa-19-255-010", "US-WA", "data-subjects")
    assert not notice.required
    assert "risk-of-harm exception" in notice.why


SEC = {"controller.sec_registrant": True, "breach.materiality": "material", "controller.establishments": ["US"]}


def test_sec_four_business_days_across_thanksgiving() -> None:
    assessment = run(**SEC, determined_at="2025-11-26T10:00:00-05:00")
    filing = get(assessment, "sec-8k-1-05", "US", "public-filing")
    assert filing.due_at == utc("2025-12-03T17:30:00-05:00")


def test_sec_four_business_days_across_a_weekend() -> None:
    filing = get(run(**SEC, determined_at="2025-06-06T10:00:00-04:00"), "sec-8k-1-05", "US", "public-filing")
    assert filing.due_at == utc("2025-06-12T17:30:00-04:00")


def test_sec_materiality_not_yet_determined() -> None:
    filing = get(run(**{**SEC, "breach.materiality": "undetermined"}), "sec-8k-1-05", "US", "public-filing")
    assert (filing.required, filing.due_at) == (False, None)
    assert filing.why.endswith("materiality not yet determined: decide without unreasonable delay after discovery")
    assert considered(run(**{**SEC, "controller.sec_registrant": False}), "sec") == set()


def test_sec_effective_dates_for_all_and_for_smaller_reporting_companies() -> None:
    assert considered(run(**SEC, aware_at="2023-12-17T12:00:00Z"), "sec") == set()
    assert required(run(**SEC, aware_at="2023-12-18T12:00:00Z"), "sec") == {("sec-8k-1-05", "US", "public-filing")}
    small = {**SEC, "controller.size": "small"}
    assert considered(run(**small, aware_at="2024-06-14T12:00:00Z"), "sec") == set()
    assert required(run(**small, aware_at="2024-06-15T12:00:00Z"), "sec") == {("sec-8k-1-05", "US", "public-filing")}


def test_texas_consumer_reporting_agencies_above_10000() -> None:
    for count, expected in ((10_000, False), (10_001, True)):
        assessment = run(**CARD, **residents("US-TX", count))
        assert get(assessment, "us-tx-521-053", "US-TX", "consumer-reporting-agencies").required is expected, count


def test_new_york_covers_health_information_from_21_march_2025() -> None:
    health = {"data.categories": ["identity", "health"]}
    before = run(**health, **residents("US-NY", 3), discovered_at="2025-03-20T12:00:00-04:00")
    assert required(before, "us-ny") == set()
    after = run(**health, **residents("US-NY", 3), discovered_at="2025-03-21T12:00:00-04:00")
    assert ("us-ny-899-aa", "US-NY", "data-subjects") in required(after)


def test_new_york_vendor_notifies_the_owner_within_30_days() -> None:
    vendor = run(**CARD, **residents("US-NY", 3), **{"controller.role": "processor"},
                 discovered_at="2025-06-01T12:00:00-04:00")
    hop = get(vendor, "us-ny-899-aa", "US-NY", "controller")
    assert hop.due_at == utc("2025-07-01T23:59:59-04:00")
