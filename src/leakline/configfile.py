"""Reading leakline.toml: the file, its TOML, and the `[residency]` and `[scan]` settings `leakline scan` uses.

Kept light (no domain imports, no pydantic) so that commands pay only for the sections they read:
`leakline scan` takes `[residency]` and `[scan]` with `load_scan_settings`, and rejects unknown top-level
keys against `KNOWN_SECTIONS` without importing every domain's models. An app without a leakline.toml
gets the defaults without pydantic being imported at all; a file is validated by the pydantic models of
`leakline.configmodels` (the same ones `leakline.config.Settings` uses for the whole file), whose values are
copied into the plain dataclasses here. Tests keep `KNOWN_SECTIONS` equal to the fields of `Settings`, and
the fields and defaults of the dataclasses equal to those of the models.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from leakline.errors import ConfigError

CONFIG_FILENAME = "leakline.toml"

SeverityName = Literal["critical", "high", "medium", "low"]


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


@dataclass(frozen=True)
class ResidencyOptions:
    """`[residency]` as `leakline scan` reads it (validated by `leakline.configmodels.ResidencySettings`)."""

    allowed_regions: list[str] = field(default_factory=list)
    """Vercel region ids (e.g. "fra1") where LLM routes may run."""


@dataclass(frozen=True)
class ScanOptions:
    """`[scan]` as `leakline scan` reads it (validated by `leakline.configmodels.ScanSettings`)."""

    exclude: list[str] = field(default_factory=list)
    """Glob patterns (relative to the app root, POSIX) of files the scanner skips."""
    fail_on: SeverityName = "high"
    baseline: str | None = None
    """Path of a baseline file, relative to the app root."""
    max_file_bytes: int = 2_000_000
    country_headers: list[str] = field(default_factory=list)
    """Extra request headers that carry the visitor's country (besides the well-known edge headers)."""


@dataclass(frozen=True)
class ScanAppSettings:
    """What `leakline scan` reads from an app's leakline.toml; other sections are validated by their commands."""

    residency: ResidencyOptions = field(default_factory=ResidencyOptions)
    scan: ScanOptions = field(default_factory=ScanOptions)
    source: str | None = None
    """The file these settings came from (None: no leakline.toml, the defaults)."""


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
    from leakline.configmodels import validate_scan_sections

    wanted: dict[str, Any] = {key: data[key] for key in ("residency", "scan") if key in data}
    valid = validate_scan_sections(wanted, source=str(path))
    return ScanAppSettings(
        residency=ResidencyOptions(**valid.residency.model_dump()),
        scan=ScanOptions(**valid.scan.model_dump()),
        source=str(path),
    )
