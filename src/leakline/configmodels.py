"""leakline.toml's validation: the shared `Section` base, the `[residency]` and `[scan]` models, error messages.

Every validation problem becomes one line that names the file, the dotted key and the expected type, e.g.
``leakline.toml: scan.fail_on: expected one of 'critical', 'high', 'medium' or 'low', got 'severe'``.
Imported only when there is a file to validate: reading it (`leakline.configfile`) needs no pydantic, so
`leakline scan` of an app without a leakline.toml does not pay for it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leakline.configfile import SeverityName
from leakline.errors import ConfigError


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


class ScanSections(Section):
    """What `leakline scan` validates of an app's leakline.toml; other sections are validated by their commands."""

    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)


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
        if error.get("type") in ("extra_forbidden", "missing"):
            shown = ""  # pydantic's input here is the enclosing table, not a value the user wrote for the key
        elif isinstance(got, (dict, list)):
            shown = f", got a {'table' if isinstance(got, dict) else 'array'}"
        else:
            shown = f", got {got!r}"
        lines.append(f"{file}: {key}: {expected}{shown}")
    return "\n".join(lines)


def validate_scan_sections(data: dict[str, Any], *, source: str) -> ScanSections:
    """The `[residency]` and `[scan]` tables (`data` holds no others), strictly; `source` names the file."""
    try:
        return ScanSections.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
