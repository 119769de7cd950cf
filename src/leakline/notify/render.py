"""Breach-notification text: `render(kind, language=..., context=...)` turns an incident, an obligation
and a recipient into the subject and body of one message, from Jinja2 templates.

Templates ship in the package as ``templates/<language>/<kind>.j2`` (a ``subject`` and a ``body`` block
in one file) and a user folder (`template_dir`, or ``[notify] templates`` in leakline.toml) overrides
any of them by holding a file at the same relative path; a user template can extend the shipped one as
``builtin/<language>/<kind>.j2``. Rendering is strict: a key the template reads but the context lacks
is an error that names the dotted key, the template and the line, never an empty gap in a notice to a
regulator. Python derives language-neutral codes from the facts (likely consequences, measures, what
is still unknown for phased reporting under GDPR Art. 33(4)); every word people read lives in the
templates, so translations and overrides stay in one place. A language without a template falls back
to English, and `Rendered.language` says which language was used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from leakline.errors import ConfigError
from leakline.notify.errors import NotifyError

if TYPE_CHECKING:
    import jinja2

    from leakline.config import Settings


class MessageKind(StrEnum):
    SUPERVISORY_AUTHORITY = "supervisory-authority"
    NIS2_EARLY_WARNING = "nis2-early-warning"
    NIS2_NOTIFICATION = "nis2-notification"
    NIS2_FINAL_REPORT = "nis2-final-report"
    DATA_SUBJECT = "data-subject"
    DATA_SUBJECT_US = "data-subject-us"
    US_SAMPLE_COPY = "us-sample-copy"
    INTERNAL_COMPLIANCE = "internal-compliance"
    OWNER_TEAM = "owner-team"
    EXECUTIVE_BRIEF = "executive-brief"


LANGUAGES = ("en", "de", "fr")
DEFAULT_LANGUAGE = "en"
TEMPLATE_SUFFIX = ".j2"
BUILTIN_PREFIX = "builtin"
PACKAGE_TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_BLOCK = "subject"
BODY_BLOCK = "body"
REQUIRED_KEYS = ("organisation", "incident", "obligation", "recipient", "signal", "now")
# Context values that are instants; each must be ISO 8601 with a UTC offset (or None where allowed).
_DATE_KEYS: tuple[tuple[str, ...], ...] = (
    ("incident", "detected_at"),
    ("incident", "aware_at"),
    ("obligation", "due_at"),
)
_PATH_ATTRIBUTE = "_leakline_path"
_TABLE_MARK = "\x00"
# BCP 47 shape, loosely: a 2-3 letter language, then subtags. Also keeps paths out of template names.
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
# Values the templates translate through their tables; anything else is refused before rendering.
_ENUMERATED: dict[str, tuple[str | None, ...]] = {
    "incident.status": ("detected", "triaged", "contained", "notifying", "closed"),
    "incident.risk": ("none", "risk", "high", None),
    "signal.surface": ("frontend", "backend", "infrastructure", None),
}
ALERT_REASONS = ("reminder", "overdue", "unacknowledged", "dead-letter")
"""Why an internal alert was sent besides the incident itself (the optional `alert` context key)."""
_GDPR_HOURS = 72
_BLANK_RUNS = re.compile(r"\n{3,}")
_LIVE_STATUSES = frozenset({"contained", "notifying", "closed"})
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# What the approver must fill in (docs/templates.md, "Placeholders for the approver"), in every language.
PLACEHOLDER = re.compile(r"\[(?:TO COMPLETE|VOR DEM VERSAND ERGÄNZEN|À COMPLÉTER)\b[^\]]*\]")
_REDACTED = "'…'"


class TemplateError(NotifyError):
    """A message could not be rendered; the message names the template and what is wrong.

    Errors raised while a template runs also carry `file`, `line` and `reason` apart, for records that
    must name the template without quoting the message (`where()`).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        line: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.reason = reason

    def where(self) -> str:
        """`<file>:<line>: <reason>` (the message itself when the error was not raised by a template)."""
        if self.file is None or self.reason is None:
            return self.message
        return f"{self.file}:{self.line}: {self.reason}" if self.line is not None else f"{self.file}: {self.reason}"


class InvalidLanguage(TemplateError):
    """The language is not a language tag ("de", "fr-CA"); templates are filed by its base code."""


class UnknownMessageKind(TemplateError):
    """The kind is not one of `MessageKind`."""


class TemplateNotFound(TemplateError):
    """Neither the user folder nor the package holds a template for this kind (in any fallback language)."""


class TemplateSyntaxError(TemplateError):
    """A template is not valid Jinja2; names the file and line."""


class TemplateStructureError(TemplateError):
    """A template lacks its `subject` or `body` block, or its subject is empty or spans lines."""


class MissingContextKey(TemplateError):
    """The template reads a key the context does not hold."""


class InvalidContextValue(TemplateError):
    """A context value has the wrong shape (a date without offset, facts that do not validate)."""


class TemplateRuntimeError(TemplateError):
    """A template failed while rendering for another reason (a filter on the wrong type); names file and line."""


class TemplateDirError(ConfigError):
    """The user template folder does not exist or is not a folder."""


class NotifySettings(BaseModel):
    """`[notify]` in leakline.toml."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    templates: str | None = None
    """Folder of user templates (`<language>/<kind>.j2`), relative to leakline.toml's folder."""


def templates_dir(settings: Settings) -> Path | None:
    """The user template folder of `[notify] templates`, resolved against the settings file's folder."""
    configured = settings.notify.templates
    if configured is None:
        return None
    path = Path(configured).expanduser()
    if not path.is_absolute() and settings.source is not None:
        path = Path(settings.source).parent / path
    return path


