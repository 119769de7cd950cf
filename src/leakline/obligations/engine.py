"""`assess(facts) -> Assessment`: which laws reach a breach, who must be told, by when and with what.

For every regime file: decide whether the law reaches the incident at all (its scope: establishment,
affected residents, sector and size, dates), and in which jurisdictions; then, per rule and
jurisdiction, evaluate the rule's conditions, pick the deadline variant in force, and compute `due_at`.
A processor gets the regime's processor → controller hop instead of the controller's duties. Rules that
do not apply are kept as `NotApplicable` entries with the reason, for `--explain`.

The function is deterministic: the same facts give the same obligations and reasons. The only input
besides the facts is `now`, which stamps `assessed_at` (read from the system clock when omitted). The
regime files, time zones and holiday calendars are loaded on first use and cached; nothing comes from
the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from leakline.obligations import clock
from leakline.obligations.errors import RegimeDataError
from leakline.obligations.facts import Facts
from leakline.obligations.predicates import EEA, EU, USES_PARAMS, Context, country_of, evaluate
from leakline.obligations.regimes import (
    REGIME_IDS,
    ClockSpec,
    ProcessorHop,
    Recipient,
    RegimeSpec,
    RuleSpec,
    Variant,
    load_regimes,
)
from leakline.obligations.risk import RiskLevel, assess_risk

_REGIME_ORDER = {regime_id: index for index, regime_id in enumerate(REGIME_IDS)}
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Obligation:
    """One duty under one law towards one recipient in one jurisdiction."""

    regime: str
    jurisdiction: str
    recipient: Recipient
    authority: str
    required: bool
    why: str
    due_at: datetime | None
    """UTC; None where the law sets no hard deadline ("without undue delay") or the duty does not arise."""
    deadline: str
    basis: str
    content: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "regime": self.regime,
            "jurisdiction": self.jurisdiction,
            "recipient": self.recipient,
            "authority": self.authority,
            "required": self.required,
            "why": self.why,
            "due_at": iso_utc(self.due_at),
            "deadline": self.deadline,
            "basis": self.basis,
            "content": list(self.content),
        }


@dataclass(frozen=True, slots=True)
class NotApplicable:
    """A rule that does not reach this incident at all, and why (for --explain)."""

    regime: str
    jurisdiction: str | None
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"regime": self.regime, "jurisdiction": self.jurisdiction, "why": self.why}


@dataclass(frozen=True, slots=True)
class Assessment:
    risk: RiskLevel
    reasons: tuple[str, ...]
    obligations: tuple[Obligation, ...]
    not_applicable: tuple[NotApplicable, ...]
    assessed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "risk": self.risk,
            "reasons": list(self.reasons),
            "assessed_at": iso_utc(self.assessed_at),
            "obligations": [o.to_dict() for o in self.obligations],
            "not_applicable": [n.to_dict() for n in self.not_applicable],
        }


def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sort_key(obligation: Obligation) -> tuple[datetime, int, str, str]:
    return (
        obligation.due_at or _FAR_FUTURE,
        _REGIME_ORDER[obligation.regime],
        obligation.jurisdiction,
        obligation.recipient,
    )


def assess(facts: Facts, *, now: datetime | None = None) -> Assessment:
    """Assess `facts` against every regime. `now` (default: the current time) only sets `assessed_at`."""
    if now is not None and now.tzinfo is None:
        raise ValueError("assess(now=...) needs a timezone-aware datetime")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    risk = assess_risk(facts)
    ctx = Context.build(facts, risk)
    obligations: list[Obligation] = []
    excluded: list[NotApplicable] = []
    for regime in load_regimes():
        jurisdictions, reason = _scope(regime, ctx)
        if not jurisdictions:
            excluded += _excluded(regime, reason)
            continue
        if facts.controller.role == "processor" and regime.processor is not None:
            _processor(regime, regime.processor, jurisdictions, ctx, obligations, excluded)
        else:
            _controller(regime, jurisdictions, ctx, obligations, excluded)
    obligations.sort(key=_sort_key)
    return Assessment(risk.level, risk.reasons, tuple(obligations), tuple(excluded), moment)


def uncovered_people(facts: Facts) -> tuple[str, ...]:
    """A warning per entry of `data.subjects_by_jurisdiction` with people whom no regime file reaches by
    where they live (a valid country, such as MX, whose law leakline does not know; a US state without a
    state breach law here; "US" without a state). They stay counted in `data.subjects` and the risk: the
    warning says that their own law was not assessed, so that a DPO checks it instead of reading the
    obligations as complete."""
    countries, exact = _residence_coverage()
    by_place = facts.data.subjects_by_jurisdiction
    warnings = []
    for code, n in by_place.items():
        country = country_of(code)
        if code == country:
            # A country's entry includes its subdivisions' ("US" 5 and "US-CA" 3: 2 people in no state given).
            n -= sum(m for c, m in by_place.items() if c != code and country_of(c) == country)
        if n <= 0 or code in exact or country in countries:
            continue
        people = f"{code} ({n:,} {'person' if n == 1 else 'people'}{' in no state given' if code == 'US' else ''})"
        if country == "US":
            states = ", ".join(sorted(c for c in exact if c.startswith("US-")))
            why = (
                "US breach laws are state laws, following the state people live in; give the states"
                if code == "US"
                else f"leakline knows the breach laws of {states} only"
            )
        else:
            why = f"no regime leakline knows covers {country}"
        warnings.append(
            f"data.subjects_by_jurisdiction: {people}: {why}; they count in data.subjects and the risk, but "
            "no law of where they live is assessed: check it yourself (`leakline regimes` lists the laws known)"
        )
    return tuple(warnings)


def _residence_coverage() -> tuple[frozenset[str], frozenset[str]]:
    """(countries whose residents some regime protects, codes of subdivisions a regime protects)."""
    countries: set[str] = set()
    exact: set[str] = set()
    for regime in load_regimes():
        if regime.scope == "eu-eea":
            countries |= EEA
        elif regime.scope == "uk":
            countries.add("GB")
        elif regime.scope in ("country", "us-state") and regime.country is not None:
            (exact if "-" in regime.country else countries).add(regime.country)
    return frozenset(countries), frozenset(exact)


_RULE_IDS: dict[str, tuple[str, ...]] = {}


def _rule_ids(regime: RegimeSpec) -> tuple[str, ...]:
    """The distinct regime ids of a regime file, in file order (memoised: regime files never change)."""
    ids = _RULE_IDS.get(regime.id)
    if ids is None:
        ids = _RULE_IDS[regime.id] = tuple(dict.fromkeys(rule.id for rule in regime.rules))
    return ids


_EXCLUDED: dict[tuple[str, str], tuple[NotApplicable, ...]] = {}
_EXCLUDED_MAX = 4096


def _excluded(regime: RegimeSpec, reason: str) -> tuple[NotApplicable, ...]:
    """The entries for a regime that does not reach the incident.

    They are immutable and the same few reasons recur in every assessment, so they are shared rather than
    rebuilt (building frozen dataclasses is a noticeable part of an assessment's cost).
    """
    key = (regime.id, reason)
    entries = _EXCLUDED.get(key)
    if entries is None:
        if len(_EXCLUDED) >= _EXCLUDED_MAX:
            _EXCLUDED.clear()
        entries = _EXCLUDED[key] = tuple(NotApplicable(rule_id, None, reason) for rule_id in _rule_ids(regime))
    return entries


def _controller(
    regime: RegimeSpec,
    jurisdictions: list[str],
    ctx: Context,
    obligations: list[Obligation],
    excluded: list[NotApplicable],
) -> None:
    fixed_done: set[tuple[str, str]] = set()
    for jurisdiction in jurisdictions:
        dues: dict[tuple[str, str], datetime | None] = {}
        for rule in regime.rules:
            label = jurisdiction if rule.jurisdiction == "each" else rule.jurisdiction
            if rule.jurisdiction != "each":
                if (rule.id, rule.recipient) in fixed_done:
                    continue
                fixed_done.add((rule.id, rule.recipient))
            obligation = _evaluate_rule(regime, rule, label, ctx, dues)
            if isinstance(obligation, NotApplicable):
                excluded.append(obligation)
            else:
                obligations.append(obligation)


def _processor(
    regime: RegimeSpec,
    hop: ProcessorHop,
    jurisdictions: list[str],
    ctx: Context,
    obligations: list[Obligation],
    excluded: list[NotApplicable],
) -> None:
    for rule_id in dict.fromkeys(rule.id for rule in regime.rules if rule.controller_only):
        why = f"the controller's duty; as a processor you notify the controller instead ({hop.basis})"
        excluded.append(NotApplicable(rule_id, None, why))
    # One hop per jurisdiction, or a single one when the regime file fixes its label (GDPR: "EU").
    labels = jurisdictions if hop.jurisdiction == "each" else [hop.jurisdiction]
    for jurisdiction in labels:
        holds, reasons = _conditions(hop.requires, ctx, jurisdiction, regime)
        due = _due(hop.clock, ctx, {}) if holds else None
        obligations.append(
            Obligation(
                regime=hop.rule,
                jurisdiction=jurisdiction,
                recipient="controller",
                authority="the controller you process the data for",
                required=holds,
                why=_why(hop.basis, holds, reasons),
                due_at=due,
                deadline=hop.deadline,
                basis=hop.basis,
                content=hop.content,
            )
        )
    for jurisdiction in jurisdictions:
        dues: dict[tuple[str, str], datetime | None] = {}
        for rule in regime.rules:
            if rule.controller_only:
                continue
            result = _evaluate_rule(regime, rule, jurisdiction, ctx, dues)
            if isinstance(result, NotApplicable):
                excluded.append(result)
            else:
                obligations.append(result)


def _conditions(
    requires: tuple[str, ...], ctx: Context, jurisdiction: str, regime: RegimeSpec
) -> tuple[bool, list[str]]:
    reasons: list[str] = []
    memo = ctx.memo
    for condition in requires:
        # Conditions that ignore the regime's params give the same answer for every regime.
        key = (regime.id if condition in USES_PARAMS else "", condition, jurisdiction)
        result = memo.get(key)
        if result is None:
            result = memo[key] = evaluate(condition, ctx, jurisdiction, regime.params)
        holds, why = result
        if not holds:
            return False, [why]
        reasons.append(why)
    return True, reasons


def _why(basis: str, holds: bool, reasons: list[str]) -> str:
    verdict = "required" if holds else "not required"
    return f"{verdict} under {basis}: " + "; ".join(reasons or ["always applies"])


def _anchor(anchor: str, ctx: Context, dues: dict[tuple[str, str], datetime | None]) -> datetime | None:
    facts = ctx.facts
    if anchor == "awareness":
        return facts.aware_at
    if anchor == "discovery":
        return facts.discovery
    if anchor == "determination":
        return facts.determination
    if anchor == "assessment":
        return facts.assessment
    rule_id, _, recipient = anchor.removeprefix("after:").partition("@")
    return dues.get((rule_id, recipient))


def _cutoff(spec: ClockSpec) -> time:
    if spec.at is None:
        return clock.END_OF_DAY
    hours, minutes = spec.at.split(":")
    return time(int(hours), int(minutes))


def _due(spec: ClockSpec | None, ctx: Context, dues: dict[tuple[str, str], datetime | None]) -> datetime | None:
    if spec is None:
        return None
    start = _anchor(spec.anchor, ctx, dues)
    if start is None:
        return None
    if spec.hours is not None:
        return clock.add_hours(start, spec.hours)
    if spec.days is not None:
        return clock.add_days(start, spec.days, spec.timezone, _cutoff(spec))
    if spec.business_days is not None and spec.holidays is not None:
        return clock.add_business_days(start, spec.business_days, spec.holidays, spec.timezone, _cutoff(spec))
    if spec.months is not None:
        return clock.add_months(start, spec.months)
    raise RegimeDataError(f"clock {spec.anchor!r}: no usable unit (ClockSpec validation should have caught this)")


def _gate_day(spec: ClockSpec | None, ctx: Context, dues: dict[tuple[str, str], datetime | None]) -> date:
    """The day that decides which dated version of a rule governs: its clock's anchor, else awareness.

    A rule that runs from another duty's deadline ("15 days after notifying residents") is dated by that
    deadline, so it follows the version of the law under which the first duty arose.
    """
    start = _anchor(spec.anchor, ctx, dues) if spec is not None else None
    return (start or ctx.facts.aware_at).astimezone(UTC).date()


def _variant(rule: RuleSpec, ctx: Context, jurisdiction: str, regime: RegimeSpec, day: date) -> Variant | None:
    for variant in rule.variants:
        if variant.from_ is not None and day < variant.from_:
            continue
        if variant.until is not None and day >= variant.until:
            continue
        if variant.sizes is not None and ctx.facts.controller.size not in variant.sizes:
            continue
        if variant.when is not None and not evaluate(variant.when, ctx, jurisdiction, regime.params)[0]:
            continue
        return variant
    return None


def _evaluate_rule(
    regime: RegimeSpec,
    rule: RuleSpec,
    jurisdiction: str,
    ctx: Context,
    dues: dict[tuple[str, str], datetime | None],
) -> Obligation | NotApplicable:
    variant = None
    if rule.applies_from is not None or rule.variants:  # most rules have neither: skip the date arithmetic
        day = _gate_day(rule.clock, ctx, dues)
        if rule.applies_from is not None and day < rule.applies_from:
            why = f"{rule.basis} applies from {rule.applies_from.isoformat()}; this clock started on {day.isoformat()}"
            return NotApplicable(rule.id, jurisdiction, why)
        variant = _variant(rule, ctx, jurisdiction, regime, day) if rule.variants else None
    deadline, spec = (variant.deadline, variant.clock) if variant else (rule.deadline, rule.clock)
    holds, reasons = _conditions(rule.requires, ctx, jurisdiction, regime)
    due = _due(spec, ctx, dues) if holds else None
    dues[(rule.id, rule.recipient)] = due
    authority = regime.authorities.get(jurisdiction, rule.authority).format(jurisdiction=jurisdiction)
    return Obligation(
        regime=rule.id,
        jurisdiction=jurisdiction,
        recipient=rule.recipient,
        authority=authority,
        required=holds,
        why=_why(rule.basis, holds, reasons),
        due_at=due,
        deadline=deadline,
        basis=rule.basis,
        content=rule.content,
    )


def _scope(regime: RegimeSpec, ctx: Context) -> tuple[list[str], str]:
    """The jurisdictions in which `regime` reaches the incident, or [] and the reason it does not."""
    facts = ctx.facts
    aware_day = facts.aware_at.date()
    if regime.applies_from is not None and aware_day < regime.applies_from:
        # No date of the incident in the text: the same few reasons then recur and are shared (_excluded).
        start = regime.applies_from.isoformat()
        return [], f"{regime.name} applies from {start}; this breach became known earlier"
    personal = ctx.risk.personal_data
    if regime.scope in ("eu-eea", "uk", "country", "us-state") and not personal:
        return [], f"{regime.name} covers personal data only; no personal data is affected"
    if regime.scope == "eu-eea":
        return _scope_eea(regime, ctx)
    if regime.scope == "uk":
        if ctx.established_in("GB") or ctx.count("GB") > 0:
            return ["GB"], ""
        return [], "no UK establishment and no affected people in the UK"
    if regime.scope == "country":
        return _scope_country(regime, ctx)
    if regime.scope == "us-state":
        state = _country(regime)
        if ctx.count(state) > 0:
            return [state], ""
        return [], f"no affected residents of {state}"
    if regime.scope == "sec":
        return _scope_sec(regime, ctx)
    if regime.scope == "nis2":
        return _scope_nis2(regime, ctx)
    return _scope_ai_act(regime, ctx)


def _country(regime: RegimeSpec) -> str:
    if regime.country is None:
        raise RegimeDataError(f"regime {regime.id}: scope {regime.scope!r} needs a country")
    return regime.country


_PARAM_LISTS: dict[tuple[str, str], frozenset[str]] = {}


def _param_list(regime: RegimeSpec, key: str) -> frozenset[str]:
    """A regime's list parameter as a set (memoised: regime files never change)."""
    cached = _PARAM_LISTS.get((regime.id, key))
    if cached is None:
        value = regime.params.get(key, [])
        if not isinstance(value, list):
            raise RegimeDataError(f"regime {regime.id}: params.{key} must be an array of strings")
        cached = _PARAM_LISTS[(regime.id, key)] = frozenset(str(item) for item in value)
    return cached


def _scope_eea(regime: RegimeSpec, ctx: Context) -> tuple[list[str], str]:
    establishments = [country_of(c) for c in ctx.facts.controller.establishments if country_of(c) in EEA]
    if establishments:
        # One-stop shop (Art. 56): the lead authority is where the main establishment is (listed first).
        return [establishments[0]], ""
    # Without an establishment the one-stop shop does not apply (EDPB Guidelines 9/2022 §73): every
    # authority of a member state with affected people must be notified.
    affected = sorted({country_of(c) for c, n in ctx.facts.data.subjects_by_jurisdiction.items() if n > 0} & EEA)
    if affected:
        return affected, ""
    return [], "no establishment in the EU/EEA and no affected people there"


def _scope_country(regime: RegimeSpec, ctx: Context) -> tuple[list[str], str]:
    country = _country(regime)
    if not (ctx.established_in(country) or ctx.count(country) > 0):
        return [], f"no establishment in {country} and no affected people there"
    controller = ctx.facts.controller
    exempt_sizes = _param_list(regime, "exempt_sizes")
    always = _param_list(regime, "covered_sectors_regardless_of_size")
    if controller.size in exempt_sizes and controller.sector not in always:
        return [], str(regime.params.get("exempt_reason", f"{controller.size} organisations are exempt"))
    return [country], ""


def _scope_sec(regime: RegimeSpec, ctx: Context) -> tuple[list[str], str]:
    controller = ctx.facts.controller
    if not controller.sec_registrant:
        return [], "not an SEC registrant"
    small_sizes = _param_list(regime, "smaller_reporting_sizes")
    small_from = date.fromisoformat(str(regime.params["smaller_reporting_from"]))
    day = ctx.facts.determination.date()
    if controller.size in small_sizes and day < small_from:
        return [], f"smaller reporting companies must comply from {small_from.isoformat()}"
    return ["US"], ""


def _scope_nis2(regime: RegimeSpec, ctx: Context) -> tuple[list[str], str]:
    controller = ctx.facts.controller
    params = regime.params
    sectors, sizes, digital = (_param_list(regime, k) for k in ("sectors", "sizes", "digital_providers"))
    if controller.sector not in sectors:
        return [], f"sector {controller.sector!r} is not in NIS2 Annex I or II"
    if controller.size not in sizes and controller.sector != "public":
        return [], f"{controller.size} enterprises are below the NIS2 size cap (Art. 2(1))"
    dora_from = date.fromisoformat(str(params["dora_from"]))
    if controller.sector == "finance" and ctx.facts.aware_at.date() >= dora_from:
        return [], "financial entities report under DORA (Regulation (EU) 2022/2554), sector-specific law (NIS2 Art. 4)"
    establishments = list(dict.fromkeys(country_of(c) for c in controller.establishments if country_of(c) in EU))
    if establishments:
        if controller.sector in digital:
            return establishments[:1], ""  # Art. 26(1)(b): main establishment in the Union
        return establishments, ""
    by_place = ctx.facts.data.subjects_by_jurisdiction
    eu_users = sorted(((n, c) for c, n in by_place.items() if country_of(c) in EU and n > 0), reverse=True)
    if controller.sector in digital and eu_users:
        # Art. 26(3): a provider outside the Union designates a representative where it offers services.
        return [country_of(eu_users[0][1])], ""
    return [], "no establishment in the EU (and not a digital provider offering services there)"


def _scope_ai_act(regime: RegimeSpec, ctx: Context) -> tuple[list[str], str]:
    system = ctx.facts.ai_system
    if system is None or not system.high_risk:
        return [], "no high-risk AI system (AI Act Art. 6, Annex III) is involved"
    by_place = ctx.facts.data.subjects_by_jurisdiction
    occurred = sorted({country_of(c) for c, n in by_place.items() if n > 0} & EU)
    if occurred:
        return occurred, ""
    established = [country_of(c) for c in ctx.facts.controller.establishments if country_of(c) in EU]
    if established:
        return established[:1], ""
    return [], "the AI system is not placed on the market or used in the EU"
