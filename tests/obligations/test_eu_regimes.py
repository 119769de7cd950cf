"""GDPR, UK GDPR, NIS2 and the AI Act: triggers, jurisdictions, clocks, date gates and the processor hop."""

from __future__ import annotations

from leakline.obligations import NotApplicable
from tests.obligations.helpers import considered, get, required, run, utc

HIGH = {"data.categories": ["identity", "payment-card"]}
NO_RISK = {"data.categories": ["password-hashes"], "data.protection": {"hashing": "strong"}}
WEIGHTS_ONLY = {"data.categories": ["model-weights"], "data.subjects": 0}


def _na(assessment_not_applicable: tuple[NotApplicable, ...], regime: str) -> list[str]:
    return [n.why for n in assessment_not_applicable if n.regime == regime]


def test_gdpr_high_risk_controller_owes_authority_subjects_and_record() -> None:
    assessment = run(**HIGH)
    assert required(assessment, "gdpr") == {
        ("gdpr-33", "DE", "supervisory-authority"),
        ("gdpr-34", "EU", "data-subjects"),
        ("gdpr-33-5", "EU", "internal-record"),
    }
    authority = get(assessment, "gdpr-33", "DE", "supervisory-authority")
    assert authority.due_at == utc("2025-06-05T10:00:00+00:00")
    assert authority.authority == "the competent German supervisory authority (Land authority of the main establishment, or BfDI)"
    assert authority.basis == "GDPR Art. 33(1)"
    assert get(assessment, "gdpr-34", "EU", "data-subjects").due_at is None


def test_gdpr_72_hours_run_from_awareness_not_discovery() -> None:
    assessment = run(**HIGH, aware_at="2025-06-02T23:30:00+02:00", discovered_at="2025-05-01T00:00:00+00:00")
    assert get(assessment, "gdpr-33", "DE", "supervisory-authority").due_at == utc("2025-06-05T21:30:00+00:00")


def test_gdpr_no_risk_keeps_only_the_record() -> None:
    assessment = run(**NO_RISK)
    assert required(assessment, "gdpr") == {("gdpr-33-5", "EU", "internal-record")}
    authority = get(assessment, "gdpr-33", "DE", "supervisory-authority")
    assert authority.due_at is None
    assert authority.why.startswith("not required under GDPR Art. 33(1): the breach is unlikely to result in a risk")


def test_gdpr_risk_but_not_high_notifies_only_the_authority() -> None:
    assessment = run(**{"data.categories": ["identity", "contact", "address"], "breach.cause": "insider"})
    assert assessment.risk == "risk"
    assert required(assessment, "gdpr") == {
        ("gdpr-33", "DE", "supervisory-authority"),
        ("gdpr-33-5", "EU", "internal-record"),
    }


def test_gdpr_without_eu_establishment_notifies_every_affected_member_state() -> None:
    assessment = run(
        **HIGH,
        **{"controller.establishments": ["US-CA"], "data.subjects_by_jurisdiction": {"FR": 5, "DE": 10, "US-CA": 1}},
    )
    assert {key for key in required(assessment) if key[0] == "gdpr-33"} == {
        ("gdpr-33", "DE", "supervisory-authority"),
        ("gdpr-33", "FR", "supervisory-authority"),
    }
    assert get(assessment, "gdpr-33", "FR", "supervisory-authority").authority == (
        "Commission nationale de l'informatique et des libertés (CNIL)"
    )


def test_gdpr_one_stop_shop_uses_the_main_establishment_only() -> None:
    assessment = run(
        **HIGH, **{"controller.establishments": ["IE", "DE"], "data.subjects_by_jurisdiction": {"FR": 5, "DE": 10}}
    )
    assert considered(assessment, "gdpr-33") == {("gdpr-33", "IE", "supervisory-authority"), ("gdpr-33-5", "EU", "internal-record")}


def test_gdpr_does_not_reach_a_shop_with_no_eu_link() -> None:
    assessment = run(**HIGH, **{"controller.establishments": ["US"], "data.subjects_by_jurisdiction": {"US-NY": 3}})
    assert considered(assessment, "gdpr") == set()
    assert _na(assessment.not_applicable, "gdpr-33") == ["no establishment in the EU/EEA and no affected people there"]


def test_gdpr_date_gate() -> None:
    before = run(**HIGH, aware_at="2018-05-24T12:00:00+00:00")
    assert considered(before, "gdpr") == set()
    assert _na(before.not_applicable, "gdpr-34")[0].endswith("applies from 2018-05-25; this breach became known earlier")
    on = run(**HIGH, aware_at="2018-05-25T12:00:00+00:00")
    assert ("gdpr-33", "DE", "supervisory-authority") in required(on)