@dataclass(frozen=True)
class Rendered:
    """One rendered message: a one-line subject, a plain-text body, and which template and language made it."""

    subject: str
    body: str
    kind: MessageKind
    language: str
    """The language the message is written in (English when the requested one has no template)."""
    requested_language: str
    template: str
    """Which file won: `builtin/<language>/<kind>.j2` or the path of the user's template."""

    @property
    def fell_back(self) -> bool:
        return self.language != self.requested_language


def render(
    kind: MessageKind | str,
    language: str = DEFAULT_LANGUAGE,
    context: Mapping[str, Any] | None = None,
    *,
    template_dir: str | Path | None = None,
) -> Rendered:
    """Render one message. Raises a `TemplateError` subclass that names the template and the key at fault."""
    message_kind = _kind(kind)
    requested = normalise_language(language)
    user_dir = _user_dir(template_dir)
    chosen_language, name = _choose_template(message_kind, requested, user_dir)
    if context is None:
        raise MissingContextKey(f"{name}: no context given (expected keys: {', '.join(REQUIRED_KEYS)})")
    _check_context(name, context)
    variables = _template_variables(name, message_kind, chosen_language, context)
    env = _environment(str(user_dir) if user_dir else None)
    subject, body = _render_blocks(env, name, variables)
    origin = str(user_dir / name) if user_dir and (user_dir / name).is_file() else f"{BUILTIN_PREFIX}/{name}"
    return Rendered(
        subject=subject,
        body=body,
        kind=message_kind,
        language=chosen_language,
        requested_language=requested,
        template=origin,
    )


def normalise_language(language: str) -> str:
    """Map "de-AT", "fr_CA", "DE" to the base language code the templates are filed under."""
    tag = language.strip().replace("_", "-")
    if not _LANGUAGE_TAG.match(tag):
        raise InvalidLanguage(f"{language!r} is not a language tag (expected e.g. 'en', 'de' or 'fr-CA')")
    return tag.split("-")[0].lower()


def _kind(kind: MessageKind | str) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in MessageKind)
        raise UnknownMessageKind(f"unknown message kind {kind!r} (known: {known})") from None


def _user_dir(template_dir: str | Path | None) -> Path | None:
    if template_dir is None:
        return None
    path = Path(template_dir)
    if not path.is_dir():
        raise TemplateDirError(
            f"{path}: the template folder does not exist or is not a folder",
            hint="set [notify] templates to a folder holding <language>/<kind>.j2 files",
        )
    return path.resolve()


def _template_name(language: str, kind: MessageKind) -> str:
    return f"{language}/{kind.value}{TEMPLATE_SUFFIX}"


def _choose_template(kind: MessageKind, language: str, user_dir: Path | None) -> tuple[str, str]:
    """(language, template name): the requested language if any folder has it, else English."""
    for candidate in (language, DEFAULT_LANGUAGE):
        name = _template_name(candidate, kind)
        if (user_dir is not None and (user_dir / name).is_file()) or name in _shipped():
            return candidate, name
    raise TemplateNotFound(f"no template {_template_name(language, kind)} (nor the English fallback) for {kind.value}")


@lru_cache(maxsize=1)
def _shipped() -> frozenset[str]:
    """Template names in the package (it does not change while the process runs)."""
    return frozenset(path.relative_to(PACKAGE_TEMPLATES).as_posix() for path in PACKAGE_TEMPLATES.glob("*/*.j2"))


def _check_context(name: str, context: Mapping[str, Any]) -> None:
    if not isinstance(context, Mapping):
        raise InvalidContextValue(f"{name}: the context must be a mapping, got {type(context).__name__}")
    for key in REQUIRED_KEYS:
        if key not in context:
            raise MissingContextKey(f"{name}: the context has no key {key!r}")
    for key in ("organisation", "incident", "recipient"):
        if not isinstance(context[key], Mapping):
            raise InvalidContextValue(
                f"{name}: context key {key!r} must be a mapping, got {type(context[key]).__name__}"
            )
    for key in ("obligation", "signal"):
        if context[key] is not None and not isinstance(context[key], Mapping):
            raise InvalidContextValue(f"{name}: context key {key!r} must be a mapping or None")
    for path, allowed in _ENUMERATED.items():
        parent, child = path.split(".")
        holder = context[parent]
        if isinstance(holder, Mapping) and child in holder and holder[child] not in allowed:
            shown = ", ".join(repr(value) for value in allowed)
            raise InvalidContextValue(f"{name}: context key {path!r}: expected one of {shown}, got {holder[child]!r}")
    incident = context["incident"]
    listed = incident.get("deadlines")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(item, Mapping) for item in listed):
            raise InvalidContextValue(f"{name}: context key 'incident.deadlines' must be a list of mappings")
        for position, item in enumerate(listed):
            _parse_instant(name, f"incident.deadlines.{position}.due_at", item.get("due_at"), allow_none=True)
    alert = context.get("alert")
    if alert is not None:
        if not isinstance(alert, Mapping):
            raise InvalidContextValue(f"{name}: context key 'alert' must be a mapping or None")
        if alert.get("reason") not in ALERT_REASONS:
            shown = ", ".join(repr(reason) for reason in ALERT_REASONS)
            raise InvalidContextValue(
                f"{name}: context key 'alert.reason': expected one of {shown}, got {alert.get('reason')!r}"
            )
    _check_supplement(name, context.get("supplement"))
    _parse_instant(name, "now", context["now"], allow_none=False)
    for parent, child in _DATE_KEYS:
        holder = context[parent]
        if isinstance(holder, Mapping) and child in holder:
            _parse_instant(name, f"{parent}.{child}", holder[child], allow_none=True)


