"""leakline.toml → validated settings.

One file, one root model. Each domain owns the model of its own section (declared here so that
unknown keys anywhere are caught), and every validation problem becomes a `ConfigError` that names
the file, the dotted key and the expected type, e.g.
``leakline.toml: scan.fail_on: expected one of 'critical', 'high', 'medium', 'low', got 'severe'``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leakline.audit.settings import AuditSettings
from leakline.errors import ConfigError
from leakline.guard.sanitize.settings import SanitizeSettings
from leakline.guard.settings import ClientSettings, GatewaySettings, RegionSettings
from leakline.incidents.settings import ApiSettings, IncidentsSettings
from leakline.notify.render import NotifySettings
from leakline.notify.settings import ChannelsSettings, Contact, EscalationSettings, OrganisationSettings, OwnersSettings
from leakline.store.settings import DatabaseSettings
from leakline.weights.settings import WeightsSettings

CONFIG_FILENAME = "leakline.toml"

SeverityName = Literal["critical", "high", "medium", "low"]


class Section(BaseModel):
    """Base for every settings section: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ResidencySettings(Section):
    allowed_regions: list[str] = Field(default_factory=list)
    """Vercel region ids (e.g. "fra1") where LLM routes may run."""


class ScanSettings(Section):
    exclude: list[str] = Field(default_factory=list)
    """Glob patterns (relative to the app root, POSIX) of files the scanner skips."""
    fail_on: SeverityName = "high"
    baseline: str | None = None
    """Path of a baseline file, relative to the app root."""
    max_file_bytes: int = Field(default=2_000_000, gt=0)
    country_headers: list[str] = Field(default_factory=list)
    """Extra request headers that carry the visitor's country (besides the well-known edge headers)."""


class Settings(Section):
    """The whole of leakline.toml. Sections not given take their defaults."""

    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    weights: WeightsSettings = Field(default_factory=WeightsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    sanitize: SanitizeSettings = Field(default_factory=SanitizeSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    regions: dict[str, RegionSettings] = Field(default_factory=dict)
    clients: list[ClientSettings] = Field(default_factory=list)
    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    contacts: list[Contact] = Field(default_factory=list)
    authorities: dict[str, dict[str, str]] = Field(default_factory=dict)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    owners: OwnersSettings = Field(default_factory=OwnersSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    incidents: IncidentsSettings = Field(default_factory=IncidentsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    source: str | None = Field(default=None, exclude=True)
    """The file these settings came from (None: embedded defaults)."""


def _describe_expected(error: Any) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    names = {
        "string_type": "a string",
        "int_type": "an integer",
        "float_type": "a number",
        "bool_type": "a boolean (true or false)",
        "list_type": "an array",
        "dict_type": "a table",
        "model_type": "a table",
    }
    if kind in names:
        return f"expected {names[kind]}"
    return str(error.get("msg", "invalid value"))


def format_validation_error(file: str, exc: ValidationError) -> str:
    """One line per problem: `file: dotted.key: what was expected, got what`."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__") or "(top level)"
        expected = _describe_expected(error)
        got = error.get("input")
        shown = "" if error.get("type") in ("extra_forbidden", "missing") else f", got {got!r}"
        if isinstance(got, (dict, list)):
            shown = f", got a {'table' if isinstance(got, dict) else 'array'}"
        lines.append(f"{file}: {key}: {expected}{shown}")
    return "\n".join(lines)


def parse_settings(data: dict[str, Any], *, source: str) -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    return settings.model_copy(update={"source": source})


def load_settings(path: Path, *, required: bool = False) -> Settings:
    """Read and validate a leakline.toml. A missing file gives the defaults unless `required`."""
    if not path.exists():
        if required:
            raise ConfigError(f"{path}: no such file", hint="create it, or pass --config with the right path")
        return Settings()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 at byte offset {exc.start}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_settings(data, source=str(path))
