"""The incident facts that `assess()` reads, and how they are loaded from JSON or TOML.

Facts are a strict pydantic model: unknown keys, wrong types and missing required keys are errors that
name the dotted field and the expected type (``facts.json: data.subjects: expected an integer, got '12'``).
Times must carry a UTC offset; they are normalised to UTC. The model is frozen so that one `Facts` value
can be assessed again and again (the incident workflow re-assesses whenever a fact changes) with the
same result. Facts hold counts and categories, never a person's data.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from leakline.obligations.errors import FactsFileError, FactsValidationError

BreachType = Literal["confidentiality", "integrity", "availability"]
Cause = Literal[
    "ransomware",
    "hacking",
    "exfiltration",
    "credential-stuffing",
    "insider",
    "misdelivery",
    "lost-device",
    "theft",
    "misconfiguration",
    "software-bug",
    "social-engineering",
    "llm-output-leak",
    "unknown",
]
Category = Literal[
    "identity",
    "contact",
    "address",
    "date-of-birth",
    "financial",
    "payment-card",
    "credentials",
    "password-hashes",
    "government-id",
    "special-category",
    "health",
    "children",
    "location",
    "prompts",
    "model-outputs",
    "model-weights",
    "business",
]
Sector = Literal[
    "retail",
    "online-marketplace",
    "online-search-engine",
    "social-network",
    "cloud",
    "managed-services",
    "healthcare",
    "finance",
    "energy",
    "transport",
    "public",
    "other",
]
Size = Literal["micro", "small", "medium", "large"]
Role = Literal["controller", "processor"]
Exfiltration = Literal["confirmed", "likely", "ruled-out", "unknown"]
Hashing = Literal["strong", "weak", "none"]
Impact = Literal["none", "minor", "significant"]
Materiality = Literal["material", "not-material", "undetermined"]
AIRole = Literal["provider", "deployer"]

# ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision ("CA-QC", "US-CA").
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
# The officially assigned ISO 3166-1 alpha-2 codes, and XK (Kosovo: user-assigned, but the code the EU and
# most registries use). A well-formed code outside the list ("XX", "ZZ") is a typo or a placeholder; were it
# accepted, its people would be counted in no jurisdiction and assessed under no law.
_ISO_3166_1 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
    BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
    FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN
    IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
    PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE
    YT ZA ZM ZW XK
"""
COUNTRIES = frozenset(_ISO_3166_1.split())
# ISO 3166-2:US: the states, the District of Columbia and the outlying areas. US breach laws are state laws,
# so a wrong state code ("US-XX") is refused like a wrong country code rather than assessed under none.
_ISO_3166_2_US = """
    AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH
    OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR UM VI
"""
US_STATES = frozenset(_ISO_3166_2_US.split())


def aware_datetime(value: Any) -> Any:
    """Accept a TOML offset date-time or an ISO 8601 string; insist on an offset; normalise to UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            # Python names what is impossible in a well-formed date ("day is out of range for month").
            why = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"
            raise ValueError(f"expected an ISO 8601 date-time with a UTC offset{why}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("expected an ISO 8601 date-time with a UTC offset (e.g. +00:00 or Z)")
        return value.astimezone(UTC)
    return value


AwareDatetime = Annotated[datetime, BeforeValidator(aware_datetime)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Free text the notices quote as written (non-empty once trimmed)."""