def _check_supplement(name: str, supplement: Any) -> None:
    """The optional `supplement` key (a GDPR Art. 33(4) supplement, `drafting.supplement_context`): its
    number, the initial and previous phases' instants and what is new, as codes of `L.missing`."""
    if supplement is None:
        return
    if not isinstance(supplement, Mapping):
        raise InvalidContextValue(f"{name}: context key 'supplement' must be a mapping or None")
    number = supplement.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise InvalidContextValue(f"{name}: context key 'supplement.number': expected a count >= 1, got {number!r}")
    for phase in ("initial", "previous"):
        held = supplement.get(phase)
        if not isinstance(held, Mapping):
            raise InvalidContextValue(f"{name}: context key 'supplement.{phase}' must be a mapping")
        _parse_instant(name, f"supplement.{phase}.sent_at", held.get("sent_at"), allow_none=False)
    given = supplement.get("provided")
    if not isinstance(given, list) or not all(isinstance(code, str) for code in given):
        raise InvalidContextValue(f"{name}: context key 'supplement.provided' must be a list of codes")
    reference = supplement.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise InvalidContextValue(f"{name}: context key 'supplement.reference' must be a string or None")


def _parse_instant(name: str, key: str, value: Any, *, allow_none: bool) -> datetime | None:
    if value is None and allow_none:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidContextValue(
                f"{name}: context key {key!r}: expected an ISO 8601 date-time with a UTC offset, got {value!r}"
            ) from None
    else:
        raise InvalidContextValue(
            f"{name}: context key {key!r}: expected an ISO 8601 date-time string, got {type(value).__name__}"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidContextValue(f"{name}: context key {key!r}: the date-time {value!r} has no UTC offset")
    return moment.astimezone(UTC)


# --- language-neutral derivations from the facts -----------------------------------------------------

_CONSEQUENCES_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "identity": ("phishing", "identity-theft"),
    "contact": ("phishing", "spam"),
    "address": ("identity-theft",),
    "date-of-birth": ("identity-theft",),
    "financial": ("financial-fraud",),
    "payment-card": ("financial-fraud",),
    "credentials": ("account-takeover",),
    "password-hashes": ("account-takeover",),
    "government-id": ("identity-theft",),
    "special-category": ("discrimination", "distress"),
    "health": ("discrimination", "distress"),
    "children": ("harm-to-children",),
    "location": ("physical-safety",),
    "prompts": ("confidential-content",),
    "model-outputs": ("confidential-content",),
}
_ADVICE_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "identity": ("beware-phishing",),
    "contact": ("beware-phishing",),
    "address": ("beware-phishing",),
    "financial": ("check-statements",),
    "payment-card": ("check-statements", "contact-bank"),
    "credentials": ("change-password", "enable-2fa"),
    "password-hashes": ("change-password", "enable-2fa"),
    "government-id": ("watch-identity",),
    "date-of-birth": ("watch-identity",),
    "prompts": ("review-shared-content",),
    "model-outputs": ("review-shared-content",),
}
_PROPOSED_BY_CAUSE: dict[str, tuple[str, ...]] = {
    "llm-output-leak": ("llm-output-filtering", "retrieval-scope-review"),
    "ransomware": ("restore-from-backup", "access-review"),
    "hacking": ("access-review", "patch"),
    "exfiltration": ("access-review", "patch"),
    "credential-stuffing": ("credential-reset", "rate-limiting"),
    "insider": ("access-review",),
    "misdelivery": ("recall-request", "process-review"),
    "lost-device": ("remote-wipe",),
    "theft": ("remote-wipe",),
    "misconfiguration": ("configuration-fix", "release-review"),
    "software-bug": ("code-fix", "release-review"),
    "social-engineering": ("staff-training", "access-review"),
    "unknown": ("root-cause-analysis",),
}
_CREDENTIAL_CATEGORIES = frozenset({"credentials", "password-hashes"})
_SSN_LIKE_CATEGORIES = frozenset({"government-id"})
_BREACH_TYPE_ORDER = ("confidentiality", "integrity", "availability")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _country(code: str) -> str:
    return code.split("-")[0]