def test_llm_prompts_are_personal_data_only_with_personal_content() -> None:
    bare = run(**{"data.categories": ["prompts", "model-outputs"], "breach.cause": "llm-output-leak"})
    assert bare.risk == "none"
    assert considered(bare, "gdpr") == set()
    assert bare.reasons == (
        "no personal data affected (model-outputs, prompts): not a personal data breach (GDPR Art. 4(12))",
    )
    with_pii = run(
        **{"data.categories": ["prompts", "identity"], "breach.cause": "llm-output-leak", "breach.malicious": False}
    )
    assert with_pii.risk == "risk"
    assert ("gdpr-33", "DE", "supervisory-authority") in required(with_pii)


def test_an_llm_answer_showing_one_customer_s_address_to_another_is_like_case_13() -> None:
    address = {"data.categories": ["identity", "address"], "breach.cause": "llm-output-leak", "data.subjects": 1}
    one = run(**address, **{"breach.malicious": False})
    assert one.risk == "none"
    assert "confidentiality: isolated LLM output shown to the wrong user, no malice" in one.reasons
    # A prompt-injection extraction is malicious: exfiltration, 1 x 3.
    assert run(**address).risk == "risk"
    # Someone else's chat history is behavioural data (severity 2): a risk even for one person.
    chat = run(**{**address, "data.categories": ["prompts", "identity", "address"], "breach.malicious": False})
    assert chat.risk == "risk"


def test_processor_notifies_its_controller_instead_of_the_authority() -> None:
    assessment = run(**HIGH, **{"controller.role": "processor", "data.subjects_by_jurisdiction": {"DE": 100, "GB": 5}})
    assert considered(assessment, "gdpr") == {("gdpr-33", "EU", "controller")}
    hop = get(assessment, "gdpr-33", "EU", "controller")
    assert (hop.required, hop.due_at, hop.basis) == (True, None, "GDPR Art. 33(2)")
    assert considered(assessment, "uk-gdpr") == {("uk-gdpr-33", "GB", "controller")}
    assert "the controller's duty; as a processor you notify the controller instead (GDPR Art. 33(2))" in _na(
        assessment.not_applicable, "gdpr-34"
    )


def test_processor_outside_the_eu_makes_one_hop_for_all_member_states() -> None:
    assessment = run(
        **HIGH,
        **{
            "controller.role": "processor",
            "controller.establishments": ["US"],
            "data.subjects_by_jurisdiction": {"DE": 3, "FR": 4},
        },
    )
    assert considered(assessment, "gdpr") == {("gdpr-33", "EU", "controller")}


def test_uk_gdpr_triggers_on_uk_residents_with_its_own_clock() -> None:
    assessment = run(**HIGH, **{"data.subjects_by_jurisdiction": {"DE": 10, "GB": 1}})
    assert required(assessment, "uk-gdpr") == {
        ("uk-gdpr-33", "GB", "supervisory-authority"),
        ("uk-gdpr-34", "GB", "data-subjects"),
    }
    assert get(assessment, "uk-gdpr-33", "GB", "supervisory-authority").due_at == utc("2025-06-05T10:00:00Z")
    assert considered(run(**HIGH, **{"data.subjects_by_jurisdiction": {"DE": 10}}), "uk-gdpr") == set()


MARKETPLACE = {"controller.sector": "online-marketplace", "controller.size": "large"}


def test_nis2_model_weights_theft_at_a_marketplace_is_significant_but_not_a_gdpr_breach() -> None:
    assessment = run(**MARKETPLACE, **WEIGHTS_ONLY)
    assert required(assessment) == {
        ("nis2-23-early-warning", "DE", "csirt"),
        ("nis2-23-notification", "DE", "csirt"),
        ("nis2-23-final", "DE", "csirt"),
    }
    early = get(assessment, "nis2-23-early-warning", "DE", "csirt")
    assert early.authority == "Bundesamt für Sicherheit in der Informationstechnik (BSI)"
    assert early.due_at == utc("2025-06-03T10:00:00Z")
    assert get(assessment, "nis2-23-notification", "DE", "csirt").due_at == utc("2025-06-05T10:00:00Z")
    assert get(assessment, "nis2-23-final", "DE", "csirt").due_at == utc("2025-07-05T10:00:00Z")
    assert "model weights" in early.why


def test_nis2_accidental_weights_exposure_is_not_significant() -> None:
    assessment = run(**MARKETPLACE, **WEIGHTS_ONLY, **{"breach.malicious": False, "breach.exfiltration": "ruled-out"})
    assert required(assessment) == set()
    assert considered(assessment, "nis2") == {
        ("nis2-23-early-warning", "DE", "csirt"),
        ("nis2-23-notification", "DE", "csirt"),
        ("nis2-23-final", "DE", "csirt"),
    }


