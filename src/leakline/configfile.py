"""Reading leakline.toml: the file, its TOML, and the `[residency]` and `[scan]` settings `leakline scan` uses.

Kept light (no domain imports, no pydantic) so that commands pay only for the sections they read:
`leakline scan` takes `[residency]` and `[scan]` with `load_scan_settings`, and rejects unknown top-level
keys against `KNOWN_SECTIONS` without importing every domain's models. An app without a leakline.toml
gets the defaults without pydantic being imported at all; a file is validated by the pydantic models of
`leakline.configmodels` (the same ones `leakline.config.Settings` uses for the whole file), whose values are
copied into the plain NamedTuples here. Tests keep `KNOWN_SECTIONS` equal to the fields of `Settings`, and
the fields and defaults of the NamedTuples equal to those of the models.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, NamedTuple

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


class ResidencyOptions(NamedTuple):
    """`[residency]` as `leakline scan` reads it (validated by `leakline.configmodels.ResidencySettings`)."""

    allowed_regions: list[str] = []  # noqa: RUF012 - never mutated (read by the scan only)
    """Vercel region ids (e.g. "fra1") where LLM routes may run."""


class ScanOptions(NamedTuple):
    """`[scan]` as `leakline scan` reads it (validated by `leakline.configmodels.ScanSettings`)."""

    exclude: list[str] = []  # noqa: RUF012 - never mutated (read by the scan only)
    """Glob patterns (relative to the app root, POSIX) of files the scanner skips."""
    fail_on: SeverityName = "high"
    baseline: str | None = None
    """Path of a baseline file, relative to the app root."""
    max_file_bytes: int = 2_000_000
    country_headers: list[str] = []  # noqa: RUF012 - never mutated (read by the scan only)
    """Extra request headers that carry the visitor's country (besides the well-known edge headers)."""
    disable_rules: list[str] = []  # noqa: RUF012 - never mutated (read by the scan only)
    """Rule ids (upper case, known to the registry) this app's scan does not run, unless `--rule` names them."""


class ScanAppSettings(NamedTuple):
    """What `leakline scan` reads from an app's leakline.toml; other sections are validated by their commands."""

    residency: ResidencyOptions = ResidencyOptions()
    scan: ScanOptions = ScanOptions()
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


def inherited_scan_settings(defaults: ScanAppSettings, declared_in: Path, app: Path) -> ScanAppSettings:
    """`defaults` (read from the leakline.toml in folder `declared_in`, the scanned root of a monorepo) as the
    settings of `app`, a folder below it with no leakline.toml of its own.

    Paths in a file are relative to its folder: the baseline is rewritten relative to the app (one shared file
    for every app that inherits it, as `--baseline` would be), and each `exclude` pattern is kept for the app
    it names (`apps/web/legacy/**` becomes `legacy/**` in apps/web and nothing elsewhere); a pattern that
    starts with a wildcard (`**/*.generated.ts`, `*.test.ts`) applies in every app."""
    prefix = app.relative_to(declared_in).as_posix() + "/"
    exclude: list[str] = []
    for pattern in defaults.scan.exclude:
        bare = pattern.removeprefix("./")
        if bare.startswith(prefix):
            exclude.append(bare.removeprefix(prefix))
        elif bare.startswith("*"):
            exclude.append(bare)
    baseline = defaults.scan.baseline
    if baseline is not None and not Path(baseline).is_absolute():
        baseline = os.path.relpath(declared_in / baseline, app).replace(os.sep, "/")
    return defaults._replace(scan=defaults.scan._replace(exclude=exclude, baseline=baseline))
