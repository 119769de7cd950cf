"""Reading leakline.toml: the file, its TOML, the shared `Section` base and validation messages.

Kept light (no domain imports) so that commands pay only for the sections they read: `leakline scan`
validates `[residency]` and `[scan]` with `load_scan_settings`, and rejects unknown top-level keys
against `KNOWN_SECTIONS` without importing every domain's models. `leakline.config.Settings` is the
whole file, for the server and the incident commands; a test keeps `KNOWN_SECTIONS` equal to its fields.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leakline.errors import ConfigError

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


KNOWN_SECTIONS = frozenset(
    {
        "residency",
        "scan",
        "weights",
        "audit",
        "sanitize",
        "gateway",
        "regions",
        "clients",
        "organisation",
        "database",
        "channels",
        "contacts",
        "authorities",
        "escalation",
        "owners",
        "notify",
        "incidents",
        "api",
    }
)
"""Every top-level table of leakline.toml (the fields of `leakline.config.Settings`)."""


class ScanAppSettings(Section):
    """What `leakline scan` reads from an app's leakline.toml; other sections are validated by their commands."""

    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    source: str | None = Field(default=None, exclude=True)


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


def read_toml(path: Path, *, required: bool = False) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist and is not required."""
    if not path.exists():
        if required:
            raise ConfigError(f"{path}: no such file", hint="create it, or pass --config with the right path")
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 at byte offset {exc.start}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_scan_settings(path: Path) -> ScanAppSettings:
    """`[residency]` and `[scan]` of an app's leakline.toml, strictly; unknown top-level keys are errors."""
    data = read_toml(path)
    if data is None:
        return ScanAppSettings()
    unknown = sorted(set(data) - KNOWN_SECTIONS)
    if unknown:
        raise ConfigError("\n".join(f"{path}: {key}: unknown key" for key in unknown))
    wanted = {key: data[key] for key in ("residency", "scan") if key in data}
    try:
        settings = ScanAppSettings.model_validate(wanted)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None
    return settings.model_copy(update={"source": str(path)})
