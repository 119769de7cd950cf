"""The regime data files (one TOML file per law under `obligations/regimes/`) and their validated model.

A regime file says, for one law: where it reaches (`scope`), from when it applies, who reviewed it last,
and its rules. Each rule names its recipient, authority, article (`basis`), official `source` URL, the
deadline in words and as a machine clock, the named conditions (`requires`) that must all hold for the
duty to arise, the content the message must carry, and dated or conditional variants (a deadline that
changed on a given date, a doubled deadline for small enterprises). Conditions are names of the
`Condition` classes registered in `predicates.py`; the loader rejects unknown names, so a typo in a rule
is caught at load time, not during an incident.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from leakline.config import format_validation_error
from leakline.obligations.errors import RegimeDataError

Recipient = Literal[
    "supervisory-authority",
    "data-subjects",
    "controller",
    "internal-record",
    "csirt",
    "market-surveillance-authority",
    "attorney-general",
    "regulator",
    "consumer-reporting-agencies",
    "public-filing",
]
Scope = Literal["eu-eea", "uk", "country", "us-state", "sec", "nis2", "ai-act"]
ClockAnchor = Literal["awareness", "discovery", "determination", "assessment"]
Size = Literal["micro", "small", "medium", "large"]

REGIME_IDS: tuple[str, ...] = (
    "gdpr-33",
    "gdpr-34",
    "gdpr-33-5",
    "uk-gdpr-33",
    "uk-gdpr-34",
    "nis2-23-early-warning",
    "nis2-23-notification",
    "nis2-23-final",
    "ai-act-73",
    "fadp-24",
    "lgpd-48",
    "pdpa-26d",
    "au-ndb",
    "pipeda-10-1",
    "qc-law25",
    "appi-26",
    "pipa-34",
    "pipl-57",
    "dpdp-8-6",
    "us-ca-1798-82",
    "us-ny-899-aa",
    "us-tx-521-053",
    "us-fl-501-171",
    "us-co-6-1-716",
    "us-wa-19-255-010",
    "sec-8k-1-05",
)
_T = TypeVar("_T")
# TOML arrays arrive as lists; a tuple field accepts them (everything else stays strict).
Seq = Annotated[tuple[_T, ...], Strict(False)]

_AFTER = re.compile(r"^after:(?P<rule>[a-z0-9-]+)@(?P<recipient>[a-z-]+)$")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_URL = re.compile(r"^https://\S+$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ClockSpec(_Spec):
    """When a deadline falls: `amount` `unit` after `anchor` (a fact's time, or another rule's due time)."""

    anchor: str
    hours: float | None = None
    days: int | None = None
    business_days: int | None = None
    months: int | None = None
    timezone: str = "UTC"
    holidays: str | None = None
    """Country (ISO 3166) whose public holidays are not business days."""
    at: str | None = None
    """Local cut-off "HH:MM" for day-based deadlines; default: end of the day."""

    @model_validator(mode="after")
    def _one_unit(self) -> ClockSpec:
        units = [u for u in (self.hours, self.days, self.business_days, self.months) if u is not None]
        if len(units) != 1:
            raise ValueError("a clock needs exactly one of hours, days, business_days, months")
        if self.business_days is not None and self.holidays is None:
            raise ValueError("business_days needs holidays = <country>")
        if self.at is not None and not _HH_MM.match(self.at):
            raise ValueError("at must be HH:MM")
        if self.anchor not in ClockAnchor.__args__ and not _AFTER.match(self.anchor):  # type: ignore[attr-defined]
            raise ValueError(
                "anchor must be awareness, discovery, determination, assessment or after:<rule>@<recipient>"
            )
        return self


class Variant(_Spec):
    """A different deadline for breaches in a date window, for some enterprise sizes, or when a condition holds."""

    from_: date | None = Field(default=None, alias="from")
    until: date | None = None
    """Exclusive."""
    sizes: Seq[Size] | None = None
    when: str | None = None
    deadline: str
    clock: ClockSpec | None = None


class RuleSpec(_Spec):
    id: str
    recipient: Recipient
    authority: str
    """May contain {jurisdiction}; a regime's [authorities] table overrides it per jurisdiction."""
    basis: str
    source: str
    deadline: str
    clock: ClockSpec | None = None
    requires: Seq[str] = ()
    content: Seq[str]
    jurisdiction: str = "each"
    """"each": one obligation per jurisdiction the regime reaches; otherwise a fixed label such as "EU"."""
    applies_from: date | None = None
    variants: Seq[Variant] = ()
    controller_only: bool = True
    """The duty binds the controller/owner; a processor instead makes the regime's processor hop."""

    @field_validator("id")
    @classmethod
    def _known_id(cls, value: str) -> str:
        if value not in REGIME_IDS:
            raise ValueError(f"unknown regime id {value!r}")
        return value

    @field_validator("source")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError("source must be an https:// URL")
        return value