def derive(name: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """What the templates state about the breach, as codes: categories, counts, consequences, measures,
    and `missing` (what is not known yet, which makes the notification phased under Art. 33(4))."""
    from leakline.obligations.errors import FactsValidationError
    from leakline.obligations.facts import parse_facts

    incident = context["incident"]
    raw = incident.get("facts") or {}
    records = incident.get("records")
    if records is not None and (not isinstance(records, int) or isinstance(records, bool) or records < 0):
        raise InvalidContextValue(f"{name}: context key 'incident.records': expected a count >= 0, got {records!r}")
    if not raw:
        return {
            "present": False,
            "types": [],
            "cause": "unknown",
            "malicious": None,
            "exfiltration": "unknown",
            "categories": [],
            "subjects": None,
            "records": records,
            "by_jurisdiction": [],
            "countries": [],
            "cross_border": None,
            "vulnerable_subjects": False,
            "protection": {"encrypted": False, "key_compromised": False, "hashing": "none"},
            "containment": None,
            "service_impact": None,
            "consequences": ["under-assessment"],
            "advice": ["contact-us"],
            "measures_taken": ["investigation"],
            "measures_proposed": ["root-cause-analysis"],
            "ssn_like": False,
            "missing": ["facts", "categories", "subjects", *(["records"] if records is None else []), "cause"],
        }
    try:
        # The facts an incident was given (validated then); a check added later must not stop its notices.
        facts = parse_facts(raw, source=f"{name}: context key 'incident.facts'", stored=True)
    except FactsValidationError as exc:
        raise InvalidContextValue(exc.message) from None
    categories = sorted(facts.data.categories, key=_category_rank)
    types = [t for t in _BREACH_TYPE_ORDER if t in facts.breach.types]
    by_jurisdiction = sorted(facts.data.subjects_by_jurisdiction.items(), key=lambda item: (-item[1], item[0]))
    countries = _unique(
        [_country(code) for code in facts.controller.establishments] + [_country(code) for code, _ in by_jurisdiction]
    )
    consequences = _unique(c for category in categories for c in _CONSEQUENCES_BY_CATEGORY.get(category, ()))
    if "availability" in types:
        consequences.append("loss-of-access")
    if "integrity" in types:
        consequences.append("incorrect-data")
    if not consequences:
        consequences.append("limited")
    advice = _unique([a for category in categories for a in _ADVICE_BY_CATEGORY.get(category, ())] + ["contact-us"])
    taken = ["investigation"]
    if str(incident.get("status")) in _LIVE_STATUSES:
        taken.append("contained")
    if facts.containment.data_retrieved_or_deleted:
        taken.append("retrieved-or-deleted")
    if facts.containment.availability_restored_after_hours is not None:
        taken.append("availability-restored")
    if facts.data.protection.encrypted and not facts.data.protection.key_compromised:
        taken.append("encrypted")
    proposed = list(_PROPOSED_BY_CAUSE[facts.breach.cause])
    if _CREDENTIAL_CATEGORIES & set(categories):
        proposed.append("credential-reset")
    missing = []
    if facts.breach.cause == "unknown":
        missing.append("cause")
    if facts.breach.exfiltration == "unknown":
        missing.append("exfiltration")
    if facts.data.subjects == 0:
        missing.append("subjects")
    if records is None:
        missing.append("records")
    if not by_jurisdiction:
        missing.append("jurisdictions")
    return {
        "present": True,
        "types": types,
        "cause": facts.breach.cause,
        "malicious": facts.breach.malicious,
        "exfiltration": facts.breach.exfiltration,
        "categories": categories,
        "subjects": facts.data.subjects,
        "records": records,
        "by_jurisdiction": [list(item) for item in by_jurisdiction],
        "countries": countries,
        "cross_border": len(countries) > 1 if by_jurisdiction else None,
        "vulnerable_subjects": facts.data.vulnerable_subjects,
        "protection": facts.data.protection.model_dump(mode="json"),
        "containment": facts.containment.model_dump(mode="json"),
        "service_impact": facts.service_impact.model_dump(mode="json"),
        "consequences": consequences,
        "advice": advice,
        "measures_taken": taken,
        "measures_proposed": _unique(proposed),
        "ssn_like": bool(_SSN_LIKE_CATEGORIES & set(categories)),
        "missing": _unique(missing),
    }


def _timing(context: Mapping[str, Any]) -> dict[str, Any]:
    """Hours since awareness and whether the obligation's deadline has passed, as of `now`; for a GDPR
    Art. 33(4) supplement, as of its initial notice: the notification was made then, and a supplement sent
    on day 4 neither is late nor owes reasons for a delay (Art. 33(1)) when the initial notice was on time."""
    supplement = context.get("supplement")
    now = _instant(supplement["initial"]["sent_at"] if supplement else context["now"])
    aware_at = context["incident"].get("aware_at")
    obligation = context["obligation"]
    due_at = obligation.get("due_at") if obligation else None
    return {
        "hours_since_aware": None if aware_at is None else (now - _instant(aware_at)).total_seconds() / 3600,
        "late": due_at is not None and _instant(due_at) < now,
        "beyond_72h": aware_at is not None and (now - _instant(aware_at)).total_seconds() > _GDPR_HOURS * 3600,
    }


@lru_cache(maxsize=1)
def _category_order() -> dict[str, int]:
    from typing import get_args

    from leakline.obligations.facts import Category

    return {category: index for index, category in enumerate(get_args(Category))}


def _category_rank(category: str) -> int:
    return _category_order().get(category, len(_category_order()))


# --- dates, numbers and durations in the message's language -------------------------------------------

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}  # fmt: skip
_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
_NOT_KNOWN = {"en": "not known yet", "de": "noch nicht bekannt", "fr": "pas encore connue"}
_LOCAL_ZONES = {"de": "Europe/Berlin", "fr": "Europe/Paris"}
# (standard time, summer time). French has no everyday abbreviation for CET/CEST; it names the city.
_LOCAL_LABELS = {"de": ("MEZ", "MESZ"), "fr": ("heure de Paris", "heure de Paris")}
_NO_DEADLINE = {"en": "no fixed deadline", "de": "keine feste Frist", "fr": "pas de délai fixe"}
_THOUSANDS = {"en": ",", "de": ".", "fr": "\u202f"}
_DECIMAL = {"en": ".", "de": ",", "fr": ","}
_SEMICOLON = {"en": "; ", "de": "; ", "fr": " ; "}
# (singular, plural) per unit; German after "in"/"seit" takes the dative plural ("in 2 Tagen").
_UNITS = {
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes")),
    "de": (("Tag", "Tagen"), ("Stunde", "Stunden"), ("Minute", "Minuten")),
    "fr": (("jour", "jours"), ("heure", "heures"), ("minute", "minutes")),
}
_AHEAD = {"en": "in {}", "de": "in {}", "fr": "dans {}"}
_OVERDUE = {"en": "overdue by {}", "de": "seit {} überfällig", "fr": "en retard de {}"}
_UNDER_A_MINUTE = {"en": "less than a minute", "de": "weniger als einer Minute", "fr": "moins d'une minute"}
_MINUTES_PER_HOUR = 60
_MINUTES_PER_DAY = 24 * 60
_DURATION_PARTS = 2


