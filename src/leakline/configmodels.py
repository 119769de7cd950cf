"""leakline.toml's validation: the shared `Section` base, the `[residency]` and `[scan]` models, error messages.

Every validation problem becomes one line that names the file, the dotted key and the expected type, e.g.
``leakline.toml: scan.fail_on: expected one of 'critical', 'high', 'medium' or 'low', got 'severe'``.
Imported only when there is a file to validate: reading it (`leakline.configfile`) needs no pydantic, so
`leakline scan` of an app without a leakline.toml does not pay for it.
"""

from __future__ import annotations

import difflib
import re
import sys
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from leakline.configfile import SeverityName
from leakline.errors import ConfigError


class Section(BaseModel):
    """Base for every settings section: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Vercel's compute regions (https://vercel.com/docs/regions), with the city and the AWS region each runs in:
# an AWS name is what a user on another platform is likely to write, and it names the Vercel id at once.
VERCEL_REGIONS: dict[str, tuple[str, str]] = {
    "arn1": ("Stockholm", "eu-north-1"),
    "bom1": ("Mumbai", "ap-south-1"),
    "cdg1": ("Paris", "eu-west-3"),
    "cle1": ("Cleveland", "us-east-2"),
    "cpt1": ("Cape Town", "af-south-1"),
    "dub1": ("Dublin", "eu-west-1"),
    "dxb1": ("Dubai", "me-central-1"),
    "fra1": ("Frankfurt", "eu-central-1"),
    "gru1": ("São Paulo", "sa-east-1"),
    "hkg1": ("Hong Kong", "ap-east-1"),
    "hnd1": ("Tokyo", "ap-northeast-1"),
    "iad1": ("Washington, D.C.", "us-east-1"),
    "icn1": ("Seoul", "ap-northeast-2"),
    "kix1": ("Osaka", "ap-northeast-3"),
    "lhr1": ("London", "eu-west-2"),
    "pdx1": ("Portland", "us-west-2"),
    "sfo1": ("San Francisco", "us-west-1"),
    "sin1": ("Singapore", "ap-southeast-1"),
    "syd1": ("Sydney", "ap-southeast-2"),
    "yul1": ("Montréal", "ca-central-1"),
}
_BY_AWS = {aws: region for region, (_, aws) in VERCEL_REGIONS.items()}
_BY_CITY = {city.lower(): region for region, (city, _) in VERCEL_REGIONS.items()}


def closest_vercel_region(value: str) -> str:
    """The Vercel region id a wrong value most likely meant: the one running in the AWS region it names, in the
    city it names, else the most similar id."""
    lowered = value.strip().lower()
    if lowered in _BY_AWS:
        return _BY_AWS[lowered]
    if lowered in _BY_CITY:
        return _BY_CITY[lowered]
    return difflib.get_close_matches(lowered, list(VERCEL_REGIONS), n=1, cutoff=0)[0]


def _vercel_region(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in VERCEL_REGIONS:
        # `FRA1` means fra1; validate_scan_sections tells the user it was read that way.
        return lowered
    closest = closest_vercel_region(value)
    city, aws = VERCEL_REGIONS[closest]
    raise PydanticCustomError(
        "invalid_value",
        f"expected a Vercel region id, whatever platform runs the app (did you mean '{closest}': {city}, AWS {aws}?)",
    )


VercelRegion = Annotated[str, AfterValidator(_vercel_region)]


def _rule_id(value: str) -> str:
    # Imported here: the registry is the scan's, and only a file that lists rules needs it.
    from leakline.scan.rules import registry

    known = sorted(registry())
    rule_id = value.strip().upper()
    if rule_id in known:
        return rule_id
    # `LL07`, `LL-7`: the number is what people remember; a similar-looking id (LL017 for LL07) would mislead.
    number = re.fullmatch(r"LL-?0*(\d{1,3})", rule_id)
    meant = f"LL{int(number.group(1)):03d}" if number else ""
    guess = f"did you mean '{meant}'? " if meant in known else ""
    raise PydanticCustomError(
        "invalid_value", f"expected a rule id ({guess}known: {known[0]}…{known[-1]}, see `leakline rules`)"
    )


RuleId = Annotated[str, AfterValidator(_rule_id)]


def _positive_size(value: int) -> int:
    # Worded like the other config errors ("expected …, got -1"), not pydantic's "Input should be greater than 0".
    if value <= 0:
        raise PydanticCustomError("invalid_value", "expected a size in bytes greater than 0 (the default is 2000000)")
    return value


ByteSize = Annotated[int, AfterValidator(_positive_size)]


class ResidencySettings(Section):
    allowed_regions: list[VercelRegion] = Field(default_factory=list)
    """Vercel region ids (e.g. "fra1") where LLM routes may run; written in capitals they are read lower-cased."""


class ScanSettings(Section):
    exclude: list[str] = Field(default_factory=list)
    """Glob patterns (relative to the app root, POSIX) of files the scanner skips."""
    fail_on: SeverityName = "high"
    baseline: str | None = None
    """Path of a baseline file, relative to the app root."""
    max_file_bytes: ByteSize = 2_000_000
    country_headers: list[str] = Field(default_factory=list)
    """Extra request headers that carry the visitor's country (besides the well-known edge headers)."""
    disable_rules: list[RuleId] = Field(default_factory=list)
    """Rule ids this app's scan does not run (`LL006` for an app without residency obligations); `ll006` is read
    as `LL006`, as `--rule` reads it."""


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
            shown = f", got {without_credentials(got)!r}" if isinstance(got, str) else f", got {got!r}"
        lines.append(f"{file}: {key}: {expected}{shown}")
    return "\n".join(lines)


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*)@")
_URL_QUERY = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^?#\s]*)[?#]\S*")


def without_credentials(value: str) -> str:
    """`value` as an error may quote it: a URL's user:password and its query (`?api_key=`) replaced by `***`."""
    value = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}***@", value)
    return _URL_QUERY.sub(lambda m: f"{m['head']}?***", value)


def validate_scan_sections(data: dict[str, Any], *, source: str) -> ScanSections:
    """The `[residency]` and `[scan]` tables (`data` holds no others), strictly; `source` names the file.

    Region ids written in another case are accepted lower-cased, with one `warning:` line each on stderr."""
    try:
        valid = ScanSections.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    for notice in region_case_notices(data, valid, source=source):
        print(f"warning: {notice}", file=sys.stderr, flush=True)
    return valid


def region_case_notices(data: dict[str, Any], valid: ScanSections, *, source: str) -> list[str]:
    """`file: residency.allowed_regions.N: 'FRA1' read as 'fra1' ...` for every id not written as Vercel spells it."""
    written = (data.get("residency") or {}).get("allowed_regions") or []
    return [
        f"{source}: residency.allowed_regions.{n}: {raw!r} read as {read!r} (Vercel region ids are lower-case)"
        for n, (raw, read) in enumerate(zip(written, valid.residency.allowed_regions, strict=False))
        if raw != read
    ]
