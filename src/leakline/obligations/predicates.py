"""The named conditions that regime rules combine in their `requires` and `when` lists.

Each condition is a `Condition` (one abstract method, `check`) registered under its name in
`CONDITIONS`: a pure test of the assessment context, the jurisdiction being considered, an optional
argument (the part after ":" in "residents:501") and the regime's `params` table, returning whether it
holds and a sentence saying why, which becomes the obligation's `why`. The legal tests of each law (PDPA
"significant harm", APPI Rule 7, NIS2 significance, US state "personal information") live here; numbers
and category lists that a law fixes live in the regime files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, ClassVar

from leakline.obligations.facts import Facts
from leakline.obligations.risk import RISK_ORDER, RiskAssessment

Params = Mapping[str, Any]
Result = tuple[bool, str]

EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
EEA = EU | {"IS", "LI", "NO"}
MALICIOUS_EXTERNAL_CAUSES = frozenset({"hacking", "ransomware", "exfiltration", "credential-stuffing"})
AI_CATEGORIES = frozenset({"prompts", "model-outputs", "model-weights"})
TRADE_SECRETS = frozenset({"business", "model-weights"})


def country_of(code: str) -> str:
    return code.split("-", 1)[0]


def _labels(code: str) -> tuple[str, ...]:
    country = country_of(code)
    labels = (code,) if country == code else (code, country)
    return (*labels, "EU") if country in EEA else labels


@dataclass(frozen=True)
class Context:
    """Everything derived once per assessment, shared by scopes, conditions and clocks."""

    facts: Facts
    risk: RiskAssessment
    counts: Mapping[str, int]
    """People affected per jurisdiction label: codes as given, their countries ("CA" includes "CA-QC"), "EU"."""
    establishments: frozenset[str]
    """Establishment codes, their countries, and "EU" when any is in the EU/EEA."""
    memo: dict[tuple[str, str, str], Result] = field(default_factory=dict)
    """Condition results already computed in this assessment, by (regime or "", condition, jurisdiction)."""

    @classmethod
    def build(cls, facts: Facts, risk: RiskAssessment) -> Context:
        counts: dict[str, int] = {}
        for code, n in facts.data.subjects_by_jurisdiction.items():
            for label in _labels(code):
                counts[label] = counts.get(label, 0) + n
        established = frozenset(label for code in facts.controller.establishments for label in _labels(code))
        if not facts.data.subjects_by_jurisdiction:
            # Without a breakdown, everyone affected is counted where the organisation is established, so
            # a single-country shop need not repeat its total.
            counts = {label: facts.data.subjects for label in established}
        return cls(facts, risk, counts, established)

    def count(self, jurisdiction: str) -> int:
        return self.counts.get(jurisdiction, 0)

    def established_in(self, jurisdiction: str) -> bool:
        return jurisdiction in self.establishments

    def exposed(self, *names: str) -> frozenset[str]:
        """Of the given categories, those readable by an unauthorised party in a confidentiality breach."""
        if not self.risk.confidentiality_exposed:
            return frozenset()
        return self.risk.intelligible & frozenset(names)


class Condition(ABC):
    """A legal test that regime files name in `requires` and `when` ("residents:501", "risk:high").

    `check` gets the assessment context, the jurisdiction being considered, the argument after ":" and the
    regime's `params`; it returns whether the test holds and a sentence saying why (the obligation's `why`).
    """

    uses_params: ClassVar[bool] = False
    """True when the answer depends on `params`: it is then memoised per regime, otherwise per assessment."""

    @abstractmethod
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        """Whether the test holds for jurisdiction `j`, and why."""


class PersonalData(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        if ctx.risk.personal_data:
            return True, "personal data is affected"
        return False, "no personal data is affected"


class Risk(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        wanted = arg or "risk"
        level = ctx.risk.level
        holds = RISK_ORDER[level] >= RISK_ORDER[wanted]
        words = {"none": "unlikely to result in a risk", "risk": "a risk", "high": "a high risk"}
        # The facts behind the level travel with the decision, so each `why` stands on its own.
        facts = " (" + "; ".join(r for r in ctx.risk.reasons if not r.startswith("overall:")) + ")"
        if holds:
            return True, f"the breach is likely to result in {words[level]} to people{facts}"
        verdict = words["none"] if level == "none" else "not likely to result in a high risk"
        return False, f"the breach is {verdict}{facts}"


class Residents(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        minimum = int(arg or "1")
        count = ctx.count(j)
        if count >= minimum:
            return True, f"{count} affected people in {j} (threshold: {minimum} or more)"
        return False, f"{count} affected people in {j}, below the threshold of {minimum}"


class Confidentiality(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        if ctx.risk.confidentiality_exposed:
            return True, "intelligible personal data was (or may have been) accessed or disclosed"
        return False, "no intelligible personal data reached an untrusted party"


class NotRemedied(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        containment = ctx.facts.containment
        if containment.data_retrieved_or_deleted and not containment.misuse_observed:
            return False, "the data was retrieved or deleted before any misuse (remedial action)"
        return True, "no remedial action has removed the likelihood of harm"


def _in_force(items: Any, day: date) -> tuple[str, ...]:
    """Category names from a params list; "health@2025-03-25" counts only from that date on."""
    names = []
    for item in items:
        name, _, since = str(item).partition("@")
        if not since or day >= date.fromisoformat(since):
            names.append(name)
    return tuple(names)


class CoveredPi(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        """US state "personal information": a name with a listed element, or an element that counts alone."""
        day = ctx.facts.discovery.date()
        with_name = ctx.exposed(*_in_force(params.get("with_name", ()), day))
        alone = ctx.exposed(*_in_force(params.get("alone", ()), day))
        named = "identity" in ctx.risk.intelligible and ctx.risk.confidentiality_exposed
        if alone:
            return True, f"unencrypted personal information acquired: {', '.join(sorted(alone))}"
        if named and with_name:
            return True, f"unencrypted personal information acquired: name with {', '.join(sorted(with_name))}"
        if not ctx.risk.confidentiality_exposed:
            return False, "no unencrypted personal information was acquired by an unauthorised person"
        return False, "the exposed data is not 'personal information' as this statute defines it"


class HarmPossible(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        if ctx.risk.level == "none":
            return False, "the investigation shows misuse is not reasonably likely (statutory risk-of-harm exception)"
        return True, "misuse or harm is reasonably likely"


class PdpaSignificantHarm(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        # PDPA (Notification of Data Breaches) Regulations 2021, Schedule: a name or identification number
        # with a prescribed item (Part 1), or an account identifier with its password (Part 2).
        prescribed = ctx.exposed(*params.get("harm_with_identifier", ()))
        identifier = ctx.exposed("identity", "government-id")
        credentials = ctx.exposed("credentials")
        if credentials:
            return True, "account identifier with password or access code (Schedule Part 2): significant harm"
        if identifier and prescribed:
            return True, f"identifier with {', '.join(sorted(prescribed))} (Schedule Part 1): significant harm"
        return False, "no prescribed combination of personal data (Schedule) was exposed"


def _pdpa_count(ctx: Context, j: str) -> int:
    # s 26B(1)(b) counts all affected individuals; for an organisation outside Singapore only the
    # Singapore-linked ones bring it under the PDPA.
    return ctx.facts.data.subjects if ctx.established_in(j) else ctx.count(j)


class PdpaNotifiable(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        harm, why = CONDITIONS["pdpa-significant-harm"].check(ctx, j, arg, params)
        if harm:
            return True, why
        threshold = int(params["scale_threshold"])
        count = _pdpa_count(ctx, j)
        if ctx.risk.confidentiality_exposed and count >= threshold:
            return True, f"significant scale: {count} affected individuals (threshold: {threshold} or more)"
        return False, f"{why}; {count} affected individuals, below the significant-scale threshold of {threshold}"


class LgpdRelevant(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        risk, why = CONDITIONS["risk"].check(ctx, j, "risk", params)
        if not risk:
            return False, f"{why}: no relevant risk or damage (Res. CD/ANPD 15/2024 Art. 5)"
        criteria = ctx.risk.intelligible & frozenset(params.get("criteria_categories", ()))
        large = int(params["large_scale"])
        count = ctx.count(j)
        if criteria:
            return True, f"{why} and the data includes {', '.join(sorted(criteria))} (Art. 5 criteria)"
        if count >= large:
            return True, f"{why} and it is large scale: {count} data subjects in Brazil"
        return False, (
            "none of the Art. 5 criteria (sensitive, children/elderly, financial, authentication, large scale)"
        )


class AppiReportable(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        # Enforcement Rules Art. 7: sensitive data; data whose misuse causes property damage; a wrongful
        # purpose; more than 1,000 people. Advanced encryption (protected key) takes data out of scope.
        if not ctx.risk.intelligible:
            return False, "the data was protected by advanced encryption (no reportable leakage)"
        sensitive = ctx.risk.intelligible & frozenset(params["sensitive"])
        property_damage = ctx.risk.intelligible & frozenset(params["property_damage"])
        exceeds = int(params["exceeds"])
        count = ctx.count(j)
        if sensitive:
            return True, f"special care-required personal information: {', '.join(sorted(sensitive))} (Rule 7(i))"
        if property_damage:
            named = ", ".join(sorted(property_damage))
            return True, f"data whose misuse may cause property damage: {named} (Rule 7(ii))"
        if ctx.facts.breach.malicious:
            return True, "possibly committed for a wrongful purpose (Rule 7(iii))"
        if count > exceeds:
            return True, f"{count} people affected in Japan, more than {exceeds} (Rule 7(iv))"
        return False, f"none of the Rule 7 cases ({count} people in Japan, not more than {exceeds})"


class WrongfulPurpose(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        if ctx.facts.breach.malicious:
            return True, "possibly committed for a wrongful purpose"
        return False, "no wrongful purpose"


class PipaReport(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        # Enforcement Decree Art. 40: 1,000 or more people, sensitive or unique identifying information,
        # or a leak caused by unauthorised external access (hacking).
        if not ctx.risk.confidentiality_exposed:
            return False, "no personal information was leaked"
        threshold = int(params["report_threshold"])
        count = ctx.count(j)
        special = ctx.risk.intelligible & frozenset(params["sensitive_or_unique"])
        if count >= threshold:
            return True, f"{count} people affected in Korea (threshold: {threshold} or more)"
        if special:
            return True, f"sensitive or unique identifying information leaked: {', '.join(sorted(special))}"
        if ctx.facts.breach.malicious and ctx.facts.breach.cause in MALICIOUS_EXTERNAL_CAUSES:
            return True, f"leak through unauthorised external access ({ctx.facts.breach.cause})"
        return False, f"{count} people in Korea (below {threshold}), no sensitive data, no hacking"


class HarmNotAvoided(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        remedied, why = CONDITIONS["not-remedied"].check(ctx, j, arg, params)
        if not remedied:
            return False, f"{why}: the measures taken effectively avoid harm"
        if not ctx.risk.intelligible:
            return False, "the data is unintelligible to others: harm is avoided"
        return True, "the measures taken do not rule out harm to individuals"


class AuEligible(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        remedied, why = CONDITIONS["not-remedied"].check(ctx, j, arg, params)
        if not remedied:
            return False, f"{why} (s 26WF: not an eligible data breach)"
        if ctx.risk.level == "high":
            return True, "serious harm to individuals is likely: an eligible data breach (s 26WE)"
        return False, "serious harm is not (yet) shown to be likely"


class AuSuspected(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        eligible, _ = CONDITIONS["au-eligible"].check(ctx, j, arg, params)
        if eligible:
            return False, "the assessment is already concluded: reasonable grounds to believe it is eligible"
        if ctx.risk.level == "none":
            return False, "no reasonable grounds to suspect serious harm"
        return True, "reasonable grounds to suspect an eligible data breach: assess it (s 26WH)"


class Nis2Significant(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        facts = ctx.facts
        breach, impact = facts.breach, facts.service_impact
        digital = facts.controller.sector in params.get("digital_providers", ())
        compromised = bool(breach.types & {"confidentiality", "integrity"})
        if digital:
            # Implementing Regulation (EU) 2024/2690.
            users_cap = int(params["users_cap"])
            share = float(params["users_share"])
            threshold = min(users_cap, int(impact.eu_users_total * share)) if impact.eu_users_total else users_cap
            if compromised and breach.malicious:
                what = "data (including model weights)" if "model-weights" in facts.data.categories else "data"
                kinds = "/".join(sorted(breach.types & {"confidentiality", "integrity"}))
                return True, (
                    f"{kinds} of stored {what} compromised by a suspected malicious action (Reg. 2024/2690 Arts. 7-13)"
                )
            secrets = TRADE_SECRETS & facts.data.categories
            if secrets and "confidentiality" in breach.types and breach.exfiltration in ("confirmed", "likely"):
                named = ", ".join(sorted(secrets))
                return True, (
                    f"capable of causing the exfiltration of trade secrets ({named}) (Reg. 2024/2690 Art. 3(1)(b))"
                )
            if impact.users_affected > threshold:
                return True, f"{impact.users_affected} users affected, more than {threshold} (Reg. 2024/2690)"
            users = impact.users_affected
            return False, f"no Reg. 2024/2690 criterion met ({users} users affected, no malicious compromise)"
        if facts.containment.operational_impact == "significant":
            return True, "severe operational disruption of the service (Art. 23(3)(a))"
        if ctx.risk.level == "high":
            return True, "capable of causing considerable damage to natural persons (Art. 23(3)(b))"
        return False, "no severe operational disruption and no considerable damage to others (Art. 23(3))"


class AiSeriousIncident(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        facts = ctx.facts
        involved = facts.breach.cause == "llm-output-leak" or bool(AI_CATEGORIES & facts.data.categories)
        if not involved:
            return False, "the high-risk AI system was not involved in the incident"
        if CONDITIONS["ai-critical-infrastructure"].check(ctx, j, arg, params)[0]:
            return True, "serious and irreversible disruption of critical infrastructure (Art. 3(49)(b))"
        if ctx.risk.personal_data and ctx.risk.level != "none":
            return True, (
                "infringement of Union law protecting fundamental rights (data protection) through the AI system"
                " (Art. 3(49)(c))"
            )
        return False, "no death, harm to health, critical-infrastructure disruption or fundamental-rights infringement"


class AiCriticalInfrastructure(Condition):
    uses_params = True

    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        facts = ctx.facts
        critical = facts.controller.sector in params.get("critical_sectors", ())
        if critical and facts.containment.operational_impact == "significant":
            return True, "critical infrastructure disrupted"
        return False, "no critical infrastructure disrupted"


class AiDeployer(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        system = ctx.facts.ai_system
        if system is not None and system.role == "deployer":
            return True, "you deploy the system (Art. 26(5): inform the provider first)"
        return False, "you are the provider"


class SecMaterial(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        materiality = ctx.facts.breach.materiality
        if materiality == "material":
            return True, "the registrant determined the cybersecurity incident to be material"
        if materiality == "not-material":
            return False, "the registrant determined the incident is not material"
        return False, "materiality not yet determined: decide without unreasonable delay after discovery"


class SmallEnterprise(Condition):
    def check(self, ctx: Context, j: str, arg: str | None, params: Params) -> Result:
        if ctx.facts.controller.size in ("micro", "small"):
            return True, "small-size processing agent"
        return False, "not a small-size agent"


CONDITIONS: dict[str, Condition] = {
    "personal-data": PersonalData(),
    "risk": Risk(),
    "residents": Residents(),
    "confidentiality": Confidentiality(),
    "not-remedied": NotRemedied(),
    "covered-pi": CoveredPi(),
    "harm-possible": HarmPossible(),
    "pdpa-notifiable": PdpaNotifiable(),
    "pdpa-significant-harm": PdpaSignificantHarm(),
    "lgpd-relevant": LgpdRelevant(),
    "appi-reportable": AppiReportable(),
    "wrongful-purpose": WrongfulPurpose(),
    "pipa-report": PipaReport(),
    "harm-not-avoided": HarmNotAvoided(),
    "au-eligible": AuEligible(),
    "au-suspected": AuSuspected(),
    "nis2-significant": Nis2Significant(),
    "ai-serious-incident": AiSeriousIncident(),
    "ai-critical-infrastructure": AiCriticalInfrastructure(),
    "ai-deployer": AiDeployer(),
    "sec-material": SecMaterial(),
    "small-enterprise": SmallEnterprise(),
}

USES_PARAMS = frozenset(name for name, condition in CONDITIONS.items() if condition.uses_params)


@lru_cache(maxsize=512)
def compile_condition(condition: str) -> tuple[Condition, str | None]:
    """ "residents:501" → (the residents condition, "501"); the split is done once per distinct condition."""
    name, _, arg = condition.partition(":")
    return CONDITIONS[name], arg or None


def evaluate(condition: str, ctx: Context, jurisdiction: str, params: Params) -> Result:
    checker, arg = compile_condition(condition)
    return checker.check(ctx, jurisdiction, arg, params)