def _instant(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"date-time {value!r} has no UTC offset")
    return moment.astimezone(UTC)


def _lang(language: str) -> str:
    return language if language in _MONTHS else DEFAULT_LANGUAGE


def format_iso(value: Any, *, language: str = DEFAULT_LANGUAGE) -> str:
    """ISO 8601 in UTC with a `Z`, to the second: `2026-11-25T09:00:00Z`."""
    if value is None:
        return _NOT_KNOWN[_lang(language)]
    return _instant(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local_zone(lang: str) -> ZoneInfo | None:
    """The zone whose wall-clock time a reader of the language expects besides UTC (None: UTC only)."""
    name = _LOCAL_ZONES.get(lang)
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        # Printing UTC alone would hide that the local time is missing; a notice must not silently change.
        raise ValueError(f"the time zone database has no {name} (install the tzdata package)") from None


def _date_and_time(moment: datetime, lang: str, zone: str) -> tuple[str, str]:
    """(`Mittwoch, 25. November 2026`, `09:00 Uhr UTC`) of an instant already in the zone to print."""
    weekday, month = _WEEKDAYS[lang][moment.weekday()], _MONTHS[lang][moment.month - 1]
    if lang == "de":
        return f"{weekday}, {moment.day}. {month} {moment.year}", f"{moment:%H:%M} Uhr {zone}"
    if lang == "fr":
        # "14 h 30 UTC" but "14 h 30, heure de Paris": the city is an apposition, not an abbreviation.
        separator = " " if zone == "UTC" else ", "
        return f"{weekday} {moment.day} {month} {moment.year}", f"{moment:%H} h {moment:%M}{separator}{zone}"
    return f"{weekday} {moment.day} {month} {moment.year}", f"{moment:%H:%M} {zone}"


def _human_parts(value: Any, lang: str) -> tuple[str, str | None]:
    """The UTC form and, for languages read in Central Europe, the local wall-clock time (with its date
    when that differs from the UTC date: 23:30 UTC is already the next day in Berlin)."""
    moment = _instant(value)
    day, time = _date_and_time(moment, lang, "UTC")
    zone = _local_zone(lang)
    if zone is None:
        return f"{day}, {time}", None
    local = moment.astimezone(zone)
    # MEZ/MESZ by the offset in force at that instant (the DST rules of the tz database), never by month.
    label = _LOCAL_LABELS[lang][bool(local.dst())]
    local_day, local_time = _date_and_time(local, lang, label)
    return f"{day}, {time}", local_time if local.date() == moment.date() else f"{local_day}, {local_time}"


def format_human(value: Any, *, language: str = DEFAULT_LANGUAGE) -> str:
    """The instant as people write it in the language: `Mittwoch, 25. November 2026, 09:00 Uhr UTC (10:00 Uhr MEZ)`.

    German and French add the time in Berlin / Paris, because that is the clock their readers live by;
    English keeps UTC alone, since its readers' zone is not known.
    """
    lang = _lang(language)
    if value is None:
        return _NOT_KNOWN[lang]
    utc, local = _human_parts(value, lang)
    return utc if local is None else f"{utc} ({local})"


def format_when(value: Any, *, language: str = DEFAULT_LANGUAGE) -> str:
    """ISO 8601 UTC followed by the human form in brackets (the local time after a semicolon, not in a
    second pair of brackets): `2026-11-25T09:00:00Z (Mittwoch, 25. November 2026, 09:00 Uhr UTC; 10:00 Uhr MEZ)`."""
    lang = _lang(language)
    if value is None:
        return _NOT_KNOWN[lang]
    utc, local = _human_parts(value, lang)
    return f"{format_iso(value)} ({utc})" if local is None else f"{format_iso(value)} ({utc}{_SEMICOLON[lang]}{local})"


def format_count(value: Any, *, language: str = DEFAULT_LANGUAGE) -> str:
    """An integer with the language's thousands separator: 1,200 / 1.200 / 1 200."""
    if value is None:
        return _NOT_KNOWN[_lang(language)]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"count expects an integer, got {type(value).__name__}")
    return f"{value:,}".replace(",", _THOUSANDS[_lang(language)])


def format_remaining(due: Any, now: Any, *, language: str = DEFAULT_LANGUAGE) -> str:
    """Time left until `due` as seen at `now` (two largest units), or how long it is overdue."""
    lang = _lang(language)
    if due is None:
        return _NO_DEADLINE[lang]
    minutes = int((_instant(due) - _instant(now)).total_seconds() // 60)
    overdue = minutes < 0
    minutes = abs(minutes)
    amounts = (
        minutes // _MINUTES_PER_DAY,
        minutes % _MINUTES_PER_DAY // _MINUTES_PER_HOUR,
        minutes % _MINUTES_PER_HOUR,
    )
    parts = [
        f"{amount} {names[0] if amount == 1 else names[1]}"
        for amount, names in zip(amounts, _UNITS[lang], strict=True)
        if amount
    ][:_DURATION_PARTS]
    text = " ".join(parts) if parts else _UNDER_A_MINUTE[lang]
    return (_OVERDUE if overdue else _AHEAD)[lang].format(text)


def format_number(value: Any, *, language: str = DEFAULT_LANGUAGE) -> str:
    """A count or a quantity such as hours: 1,200 / 1.200 / 1 200, and 1.5 / 1,5 / 1,5."""
    lang = _lang(language)
    if value is None:
        return _NOT_KNOWN[lang]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"number expects a number, got {type(value).__name__}")
    if float(value).is_integer():
        return format_count(int(value), language=lang)
    return f"{value:g}".replace(".", _DECIMAL[lang])


