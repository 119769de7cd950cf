"""Switzerland, Brazil, Singapore, Australia, Canada, Quebec, Japan, Korea, China and India."""

from __future__ import annotations

from typing import Any

from tests.obligations.helpers import considered, get, required, run, utc

HIGH = {"data.categories": ["identity", "payment-card"]}
# A contact-list leak by mistake: a GDPR "risk", but no sensitive category and no malice.
PLAIN = {"data.categories": ["identity", "contact"], "breach.malicious": False, "breach.cause": "misconfiguration"}


def where(**counts: int) -> dict[str, Any]:
    return {"data.subjects_by_jurisdiction": {k.replace("_", "-"): v for k, v in counts.items()}}


def test_fadp_high_risk_notifies_fdpic_without_a_fixed_deadline() -> None:
    assessment = run(**HIGH, **where(CH=10))
    assert required(assessment, "fadp") == {("fadp-24", "CH", "supervisory-authority"), ("fadp-24", "CH", "data-subjects")}
    fdpic = get(assessment, "fadp-24", "CH", "supervisory-authority")
    assert (fdpic.due_at, fdpic.authority) == (None, "Federal Data Protection and Information Commissioner (FDPIC)")
    assert required(run(**PLAIN, **where(CH=10)), "fadp") == set()


def test_fadp_date_gate_and_processor() -> None:
    assert considered(run(**HIGH, **where(CH=10), aware_at="2023-08-31T12:00:00Z"), "fadp") == set()
    assert len(required(run(**HIGH, **where(CH=10), aware_at="2023-09-01T12:00:00Z"), "fadp")) == 2
    processor = run(**HIGH, **where(CH=10), **{"controller.role": "processor"})
    assert considered(processor, "fadp") == {("fadp-24", "CH", "controller")}


def test_lgpd_three_business_days_across_good_friday_and_tiradentes() -> None:
    assessment = run(**HIGH, **where(BR=20), aware_at="2025-04-17T10:00:00-03:00")
    anpd = get(assessment, "lgpd-48", "BR", "supervisory-authority")
    assert anpd.due_at == utc("2025-04-24T23:59:59-03:00")
    assert anpd.deadline == "3 business days from knowing that the incident affected personal data"
    assert get(assessment, "lgpd-48", "BR", "data-subjects").due_at == anpd.due_at


def test_lgpd_weekend_and_small_agents_get_double() -> None:
    friday = run(**HIGH, **where(BR=20), aware_at="2025-06-06T10:00:00-03:00")
    assert get(friday, "lgpd-48", "BR", "supervisory-authority").due_at == utc("2025-06-11T23:59:59-03:00")
    small = run(**HIGH, **where(BR=20), **{"controller.size": "small"}, aware_at="2025-06-06T10:00:00-03:00")
    assert get(small, "lgpd-48", "BR", "supervisory-authority").due_at == utc("2025-06-16T23:59:59-03:00")


def test_lgpd_before_resolution_15_has_no_fixed_deadline() -> None:
    before = get(run(**HIGH, **where(BR=20), aware_at="2024-04-25T12:00:00Z"), "lgpd-48", "BR", "supervisory-authority")
    assert (before.required, before.due_at) == (True, None)
    after = get(run(**HIGH, **where(BR=20), aware_at="2024-04-26T12:00:00Z"), "lgpd-48", "BR", "supervisory-authority")
    # Friday 26 April 2024: Mon 29, Tue 30, (1 May Labour Day), Thu 2 May.
    assert after.due_at == utc("2024-05-02T23:59:59-03:00")


def test_lgpd_needs_an_article_5_criterion() -> None:
    plain = get(run(**PLAIN, **where(BR=99_999)), "lgpd-48", "BR", "supervisory-authority")
    assert not plain.required
    assert plain.why.endswith("none of the Art. 5 criteria (sensitive, children/elderly, financial, authentication, large scale)")
    large = get(run(**PLAIN, **where(BR=100_000)), "lgpd-48", "BR", "supervisory-authority")
    assert large.required


def test_pdpa_significant_scale_threshold_499_500_501() -> None:
    for count, expected in ((499, False), (500, True), (501, True)):
        assessment = run(**PLAIN, **where(SG=count, DE=1))
        assert get(assessment, "pdpa-26d", "SG", "supervisory-authority").required is expected, count
        # Scale alone does not oblige telling the individuals; significant harm does.
        assert get(assessment, "pdpa-26d", "SG", "data-subjects").required is False


