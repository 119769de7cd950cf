"""The GDPR risk level of a breach: "none" (unlikely to result in a risk), "risk" or "high", with reasons.

The method follows the EDPB Guidelines 9/2022 (risk = severity of consequences x likelihood) and the
ENISA severity methodology (data processing context, ease of identification, circumstances of breach),
and is calibrated on the worked examples of EDPB Guidelines 01/2021 (see tests/obligations/test_edpb_examples.py).

Severity (1 limited .. 4 very serious) comes from the most sensitive *intelligible* category, aggravated by
combinations that enable identity fraud, vulnerable subjects and volume. Likelihood (0 none .. 3 high) is
judged per breach type (confidentiality, availability, integrity) from exfiltration evidence, malice,
trusted recipients with confirmed deletion, restore time and operational impact. Each type gives
severity x likelihood; the worst one decides. Everything here is pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from leakline.obligations.facts import Facts

RiskLevel = Literal["none", "risk", "high"]
RISK_ORDER: dict[str, int] = {"none": 0, "risk": 1, "high": 2}

# Categories that are not personal data on their own (model weights, business secrets), and the LLM
# categories that are personal data only when they contain personal data of a listed category.
NON_PERSONAL = frozenset({"model-weights", "business"})
LLM_CONTENT = frozenset({"prompts", "model-outputs"})

# ENISA "data processing context" levels, mapped to consequence severity.
SEVERITY_BY_CATEGORY: dict[str, int] = {
    "identity": 1,
    "contact": 1,
    "address": 1,
    "date-of-birth": 1,
    "location": 2,
    "prompts": 2,
    "model-outputs": 2,
    "financial": 3,
    "payment-card": 3,
    "credentials": 3,
    "password-hashes": 3,
    "government-id": 3,
    "special-category": 4,
    "health": 4,
    "children": 4,
}
SEVERITY_LABEL = {1: "limited", 2: "significant", 3: "serious", 4: "very serious"}
LIKELIHOOD_LABEL = {0: "none", 1: "low", 2: "medium", 3: "high"}
MAX_SEVERITY = 4

# Name + date of birth + postal address is enough to open accounts in someone's name (ENISA: ease of
# identification is full and the combination enables identity fraud).
IDENTITY_FRAUD_KIT = frozenset({"identity", "date-of-birth", "address"})
LARGE_SCALE_SUBJECTS = 10_000
"""leakline's threshold for "large volume" as an aggravating factor (EDPB 9/2022 §105 names volume, no number)."""
MISDIRECTED_CAUSES = frozenset({"misdelivery", "llm-output-leak"})
MASS_MISDELIVERY_SUBJECTS = 100
"""Misdelivery to this many people is no longer an isolated mistake with a single, known recipient."""
SHORT_OUTAGE_HOURS = 24.0
"""Restored from backup within a day with no operational impact: EDPB 01/2021 case 01."""

# Severity x likelihood scores at or above these are "risk" / "high".
RISK_SCORE = 2
HIGH_SCORE = 6


@dataclass(frozen=True)
class RiskAssessment:
    level: RiskLevel
    reasons: tuple[str, ...]
    personal_data: bool
    """Whether personal data is affected at all (False for weights-only or business-only incidents)."""
    intelligible: frozenset[str]
    """Personal-data categories an unauthorised party could read (not encrypted with a safe key nor strongly hashed)."""
    confidentiality_exposed: bool
    """A confidentiality breach exposing intelligible personal data to someone not trusted to delete it."""


def personal_categories(facts: Facts) -> frozenset[str]:
    """The affected categories that are personal data, applying the LLM rules."""
    categories = frozenset(facts.data.categories) - NON_PERSONAL
    if categories <= LLM_CONTENT:
        # Prompts and outputs are personal data only when they carry some; the facts say which by listing
        # the categories they contain. Without any, they are business data.
        return frozenset()
    return categories


def _unintelligible(facts: Facts, categories: frozenset[str]) -> frozenset[str]:
    protection = facts.data.protection
    if protection.encrypted and not protection.key_compromised:
        return categories  # Art. 34(3)(a): state-of-the-art encryption with a key that was not compromised.
    if protection.hashing == "strong":
        return categories & {"password-hashes"}
    return frozenset()


def _severity(facts: Facts, categories: frozenset[str]) -> tuple[int, str]:
    """Consequence severity 1..4 of losing control of `categories`, and the words that explain it."""
    if not categories:
        return 0, "no readable personal data"
    top = max(categories, key=lambda name: (SEVERITY_BY_CATEGORY[name], name))
    severity = SEVERITY_BY_CATEGORY[top]
    detail = [f"most sensitive data: {top}"]
    if categories >= IDENTITY_FRAUD_KIT and severity < 2:
        severity = 2
        detail.append("name, date of birth and address together enable identity fraud")
    if facts.data.vulnerable_subjects and severity < MAX_SEVERITY:
        severity += 1
        detail.append("vulnerable data subjects")
    if facts.data.subjects >= LARGE_SCALE_SUBJECTS and severity < MAX_SEVERITY:
        severity += 1
        detail.append(f"large volume ({facts.data.subjects} people)")
    return severity, f"{SEVERITY_LABEL[severity]}: " + "; ".join(detail)