# The assessment engine (obligations/risk.py) explains its risk level in English sentences. German and French
# notices to authorities must not quote English, so each sentence is read back into a code and its values,
# and the templates word it (`L.risk_reason`). A sentence not listed here becomes `{"code": "other"}`: the
# shipped templates then leave it out rather than quote English (the risk level itself is always printed);
# tests/notify/test_render_wording.py drives every branch of the engine to keep this table complete.
_SEVERITY_LEVELS = {"limited": "limited", "significant": "significant", "serious": "serious",
                    "very serious": "very-serious"}  # fmt: skip
_MISDIRECTED = {"misdelivery": "misdelivery", "LLM output shown to the wrong user": "llm-output"}
_OVERALL = {
    "unlikely to result in a risk to the rights and freedoms of natural persons": "none",
    "likely to result in a risk (notify the supervisory authority)": "risk",
    "likely to result in a high risk (also inform the data subjects)": "high",
}
_FIXED_REASONS = {
    "confidentiality: the data is unintelligible (encrypted with a safe key or strongly hashed)":
        "confidentiality-unintelligible",
    "confidentiality: a trusted recipient confirmed deletion or return": "confidentiality-trusted-recipient",
    "confidentiality: misuse observed (fraud, extortion or publication)": "confidentiality-misuse",
    "confidentiality: the LLM output was stopped before anyone received it (exfiltration ruled out)":
        "confidentiality-llm-stopped",
    "confidentiality: exfiltration confirmed, malicious actor": "confidentiality-exfiltration-confirmed-malicious",
    "confidentiality: exfiltration confirmed": "confidentiality-exfiltration-confirmed",
    "confidentiality: exfiltration likely": "confidentiality-exfiltration-likely",
    "confidentiality: exfiltration ruled out": "confidentiality-exfiltration-ruled-out",
    "confidentiality: exposure unknown, no sign of malice": "confidentiality-exposure-unknown",
    "availability: significant operational impact (e.g. care, payments or deliveries delayed)":
        "availability-significant-impact",
    "availability: never restored, the loss is permanent": "availability-permanent",
    "integrity: data altered by a malicious actor": "integrity-malicious",
    "integrity: data altered by mistake": "integrity-mistake",
}  # fmt: skip
_FIXED_DETAILS = {
    "name, date of birth and address together enable identity fraud": "identity-fraud-kit",
    "vulnerable data subjects": "vulnerable-subjects",
    "no readable personal data": "no-readable-data",
}
_REASON_NO_PERSONAL_DATA = re.compile(
    r"no personal data affected \((?P<categories>[^()]*)\): not a personal data breach \(GDPR Art\. 4\(12\)\)"
)
_REASON_SEVERITY = re.compile(
    r"severity if (?P<scope>disclosed|lost or altered): "
    r"(?:(?P<level>limited|significant|serious|very serious): )?(?P<details>.+)"
)
_DETAIL_MOST_SENSITIVE = re.compile(r"most sensitive data: (?P<category>[a-z-]+)")
_DETAIL_LARGE_VOLUME = re.compile(r"large volume \((?P<subjects>\d+) people\)")
_REASON_MISDIRECTED = re.compile(
    r"confidentiality: (?:(?P<isolated>isolated )(?P<what_isolated>[^,]+), no malice|"
    r"(?P<what>misdelivery|LLM output shown to the wrong user) affecting (?P<subjects>\d+) people)"
)
_REASON_PRESUMED = re.compile(
    r"confidentiality: exposure unknown after (?P<cause>[a-z-]+), data must be presumed accessed"
)
_REASON_RESTORED = re.compile(
    r"availability: restored (?P<backup>from backup )?after (?P<hours>[0-9.e+]+) hours"
    r"(?P<no_impact>, no operational impact)?"
)
_OTHER_REASON: dict[str, Any] = {"code": "other"}


def _known_code(kind: str, code: str) -> bool:
    from typing import get_args

    from leakline.obligations.facts import Category, Cause

    return code in get_args(Category if kind == "category" else Cause)


def _severity_details(text: str, lang: str) -> list[dict[str, Any]] | None:
    details: list[dict[str, Any]] = []
    for part in text.split("; "):
        if part in _FIXED_DETAILS:
            details.append({"code": _FIXED_DETAILS[part]})
        elif (found := _DETAIL_MOST_SENSITIVE.fullmatch(part)) and _known_code("category", found["category"]):
            details.append({"code": "most-sensitive", "category": found["category"]})
        elif found := _DETAIL_LARGE_VOLUME.fullmatch(part):
            details.append({"code": "large-volume", "subjects": format_count(int(found["subjects"]), language=lang)})
        else:
            return None
    return details