def _omit_unset(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Leave the notice-only fields out of a dump while they are unset, so that facts written before they
    existed dump (and are stored) exactly as before."""
    return {key: value for key, value in data.items() if not (key in keys and value is None)}


# Codes people write that ISO 3166 spells differently or that name no single jurisdiction.
_MISSPELT = {
    "EU": "use the member states' codes (DE, FR, ...), not 'EU'",
    "UK": "the ISO 3166 code of the United Kingdom is 'GB'",
    "EL": "the ISO 3166 code of Greece is 'GR'",
}


STORED = "stored"
"""Validation context key: the facts were stored by an earlier version (see `parse_facts`)."""


def _is_stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(STORED))


def _check_jurisdiction(code: str, info: ValidationInfo) -> str:
    if code in _MISSPELT:
        raise ValueError(_MISSPELT[code])
    if not _JURISDICTION.match(code):
        raise ValueError("expected an ISO 3166 code such as 'DE' or 'US-CA'")
    if _is_stored(info):
        return code  # checked on input since this version; earlier stored facts must still load
    country, _, subdivision = code.partition("-")
    if country not in COUNTRIES:
        raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country code (such as 'DE', 'FR', 'US')")
    if country == "US" and subdivision and subdivision not in US_STATES:
        raise ValueError(f"{code!r} is not a US state or territory (ISO 3166-2:US, such as 'US-CA', 'US-NY')")
    return code


JurisdictionCode = Annotated[str, AfterValidator(_check_jurisdiction)]


class Controller(_Model):
    establishments: Annotated[tuple[JurisdictionCode, ...], Strict(False)]
    """Where the organisation is established, main establishment first (ISO 3166 codes)."""
    role: Role = "controller"
    sector: Sector = "other"
    size: Size = "large"
    sec_registrant: bool = False


class Breach(_Model):
    types: Annotated[frozenset[BreachType], Strict(False)]
    cause: Cause = "unknown"
    malicious: bool = False
    exfiltration: Exfiltration = "unknown"
    materiality: Materiality = "undetermined"
    """SEC Form 8-K Item 1.05: has the registrant determined the incident to be material?"""

    @field_validator("types")
    @classmethod
    def _not_empty(cls, value: frozenset[str]) -> frozenset[str]:
        if not value:
            raise ValueError("expected at least one of 'confidentiality', 'integrity', 'availability'")
        return value


class Protection(_Model):
    encrypted: bool = False
    """The data was encrypted *as it left* the organisation's control (a stolen encrypted disk or backup), not
    merely encrypted at rest somewhere: data that an application decrypted and handed out is not encrypted."""
    key_compromised: bool = False
    hashing: Hashing = "none"


_CONFLICT = "facts_conflict"
"""The error type of a rule across fields; its `field` (dotted, relative to where it was raised) is named."""


def _conflict(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(_CONFLICT, message, {"field": field})


def people_listed(by_jurisdiction: dict[str, int]) -> int:
    """The people a breakdown by jurisdiction accounts for at least: a country's entry includes its
    subdivisions' ("CA" includes "CA-QC"), so a country given with its subdivisions counts the larger of the
    two; subdivisions given without their country add up."""
    countries: dict[str, int] = {}
    subdivisions: dict[str, int] = {}
    for code, n in by_jurisdiction.items():
        country, _, sub = code.partition("-")
        if sub:
            subdivisions[country] = subdivisions.get(country, 0) + n
        else:
            countries[country] = n
    return sum(max(countries.get(c, 0), subdivisions.get(c, 0)) for c in countries.keys() | subdivisions.keys())


def _grouped(n: int) -> str:
    return f"{n:,}"


class Data(_Model):
    categories: Annotated[frozenset[Category], Strict(False)]
    subjects: int = Field(ge=0)
    subjects_by_jurisdiction: dict[JurisdictionCode, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    vulnerable_subjects: bool = False
    protection: Protection = Field(default_factory=Protection)
    subject_categories: Annotated[tuple[Words, ...], Strict(False)] | None = None
    """Who the people are ("customers", "employees"), as the notices should name them (GDPR Art. 33(3)(a))."""
    records: int | None = Field(default=None, ge=0)
    """Approximate number of personal data records concerned (GDPR Art. 33(3)(a)); `subjects` counts people."""

    @field_validator("subject_categories")
    @classmethod
    def _some(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("expected a non-empty array (leave the field out while nobody knows)")
        return value

    @field_validator("subjects_by_jurisdiction")
    @classmethod
    def _within_subjects(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        # A breakdown that adds up to more people than `subjects` makes the notices contradict themselves
        # (the authority reads 1,200 people and a country list of 1,700) and the thresholds count people who
        # are not in the total. `subjects` is read first; when it is itself invalid, its own error says so.
        subjects = info.data.get("subjects")
        listed = people_listed(value)
        if isinstance(subjects, int) and listed > subjects:
            shown = ", ".join(f"{code} {_grouped(n)}" for code, n in value.items())
            raise _conflict(
                "",
                f"the people listed per jurisdiction add up to {_grouped(listed)} ({shown}), more than "
                f"data.subjects ({_grouped(subjects)}); data.subjects counts everyone affected: raise it to at "
                f"least {_grouped(listed)} or correct the breakdown",
            )
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _omit_unset(handler(self), ("subject_categories", "records"))


class Containment(_Model):
    availability_restored_after_hours: float | None = Field(default=None, ge=0)
    """None: availability was never restored (or not yet)."""
    operational_impact: Impact = "none"
    recipient_trusted: bool = False
    data_retrieved_or_deleted: bool = False
    misuse_observed: bool = False


class ServiceImpact(_Model):
    users_affected: int = Field(default=0, ge=0)
    unavailable_hours: float = Field(default=0.0, ge=0)
    eu_users_total: int | None = Field(default=None, gt=0)
    """All users of the service in the Union, for the "5 % of users" thresholds of Regulation 2024/2690."""


class AISystem(_Model):
    high_risk: bool = False
    """A high-risk AI system under Art. 6 / Annex III of the AI Act (Regulation (EU) 2024/1689)."""
    role: AIRole = "provider"


_NOTICE_FIELDS = (
    "occurred_at",
    "occurred_from",
    "occurred_until",
    "occurred_estimated",
    "law_enforcement_delay",
    "delay_reasons",
    "identity_protection_enrolment",
    "description",
)
# Causes whose data reaches the unauthorised party decrypted, whatever protected it at rest.
_PLAINTEXT_CAUSES = {"llm-output-leak": "an LLM answer reaches its reader as plain text"}


class Facts(_Model):
    aware_at: AwareDatetime
    occurred_at: AwareDatetime | None = None
    """When the breach happened, where one moment is known or estimated (Cal. Civ. Code § 1798.82(d)(2)(B):
    "the date of the breach, the estimated date of the breach, or the date range"). Excludes the range."""
    occurred_from: AwareDatetime | None = None
    """The start of the period within which the breach occurred."""
    occurred_until: AwareDatetime | None = None
    """The end of that period (needs `occurred_from`); unset while the end is not known."""
    occurred_estimated: bool | None = None
    """True when `occurred_at` or the range is an estimate, so that the notices say so."""
    discovered_at: AwareDatetime | None = None
    determined_at: AwareDatetime | None = None
    assessed_at: AwareDatetime | None = None
    """When the organisation concluded its assessment that the breach is notifiable (PDPA s 26D)."""
    controller: Controller
    breach: Breach
    data: Data
    containment: Containment = Field(default_factory=Containment)
    service_impact: ServiceImpact = Field(default_factory=ServiceImpact)
    ai_system: AISystem | None = None
    law_enforcement_delay: bool | None = None
    """Whether a law-enforcement investigation delayed the notice to people (Cal. Civ. Code § 1798.82(d)(2))."""
    delay_reasons: Words | None = None
    """Why the authority is notified more than 72 hours after awareness (GDPR Art. 33(1))."""
    identity_protection_enrolment: Words | None = None
    """How people enrol in the identity-theft protection offered when government ids leaked (§ 1798.82(d)(2)(G))."""
    description: Words | None = None
    """What happened, as the notices describe the breach (GDPR Art. 33(3)(a) "the nature of the breach"), in
    the language of the notices; without it they quote the first signal's summary or the incident's title."""

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Facts:
        cause = self.breach.cause
        if self.data.protection.encrypted and cause in _PLAINTEXT_CAUSES:
            # The encryption exemptions (GDPR Art. 34(3)(a), "unencrypted" in § 1798.82) would remove every duty
            # for data that was readable when it left: refuse rather than silently assess it as harmless.
            raise _conflict(
                "data.protection.encrypted",
                f"true contradicts breach.cause {cause!r}: {_PLAINTEXT_CAUSES[cause]}, so the encryption "
                "exemptions cannot apply; `encrypted` describes the data as it left (set it to false, or "
                "correct breach.cause if encrypted data was taken some other way)",
            )
        self._check_occurrence(stored=_is_stored(info))
        return self

    def _check_occurrence(self, *, stored: bool) -> None:
        if self.occurred_at is not None and (self.occurred_from or self.occurred_until) is not None:
            field = "occurred_from" if self.occurred_from is not None else "occurred_until"
            raise _conflict(
                "occurred_at",
                f"give either occurred_at (one moment) or {field} (a period), not both",
            )
        if self.occurred_until is not None and self.occurred_from is None:
            raise _conflict(
                "occurred_until",
                "needs occurred_from (the start of the period within which the breach occurred)",
            )
        if (
            self.occurred_from is not None
            and self.occurred_until is not None
            and self.occurred_until < self.occurred_from
        ):
            raise _conflict(
                "occurred_until",
                f"{self.occurred_until.isoformat()} is before occurred_from ({self.occurred_from.isoformat()})",
            )
        start = self.occurred_at or self.occurred_from
        name = "occurred_at" if self.occurred_at is not None else "occurred_from"
        if start is not None and start > self.aware_at:
            raise _conflict(
                name,
                f"{start.isoformat()} is after aware_at ({self.aware_at.isoformat()}): nobody becomes aware of a "
                "breach before it happens",
            )
        # Checked on input since this version; facts stored by an earlier one must still load and be reassessed.
        discovered = None if stored else self.discovered_at
        if discovered is not None and discovered > self.aware_at:
            # Awareness follows discovery (one learns of a breach, then becomes reasonably certain of it):
            # the other way round, the notices say the breach was detected after the controller knew of it,
            # and the discovery clocks (California, New York, Washington) start after the GDPR's.
            raise _conflict(
                "discovered_at",
                f"{discovered.isoformat()} is after aware_at ({self.aware_at.isoformat()}): the breach is "
                "discovered before or when the organisation becomes aware of it (occurred <= discovered <= "
                "aware); correct one of them, or leave discovered_at out if it is the moment of awareness",
            )
        if start is not None and discovered is not None and start > discovered:
            raise _conflict(
                name,
                f"{start.isoformat()} is after discovered_at ({discovered.isoformat()}): nobody discovers a "
                "breach before it happens",
            )
        if self.occurred_estimated is not None and start is None:
            raise _conflict("occurred_estimated", "needs occurred_at or occurred_from (the date it qualifies)")

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _omit_unset(handler(self), _NOTICE_FIELDS)

    @property
    def discovery(self) -> datetime:
        return self.discovered_at or self.aware_at

    @property
    def determination(self) -> datetime:
        return self.determined_at or self.aware_at

    @property
    def assessment(self) -> datetime:
        return self.assessed_at or self.determined_at or self.aware_at


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean (true or false)",
    "list_type": "an array",
    "tuple_type": "an array",
    "frozen_set_type": "an array",
    "dict_type": "a table/object",
    "model_type": "a table/object",
    "model_attributes_type": "a table/object",
    "datetime_type": "an ISO 8601 date-time with a UTC offset",
}


def _describe(error: Any) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == _CONFLICT:
        return str(error.get("msg", "invalid value"))  # names the fields it compares, and never a whole table
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind in ("literal_error", "enum"):
        expected = f"expected one of {ctx.get('expected', '')}"
    elif kind == "timezone_aware":
        expected = "expected an ISO 8601 date-time with a UTC offset (e.g. +00:00 or Z)"
    elif kind in _EXPECTED:
        expected = f"expected {_EXPECTED[kind]}"
    elif kind == "greater_than_equal":
        expected = f"expected a number >= {ctx.get('ge')}"
    elif kind == "greater_than":
        expected = f"expected a number > {ctx.get('gt')}"
    elif kind == "string_too_short":
        expected = "expected a non-empty string"
    elif kind == "value_error":
        expected = str(ctx.get("error", error.get("msg", "invalid value")))
    else:
        expected = str(error.get("msg", "invalid value"))
    got = error.get("input")
    if isinstance(got, (dict, list, tuple, set, frozenset)):
        return f"{expected}, got {type(got).__name__}"
    if isinstance(got, datetime) and got.tzinfo is None:
        # TOML's local date-time: show it as written, and how to write it with an offset.
        written = got.isoformat()
        return f"{expected}, got {written} (a TOML local date-time: add the offset, e.g. {written}+02:00)"
    if isinstance(got, (date, time)):
        return f"{expected}, got {got.isoformat()}"
    return f"{expected}, got {got!r}"


def format_errors(source: str, exc: ValidationError) -> str:
    """One line per problem: `source: dotted.field: what was expected, got what`."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[-1] == "[key]":
            loc[-1] = "(key)"
        if error.get("type") == _CONFLICT and (error.get("ctx") or {}).get("field"):
            loc.append(str(error["ctx"]["field"]))
        key = ".".join(loc) or "(top level)"
        lines.append(f"{source}: {key}: {_describe(error)}")
    return "\n".join(lines)


def parse_facts(data: Any, *, source: str, stored: bool = False) -> Facts:
    """Validate already-decoded facts; every problem is one line naming the field.

    `stored`: facts read back from the database, validated when they were given. Checks added since (country
    codes against ISO 3166, discovered_at <= aware_at) are not run again on them: an incident stored by an
    earlier version must still open, show and be reassessed after an upgrade."""
    if not isinstance(data, dict):
        raise FactsValidationError(f"{source}: (top level): expected a table/object, got {type(data).__name__}")
    try:
        return Facts.model_validate(data, context={STORED: stored})
    except ValidationError as exc:
        raise FactsValidationError(format_errors(source, exc)) from None


def decode_facts(raw: bytes, *, source: str, fmt: Literal["json", "toml", "auto"] = "auto") -> Facts:
    """Bytes → Facts. `auto` picks JSON when the first non-blank character is `{`, else TOML."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FactsFileError(f"{source}: not valid UTF-8 at byte offset {exc.start}") from None
    if fmt == "auto":
        fmt = "json" if text.lstrip().startswith("{") else "toml"
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            offset = len(text[: exc.pos].encode("utf-8"))
            raise FactsFileError(
                f"{source}: invalid JSON at byte offset {offset} (line {exc.lineno}, column {exc.colno}): {exc.msg}"
            ) from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise FactsFileError(f"{source}: invalid TOML: {exc}") from None
    return parse_facts(data, source=source)


# How far a facts date may be ahead of the clock it is checked against (clocks of laptops and servers differ).
FUTURE_TOLERANCE = timedelta(minutes=5)
_DATE_FIELDS = ("aware_at", "occurred_at", "occurred_from", "occurred_until", "discovered_at", "determined_at",
                "assessed_at")  # fmt: skip


def refuse_future_dates(facts: Facts, *, now: datetime, source: str) -> None:
    """Facts of something that happened: a date after `now` is a typo (2027 for 2026), and the deadlines
    counted from it would be weeks late. `leakline assess` models any dates; an incident's facts are checked."""
    for field in _DATE_FIELDS:
        value = getattr(facts, field)
        if value is not None and value > now + FUTURE_TOLERANCE:
            shown = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            raise FactsValidationError(
                f"{source}: {field}: {shown} is in the future (now {now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}); "
                "the deadlines are counted from these dates, so a wrong year or month would put them off by as much",
                hint="correct the date (ISO 8601 with a UTC offset, e.g. 2026-11-27T06:30:00+01:00)",
            )


def load_facts(path: str) -> Facts:
    """Read facts from a file (JSON by `.json`, TOML by `.toml`, otherwise sniffed) or from stdin (`-`)."""
    if path == "-":
        return decode_facts(sys.stdin.buffer.read(), source="<stdin>")
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise FactsFileError(f"{path}: no such file", hint="pass a JSON or TOML facts file, or - for stdin") from None
    except OSError as exc:
        raise FactsFileError(f"{path}: cannot read: {exc.strerror}") from None
    suffix = file.suffix.lower()
    fmt: Literal["json", "toml", "auto"] = "json" if suffix == ".json" else "toml" if suffix == ".toml" else "auto"
    return decode_facts(raw, source=path, fmt=fmt)