def test_nis2_final_report_month_clamps_to_february() -> None:
    assessment = run(**MARKETPLACE, **WEIGHTS_ONLY, aware_at="2025-01-28T10:00:00Z")
    assert get(assessment, "nis2-23-final", "DE", "csirt").due_at == utc("2025-02-28T10:00:00Z")


def test_nis2_scope_size_sector_and_dates() -> None:
    assert considered(run(**{**MARKETPLACE, **WEIGHTS_ONLY, "controller.size": "small"}), "nis2") == set()
    assert considered(run(**WEIGHTS_ONLY, **{"controller.sector": "retail"}), "nis2") == set()
    assert considered(run(**MARKETPLACE, **WEIGHTS_ONLY, aware_at="2024-10-17T23:00:00Z"), "nis2") == set()
    assert len(required(run(**MARKETPLACE, **WEIGHTS_ONLY, aware_at="2024-10-18T00:00:00Z"), "nis2")) == 3


def test_nis2_finance_moves_to_dora_on_17_january_2025() -> None:
    bank = {"controller.sector": "finance", "containment.operational_impact": "significant"}
    assert len(required(run(**bank, aware_at="2025-01-16T12:00:00Z"), "nis2")) == 3
    after = run(**bank, aware_at="2025-01-17T12:00:00Z")
    assert considered(after, "nis2") == set()
    assert _na(after.not_applicable, "nis2-23-notification") == [
        "financial entities report under DORA (Regulation (EU) 2022/2554), sector-specific law (NIS2 Art. 4)"
    ]


def test_nis2_marketplace_outage_thresholds() -> None:
    outage = {
        **MARKETPLACE,
        **WEIGHTS_ONLY,
        "breach.types": ["availability"],
        "breach.malicious": False,
        "breach.exfiltration": "ruled-out",
    }
    assert required(run(**outage, **{"service_impact.users_affected": 1_000_000}), "nis2") == set()
    assert len(required(run(**outage, **{"service_impact.users_affected": 1_000_001}), "nis2")) == 3
    share = {**outage, "service_impact.eu_users_total": 10_000_000}
    assert required(run(**share, **{"service_impact.users_affected": 500_000}), "nis2") == set()
    assert len(required(run(**share, **{"service_impact.users_affected": 500_001}), "nis2")) == 3


def test_nis2_hospital_with_severe_disruption_notifies_each_establishment() -> None:
    assessment = run(
        **{
            "controller.sector": "healthcare",
            "controller.size": "medium",
            "controller.establishments": ["FR", "DE"],
            "breach.types": ["availability"],
            "containment.operational_impact": "significant",
        }
    )
    assert required(assessment, "nis2-23-early") == {
        ("nis2-23-early-warning", "DE", "csirt"),
        ("nis2-23-early-warning", "FR", "csirt"),
    }


AI = {
    "ai_system": {"high_risk": True, "role": "provider"},
    "breach.cause": "llm-output-leak",
    "data.categories": ["identity", "model-outputs"],
    "data.subjects_by_jurisdiction": {"DE": 40},
    "aware_at": "2026-09-01T10:00:00Z",
}


def test_ai_act_serious_incident_15_days_from_awareness() -> None:
    assessment = run(**AI)
    obligation = get(assessment, "ai-act-73", "DE", "market-surveillance-authority")
    assert obligation.required
    assert obligation.due_at == utc("2026-09-16T21:59:59Z")  # end of 16 September, Brussels time


def test_ai_act_critical_infrastructure_two_days_and_deployer_immediately() -> None:
    energy = run(**AI, **{"controller.sector": "energy", "containment.operational_impact": "significant"})
    assert get(energy, "ai-act-73", "DE", "market-surveillance-authority").due_at == utc("2026-09-03T21:59:59Z")
    deployer = run(**{**AI, "ai_system": {"high_risk": True, "role": "deployer"}})
    obligation = get(deployer, "ai-act-73", "DE", "market-surveillance-authority")
    assert (obligation.required, obligation.due_at) == (True, None)
    assert obligation.deadline == "immediately, after informing the provider first (Art. 26(5))"


def test_ai_act_date_gate_and_scope() -> None:
    assert considered(run(**{**AI, "aware_at": "2026-08-01T12:00:00Z"}), "ai-act") == set()
    assert len(required(run(**{**AI, "aware_at": "2026-08-02T00:00:00Z"}), "ai-act")) == 1
    assert considered(run(**{**AI, "ai_system": {"high_risk": False}}), "ai-act") == set()
    unrelated = run(**{**AI, "breach.cause": "hacking", "data.categories": ["identity"]})
    assert required(unrelated, "ai-act") == set()