def test_pdpa_three_calendar_days_from_the_assessment() -> None:
    assessment = run(**HIGH, **where(SG=3), assessed_at="2025-06-04T20:00:00+08:00")
    assert get(assessment, "pdpa-26d", "SG", "supervisory-authority").due_at == utc("2025-06-07T23:59:59+08:00")
    assert get(assessment, "pdpa-26d", "SG", "data-subjects").required
    defaulted = run(**HIGH, **where(SG=3), determined_at="2025-06-03T09:00:00+08:00")
    assert get(defaulted, "pdpa-26d", "SG", "supervisory-authority").due_at == utc("2025-06-06T23:59:59+08:00")


def test_pdpa_date_gate_and_remedial_action() -> None:
    assert considered(run(**HIGH, **where(SG=3), aware_at="2021-01-31T12:00:00Z"), "pdpa") == set()
    assert len(required(run(**HIGH, **where(SG=3), aware_at="2021-02-01T12:00:00Z"), "pdpa")) == 2
    retrieved = run(**HIGH, **where(SG=3), **{"containment.data_retrieved_or_deleted": True})
    assert required(retrieved, "pdpa") == {("pdpa-26d", "SG", "supervisory-authority")}


def test_au_eligible_breach_and_suspected_breach_assessment_clock() -> None:
    eligible = run(**HIGH, **where(AU=5))
    assert required(eligible, "au-ndb") == {("au-ndb", "AU", "supervisory-authority"), ("au-ndb", "AU", "data-subjects")}
    suspected = run(**PLAIN, **where(AU=5))
    assert suspected.risk == "risk"
    assert required(suspected, "au-ndb") == {("au-ndb", "AU", "internal-record")}
    assessment = get(suspected, "au-ndb", "AU", "internal-record")
    assert assessment.due_at == utc("2025-07-02T23:59:59+10:00")  # aware 2 June 20:00 AEST


def test_au_small_business_exemption_except_health() -> None:
    assert considered(run(**HIGH, **where(AU=5), **{"controller.size": "micro"}), "au-ndb") == set()
    clinic = run(**HIGH, **where(AU=5), **{"controller.size": "micro", "controller.sector": "healthcare"})
    assert ("au-ndb", "AU", "supervisory-authority") in required(clinic)


def test_pipeda_and_quebec() -> None:
    assessment = run(**HIGH, **where(CA_QC=3, CA_ON=2))
    assert required(assessment, "pipeda") == {
        ("pipeda-10-1", "CA", "supervisory-authority"),
        ("pipeda-10-1", "CA", "data-subjects"),
        ("pipeda-10-1", "CA", "internal-record"),
    }
    assert required(assessment, "qc-law25") == {
        ("qc-law25", "CA-QC", "supervisory-authority"),
        ("qc-law25", "CA-QC", "data-subjects"),
        ("qc-law25", "CA-QC", "internal-record"),
    }
    ontario_only = run(**PLAIN, **where(CA_ON=2))
    assert required(ontario_only, "pipeda") == {("pipeda-10-1", "CA", "internal-record")}
    assert considered(ontario_only, "qc-law25") == set()


def test_pipeda_date_gate() -> None:
    assert considered(run(**HIGH, **where(CA=3), aware_at="2018-10-31T12:00:00Z"), "pipeda") == set()


def test_appi_more_than_1000_people_and_the_30_day_final_report() -> None:
    for count, expected in ((999, False), (1000, False), (1001, True)):
        assessment = run(**PLAIN, **where(JP=count))
        assert get(assessment, "appi-26", "JP", "supervisory-authority").required is expected, count
    ppc = get(run(**PLAIN, **where(JP=1001)), "appi-26", "JP", "supervisory-authority")
    assert ppc.due_at == utc("2025-07-02T23:59:59+09:00")


def test_appi_wrongful_purpose_gives_60_days_and_encryption_exempts() -> None:
    hacked = get(run(**where(JP=3)), "appi-26", "JP", "supervisory-authority")
    assert (hacked.required, hacked.due_at) == (True, utc("2025-08-01T23:59:59+09:00"))
    encrypted = run(**HIGH, **where(JP=3), **{"data.protection": {"encrypted": True}})
    assert required(encrypted, "appi") == set()