def _risk_reason(reason: str, lang: str) -> dict[str, Any]:
    if reason in _FIXED_REASONS:
        return {"code": _FIXED_REASONS[reason]}
    if reason.startswith("overall: ") and reason.removeprefix("overall: ") in _OVERALL:
        return {"code": "overall", "level": _OVERALL[reason.removeprefix("overall: ")]}
    if found := _REASON_SEVERITY.fullmatch(reason):
        details = _severity_details(found["details"], lang)
        if details is None or (found["level"] is None) != (details == [{"code": "no-readable-data"}]):
            return dict(_OTHER_REASON)
        scope = "disclosed" if found["scope"] == "disclosed" else "lost-or-altered"
        level = None if found["level"] is None else _SEVERITY_LEVELS[found["level"]]
        return {"code": "severity", "scope": scope, "level": level, "details": details}
    if found := _REASON_MISDIRECTED.fullmatch(reason):
        if found["isolated"]:
            what = _MISDIRECTED.get(found["what_isolated"])
            return dict(_OTHER_REASON) if what is None else {"code": "confidentiality-isolated", "what": what}
        subjects = format_count(int(found["subjects"]), language=lang)
        return {"code": "confidentiality-misdirected", "what": _MISDIRECTED[found["what"]], "subjects": subjects}
    if (found := _REASON_PRESUMED.fullmatch(reason)) and _known_code("cause", found["cause"]):
        return {"code": "confidentiality-presumed-accessed", "cause": found["cause"]}
    if (found := _REASON_RESTORED.fullmatch(reason)) and bool(found["backup"]) == bool(found["no_impact"]):
        try:
            hours = format_number(float(found["hours"]), language=lang)
        except ValueError:
            return dict(_OTHER_REASON)
        code = "availability-restored-from-backup" if found["backup"] else "availability-restored"
        return {"code": code, "hours": hours, "hours_value": float(found["hours"])}
    if found := _REASON_NO_PERSONAL_DATA.fullmatch(reason):
        listed = found["categories"]
        categories = [] if listed == "nothing" else listed.split(", ")
        if all(_known_code("category", category) for category in categories):
            return {"code": "no-personal-data", "categories": categories}
    return dict(_OTHER_REASON)


def risk_reasons(reasons: Any, *, language: str = DEFAULT_LANGUAGE) -> list[dict[str, Any]]:
    """The engine's English risk reasons as codes with their values (counts and hours already formatted in
    the language), for templates that word them in another language; `{"code": "other"}` for a sentence
    this table does not know."""
    if reasons is None:
        return []
    if isinstance(reasons, str) or not isinstance(reasons, Iterable):
        raise TypeError(f"risk_reasons expects a list of sentences, got {type(reasons).__name__}")
    lang = _lang(language)
    return [_risk_reason(reason, lang) if isinstance(reason, str) else dict(_OTHER_REASON) for reason in reasons]


_FILTERS: dict[str, Callable[..., Any]] = {
    "iso": format_iso,
    "human": format_human,
    "when": format_when,
    "count": format_count,
    "number": format_number,
    "remaining": format_remaining,
    "risk_reasons": risk_reasons,
}


# --- template environment ----------------------------------------------------------------------------