def _confidentiality_likelihood(facts: Facts, exposed: frozenset[str]) -> tuple[int, str]:
    breach, containment = facts.breach, facts.containment
    if not exposed:
        return 0, "confidentiality: the data is unintelligible (encrypted with a safe key or strongly hashed)"
    if containment.recipient_trusted and containment.data_retrieved_or_deleted:
        return 0, "confidentiality: a trusted recipient confirmed deletion or return"
    if containment.misuse_observed:
        return 3, "confidentiality: misuse observed (fraud, extortion or publication)"
    if breach.cause == "llm-output-leak" and breach.exfiltration == "ruled-out":
        # The gateway redacted or blocked the answer: no user received the data (a misdelivery that never
        # happened). Checked before the misdelivery case, which presumes one user saw it.
        return 0, "confidentiality: the LLM output was stopped before anyone received it (exfiltration ruled out)"
    if breach.cause in MISDIRECTED_CAUSES and not breach.malicious:
        # An LLM answer that shows one customer's data to another is a misdelivery by a machine: the
        # recipient is a single, non-malicious user (EDPB 01/2021 case 13) unless many people are affected.
        what = "misdelivery" if breach.cause == "misdelivery" else "LLM output shown to the wrong user"
        if facts.data.subjects >= MASS_MISDELIVERY_SUBJECTS:
            return 2, f"confidentiality: {what} affecting {facts.data.subjects} people"
        return 1, f"confidentiality: isolated {what}, no malice"
    if breach.exfiltration == "confirmed":
        if breach.malicious:
            return 3, "confidentiality: exfiltration confirmed, malicious actor"
        return 2, "confidentiality: exfiltration confirmed"
    if breach.exfiltration == "likely":
        return 2, "confidentiality: exfiltration likely"
    if breach.exfiltration == "ruled-out":
        return 0, "confidentiality: exfiltration ruled out"
    if breach.malicious or breach.cause in ("theft", "lost-device", "hacking", "credential-stuffing"):
        return 2, f"confidentiality: exposure unknown after {breach.cause}, data must be presumed accessed"
    return 1, "confidentiality: exposure unknown, no sign of malice"


def _availability_likelihood(facts: Facts) -> tuple[int, str]:
    containment = facts.containment
    hours = containment.availability_restored_after_hours
    if containment.operational_impact == "significant":
        return 3, "availability: significant operational impact (e.g. care, payments or deliveries delayed)"
    if hours is None:
        return 3, "availability: never restored, the loss is permanent"
    if hours > SHORT_OUTAGE_HOURS or containment.operational_impact == "minor":
        return 2, f"availability: restored after {hours:g} hours"
    return 1, f"availability: restored from backup after {hours:g} hours, no operational impact"


def _integrity_likelihood(facts: Facts) -> tuple[int, str]:
    if facts.breach.malicious:
        return 3, "integrity: data altered by a malicious actor"
    return 1, "integrity: data altered by mistake"


def _level(severity: int, likelihood: int, *, confidentiality: bool, vulnerable: bool = False) -> RiskLevel:
    score = severity * likelihood
    if likelihood == 0:
        return "none"
    if score >= HIGH_SCORE or (confidentiality and severity == MAX_SEVERITY and vulnerable):
        # Very serious data (special categories, health, children) in untrusted hands is high risk as soon
        # as the disclosure is more than an isolated slip (likelihood 2 or more scores at least 8: EDPB
        # 01/2021 case 12). An isolated, non-malicious disclosure of it is high only when the people are
        # vulnerable (case 14); otherwise it is a risk to report but not a high risk (case 15: a course's
        # participant list with two people's food intolerance e-mailed to former participants).
        return "high"
    if score >= RISK_SCORE:
        return "risk"
    return "none"


def assess_risk(facts: Facts) -> RiskAssessment:
    categories = personal_categories(facts)
    if not categories:
        what = ", ".join(sorted(facts.data.categories)) or "nothing"
        reason = f"no personal data affected ({what}): not a personal data breach (GDPR Art. 4(12))"
        return RiskAssessment("none", (reason,), False, frozenset(), False)
    reasons: list[str] = []
    unintelligible = _unintelligible(facts, categories)
    intelligible = categories - unintelligible
    types = facts.breach.types
    levels: list[RiskLevel] = []
    exposed = False
    if "confidentiality" in types:
        severity, words = _severity(facts, intelligible)
        likelihood, why = _confidentiality_likelihood(facts, intelligible)
        if intelligible:
            reasons.append(f"severity if disclosed: {words}")
        reasons.append(why)
        levels.append(_level(severity, likelihood, confidentiality=True, vulnerable=facts.data.vulnerable_subjects))
        exposed = likelihood > 0
    if "availability" in types or "integrity" in types:
        # Losing or corrupting data hurts people whether or not it was encrypted.
        severity, words = _severity(facts, categories)
        reasons.append(f"severity if lost or altered: {words}")
        if "availability" in types:
            likelihood, why = _availability_likelihood(facts)
            reasons.append(why)
            levels.append(_level(severity, likelihood, confidentiality=False))
        if "integrity" in types:
            likelihood, why = _integrity_likelihood(facts)
            reasons.append(why)
            levels.append(_level(severity, likelihood, confidentiality=False))
    level = max(levels, key=RISK_ORDER.__getitem__)
    verdict = {
        "none": "unlikely to result in a risk to the rights and freedoms of natural persons",
        "risk": "likely to result in a risk (notify the supervisory authority)",
        "high": "likely to result in a high risk (also inform the data subjects)",
    }[level]
    reasons.append(f"overall: {verdict}")
    return RiskAssessment(level, tuple(reasons), True, intelligible, exposed)