class ProcessorHop(_Spec):
    """What a processor (data intermediary, service provider, entrustee) owes its controller instead."""

    rule: str
    basis: str
    source: str
    deadline: str
    clock: ClockSpec | None = None
    requires: Seq[str] = ()
    content: Seq[str]
    jurisdiction: str = "each"


class RegimeSpec(_Spec):
    id: str
    name: str
    scope: Scope
    country: str | None = None
    """For the `country` and `us-state` scopes: the ISO 3166 code the law protects."""
    last_reviewed: date
    applies_from: date | None = None
    sources: Seq[str]
    notes: str = ""
    params: dict[str, int | float | str | list[str]] = Field(default_factory=dict)
    authorities: dict[str, str] = Field(default_factory=dict)
    processor: ProcessorHop | None = None
    rules: Seq[RuleSpec]

    @model_validator(mode="after")
    def _scope_country(self) -> RegimeSpec:
        if self.scope in ("country", "us-state") and not self.country:
            raise ValueError(f"scope {self.scope!r} needs country = <ISO 3166 code>")
        return self


@lru_cache(maxsize=1)
def load_regimes() -> tuple[RegimeSpec, ...]:
    """All packaged regime files, validated once per process."""
    regimes = load_regime_files(resources.files("leakline.obligations").joinpath("regimes"))
    seen = {rule.id for regime in regimes for rule in regime.rules}
    missing = sorted(set(REGIME_IDS) - seen)
    if missing:
        raise RegimeDataError(f"regime data has no rules for: {', '.join(missing)}")
    return regimes


def load_regime_files(folder: Traversable) -> tuple[RegimeSpec, ...]:
    """Every `*.toml` in `folder`, validated, with each `requires`/`when` name checked against the conditions."""
    from leakline.obligations.predicates import CONDITIONS

    regimes: list[RegimeSpec] = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml"):
            continue
        source = f"regimes/{entry.name}"
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RegimeDataError(f"{source}: invalid TOML: {exc}") from None
        try:
            regime = RegimeSpec.model_validate(data)
        except ValidationError as exc:
            raise RegimeDataError(format_validation_error(source, exc)) from None
        conditions = [c for rule in regime.rules for c in rule.requires]
        conditions += [v.when for rule in regime.rules for v in rule.variants if v.when]
        conditions += list(regime.processor.requires) if regime.processor else []
        for condition in conditions:
            if condition.split(":", 1)[0] not in CONDITIONS:
                raise RegimeDataError(f"{source}: unknown condition {condition!r}")
        for key, value in regime.params.items():
            for item in value if isinstance(value, list) else []:
                _, _, since = item.partition("@")
                try:
                    date.fromisoformat(since) if since else None
                except ValueError:
                    raise RegimeDataError(f"{source}: params.{key}: {item!r}: expected name@YYYY-MM-DD") from None
        regimes.append(regime)
    return tuple(regimes)