class _Node(dict[str, Any]):
    """A context mapping that knows its dotted path, so a missing key is reported as `incident.facts.data`.

    Children are wrapped when a template first reads them, not up front: most of a context is never read
    by any one template.
    """

    __slots__ = (_PATH_ATTRIBUTE,)

    def __init__(self, value: Mapping[str, Any], path: str) -> None:
        super().__init__(value)
        setattr(self, _PATH_ATTRIBUTE, path)

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if type(value) is not _Node and isinstance(value, dict | list | tuple | Mapping):
            path = getattr(self, _PATH_ATTRIBUTE)
            value = _wrap(value, f"{path}.{key}" if path else str(key))
            super().__setitem__(key, value)
        return value

    def __getattr__(self, key: str) -> Any:
        # Jinja looks attributes up before items; answering here spares it a failed lookup per access.
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, _Node):
        return value
    if isinstance(value, Mapping):
        return _Node(value, path)
    if isinstance(value, list | tuple):
        return [_wrap(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def _template_variables(name: str, kind: MessageKind, language: str, context: Mapping[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = {key: _wrap(value, key) for key, value in context.items()}
    known = derive(name, context)
    known.update(_timing(context))
    variables["known"] = _wrap(known, "known")
    variables["kind"] = kind.value
    variables["language"] = language
    return variables


class _MissingKey(Exception):
    """Raised by the strict undefined type with the dotted key the template read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.in_table = message.startswith(_TABLE_MARK)
        self.key = message.removeprefix(_TABLE_MARK)


def _undefined_key(obj: Any, name: str | None) -> str:
    """The dotted context key of a failed lookup; marked when the lookup was in a template's own table."""
    parent = getattr(obj, _PATH_ATTRIBUTE, None)
    if name is None:
        return parent or "?"
    if parent is None and obj is not None:
        return f"{_TABLE_MARK}{name}"
    return f"{parent}.{name}" if parent else name


@lru_cache(maxsize=8)
def _environment(user_dir: str | None) -> jinja2.Environment:
    import jinja2

    class StrictUndefined(jinja2.StrictUndefined):
        def __init__(
            self, hint: str | None = None, obj: Any = jinja2.utils.missing, name: str | None = None, exc: Any = None
        ) -> None:
            super().__init__(hint, obj, name, _MissingKey)  # type: ignore[arg-type]

        @property
        def _undefined_message(self) -> str:
            obj = self._undefined_obj
            return _undefined_key(None if obj is jinja2.utils.missing else obj, self._undefined_name)

    builtin = jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES))
    loaders: list[jinja2.BaseLoader] = [_user_first_loader(user_dir, builtin)] if user_dir else [builtin]
    loaders.append(jinja2.PrefixLoader({BUILTIN_PREFIX: builtin}))
    # Plain-text messages (mail bodies, chat text): HTML escaping would corrupt names like "Müller & Co".
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    for filter_name, function in _FILTERS.items():
        env.filters[filter_name] = jinja2.pass_context(_with_language(function))
    return env


def _file_key(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, None when there is none: what tells an edited template from the cached one."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _user_first_loader(user_dir: str, builtin: jinja2.FileSystemLoader) -> jinja2.BaseLoader:
    """The user folder's file where there is one, else the shipped template of that name.

    Jinja2 keeps compiled templates by name and asks `uptodate` before reusing one; its own check compares a
    float mtime only, so an override edited within the same tick (or copied with its time kept) and an
    override added after the shipped template was first used were not seen until a restart. Here a cached
    template is reused only while its file's (path, mtime_ns, size) is unchanged, and a shipped one only
    while no override of that name has appeared.
    """
    import jinja2

    class UserFirstLoader(jinja2.BaseLoader):
        def get_source(
            self, environment: jinja2.Environment, template: str
        ) -> tuple[str, str | None, Callable[[], bool] | None]:
            path = Path(user_dir).joinpath(*jinja2.loaders.split_template_path(template))
            key = _file_key(path)
            if key is None:
                source, filename, shipped_uptodate = builtin.get_source(environment, template)
                return (
                    source,
                    filename,
                    lambda: _file_key(path) is None and (shipped_uptodate is None or shipped_uptodate()),
                )
            source = path.read_text(encoding="utf-8")
            return source, str(path), lambda: _file_key(path) == key

    return UserFirstLoader()


def _with_language(function: Callable[..., Any]) -> Callable[..., Any]:
    def filter_(context: Any, value: Any, *args: Any) -> Any:
        return function(value, *args, language=context["language"])

    return filter_


def _render_blocks(env: jinja2.Environment, name: str, variables: dict[str, Any]) -> tuple[str, str]:
    import jinja2

    template_name = name
    try:
        template = env.get_template(name)
        template_name = template.filename or name
        context = template.new_context(variables)
        chains = _resolve_blocks(template, context)
        blocks = {}
        for block in (SUBJECT_BLOCK, BODY_BLOCK):
            chain = chains.get(block)
            if not chain:
                reason = f"no {{% block {block} %}} in the template"
                raise TemplateStructureError(f"{template_name}: {reason}", file=template_name, reason=reason)
            blocks[block] = "".join(chain[0](context))
    except _MissingKey as exc:
        where = f"{template_name}{_line_of(exc, template_name)}"
        file, line = _frame_of(exc, template_name)
        if exc.in_table:
            reason = f"no entry {exc.key!r} in a table of the template"
            raise TemplateRuntimeError(f"{where}: {reason}", file=file, line=line, reason=reason) from None
        reason = f"the context has no key {exc.key!r}"
        raise MissingContextKey(f"{where}: {reason}", file=file, line=line, reason=reason) from None
    except jinja2.TemplateSyntaxError as exc:
        file = exc.filename or exc.name or name
        raise TemplateSyntaxError(
            f"{file}: line {exc.lineno}: {exc.message}", file=file, line=exc.lineno, reason=str(exc.message)
        ) from None
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, AttributeError) as exc:
        file, line = _frame_of(exc, template_name)
        # Python's and Jinja's messages quote the values they failed on, which may be a person's data.
        reason = f"{type(exc).__name__}: {_QUOTED.sub(_REDACTED, str(exc))}"
        raise TemplateRuntimeError(
            f"{template_name}{_line_of(exc, template_name)}: {exc}", file=file, line=line, reason=reason
        ) from None
    subject = " ".join(blocks[SUBJECT_BLOCK].split())
    if not subject:
        reason = "the subject block renders empty"
        raise TemplateStructureError(f"{template_name}: {reason}", file=template_name, reason=reason)
    # Optional sections leave blank lines behind; a plain-text message never needs more than one in a row.
    lines = [line.rstrip() for line in blocks[BODY_BLOCK].strip("\n").split("\n")]
    body = _BLANK_RUNS.sub("\n\n", "\n".join(lines)) + "\n"
    return subject, body


def _no_output(context: Any) -> Iterator[str]:
    return iter(())


def _resolve_blocks(template: jinja2.Template, context: Any) -> dict[str, list[Any]]:
    """Run the template's top level (imports, `{% set %}`, `{% extends %}`) with its own blocks muted, and
    return each block's chain, most derived first, as `super()` expects it.

    Rendering the root as is would execute the subject and body once more than needed.
    """
    own = {name: list(chain) for name, chain in context.blocks.items()}
    context.blocks = {name: [_no_output] for name in own}
    for _ in template.root_render_func(context):
        pass
    # A parent template appends its blocks behind the muted stand-ins (or adds names the child lacks).
    chains = {
        name: own.get(name, []) + [b for b in chain if b is not _no_output] for name, chain in context.blocks.items()
    }
    context.blocks = chains
    return chains


def _innermost_frame(exc: BaseException) -> tuple[str, int] | None:
    """(template file, line) of the innermost template frame of the exception's traceback."""
    found: tuple[str, int] | None = None
    tb = exc.__traceback__
    while tb is not None:
        # Compiled template code carries its template, which maps Python lines back to template lines.
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            found = (template.filename or template.name or "?", template.get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return found


def _frame_of(exc: BaseException, filename: str) -> tuple[str, int | None]:
    """The file and line where a template failed (an imported template's own, if it failed there)."""
    found = _innermost_frame(exc)
    return (filename, None) if found is None else found


def _line_of(exc: BaseException, filename: str) -> str:
    """`: line N` of the innermost template frame (`: line N of OTHER` when it is an imported template)."""
    found = _innermost_frame(exc)
    if found is None:
        return ""
    where, line = found
    return f": line {line}" if where == filename else f": line {line} of {where}"


def placeholders(*texts: str) -> list[str]:
    """The "[TO COMPLETE before sending: …]" placeholders left in the texts, each once, in order."""
    return _unique(found.group(0) for text in texts for found in PLACEHOLDER.finditer(text))


def available_templates(template_dir: str | Path | None = None) -> list[str]:
    """Every `<language>/<kind>.j2` a render can use, user folder first (for `docs` and checks)."""
    names = []
    user_dir = _user_dir(template_dir)
    for kind in MessageKind:
        for language in LANGUAGES:
            name = _template_name(language, kind)
            if (user_dir is not None and (user_dir / name).is_file()) or name in _shipped():
                names.append(name)
    return names