def test_appi_entrustee_notifies_the_entrusting_business() -> None:
    processor = run(**HIGH, **where(JP=3), **{"controller.role": "processor"})
    assert considered(processor, "appi") == {("appi-26", "JP", "controller")}


def test_pipa_72_hours_and_the_1000_threshold() -> None:
    for count, expected in ((999, False), (1000, True), (1001, True)):
        assessment = run(**PLAIN, **where(KR=count))
        assert get(assessment, "pipa-34", "KR", "supervisory-authority").required is expected, count
        subjects = get(assessment, "pipa-34", "KR", "data-subjects")
        assert (subjects.required, subjects.due_at) == (True, utc("2025-06-05T10:00:00Z"))
    hacked = run(**{"data.categories": ["identity"]}, **where(KR=2))
    assert get(hacked, "pipa-34", "KR", "supervisory-authority").required
    assert considered(run(**HIGH, **where(KR=2), aware_at="2023-09-14T12:00:00Z"), "pipa") == set()
    retrieved = run(**PLAIN, **where(KR=1000), **{"containment.data_retrieved_or_deleted": True})
    assert required(retrieved, "pipa") == {("pipa-34", "KR", "data-subjects")}


def test_pipl_notifies_immediately_and_spares_individuals_when_harm_is_avoided() -> None:
    assessment = run(**HIGH, **where(CN=4))
    assert required(assessment, "pipl") == {("pipl-57", "CN", "supervisory-authority"), ("pipl-57", "CN", "data-subjects")}
    assert get(assessment, "pipl-57", "CN", "supervisory-authority").due_at is None
    retrieved = run(**HIGH, **where(CN=4), **{"containment.data_retrieved_or_deleted": True})
    assert required(retrieved, "pipl") == {("pipl-57", "CN", "supervisory-authority")}


def test_dpdp_applies_from_13_may_2027_with_a_72_hour_board_report() -> None:
    before = run(**PLAIN, **where(IN=1), aware_at="2027-05-12T12:00:00Z")
    assert considered(before, "dpdp") == set()
    assert next(n.why for n in before.not_applicable if n.regime == "dpdp-8-6").endswith(
        "applies from 2027-05-13; this breach became known earlier"
    )
    after = run(**PLAIN, **where(IN=1), aware_at="2027-05-13T12:00:00Z")
    assert required(after, "dpdp") == {("dpdp-8-6", "IN", "supervisory-authority"), ("dpdp-8-6", "IN", "data-subjects")}
    assert get(after, "dpdp-8-6", "IN", "supervisory-authority").due_at == utc("2027-05-16T12:00:00Z")


def test_quebec_needs_a_risk_of_serious_injury_but_always_keeps_the_register() -> None:
    assessment = run(**PLAIN, **where(CA_QC=3))
    assert required(assessment, "qc-law25") == {("qc-law25", "CA-QC", "internal-record")}
    cai = get(assessment, "qc-law25", "CA-QC", "supervisory-authority")
    assert cai.why == (
        "not required under Quebec private-sector Act s 3.5; Regulation respecting confidentiality incidents: "
        "the breach is not likely to result in a high risk (severity if disclosed: limited: most sensitive data: "
        "identity; confidentiality: exfiltration confirmed)"
    )


def test_pipl_is_silent_without_personal_data() -> None:
    weights = run(**{"data.categories": ["model-weights"]}, **where(CN=0), **{"controller.establishments": ["CN"]})
    assert considered(weights, "pipl") == set()
    assert [n.why for n in weights.not_applicable if n.regime == "pipl-57"] == [
        "China Personal Information Protection Law (PIPL), Art. 57 covers personal data only; no personal data is affected"
    ]


def test_au_pure_data_loss_without_likely_access_is_not_an_eligible_breach() -> None:
    outage = {
        "data.categories": ["identity", "health"],
        "breach.types": ["availability"],
        "breach.cause": "ransomware",
        "breach.exfiltration": "ruled-out",
        "containment.operational_impact": "significant",
    }
    assessment = run(**outage, **where(AU=5))
    assert assessment.risk == "high"
    assert required(assessment, "au-ndb") == set()
