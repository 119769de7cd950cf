"""An LLM answer the gateway stopped (redacted or blocked) reached nobody: unlike one shown to the wrong user
(a machine's misdelivery, notifiable when cards or credentials are in it), it is only recorded."""

from __future__ import annotations

from leakline.obligations import assess
from tests.obligations.helpers import NOW, facts

CARDS = {
    "breach.cause": "llm-output-leak",
    "breach.malicious": False,
    "breach.types": ["confidentiality"],
    "data.categories": ["identity", "payment-card"],
    "data.subjects": 3,
}


def _gdpr_risk(**overrides: object) -> str:
    assessment = assess(facts(**{**CARDS, **overrides}), now=NOW)
    return assessment.risk


def test_an_llm_output_the_gateway_stopped_is_no_risk() -> None:
    assert _gdpr_risk(**{"breach.exfiltration": "ruled-out"}) == "none"


def test_an_llm_output_shown_to_a_user_stays_a_notifiable_misdelivery() -> None:
    assert _gdpr_risk(**{"breach.exfiltration": "unknown"}) != "none"
    assert _gdpr_risk(**{"breach.exfiltration": "confirmed"}) != "none"
