"""LL003: a `NEXT_PUBLIC_*` variable that carries a secret, an internal LLM endpoint or a system prompt.

Next.js inlines every `NEXT_PUBLIC_` variable into the JavaScript it sends to browsers, so its value
is public the moment it is set. A definition in a `.env*` file is reported on its line, judged by
value first (a provider key is a secret whatever it is called; a publishable-by-design key is fine
whatever it is called) and by name otherwise. A `process.env.NEXT_PUBLIC_X` read in code is reported
only when no `.env*` file defines X (the value then lives in the hosting dashboard, so the name is all
there is to judge), which keeps one finding per variable. This module also exports `env_reads`, the
tree-sitter extraction of `process.env` reads that LL004 shares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from tree_sitter import Node

from leakline.detectors.endpoints import shown_value
from leakline.detectors.envvars import EnvClassification, EnvRisk, classify_env, is_public_name
from leakline.findings import Confidence, Severity, redact
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.rules.base import Hit, Rule

PUBLIC_PREFIX_BYTES = b"NEXT_PUBLIC_"
ENV_BYTES = b"process.env"
_PUBLIC_NAME = re.compile(rb"NEXT_PUBLIC_[A-Za-z0-9_]+")
_EXPANSION = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")

_PROCESS = b"process"


class EnvRead(NamedTuple):
    """A read of `process.env.NAME` (or `process.env["NAME"]`, or `const { NAME } = process.env`)."""

    name: str
    line: int
    column: int


def env_reads(f: SourceFile) -> list[EnvRead]:
    """Every statically named `process.env` read in a source file, in source order: `process.env.NAME`,
    `process.env["NAME"]` and the keys of `const { NAME } = process.env`.

    Found from the bytes `process` and the tree around each: a tree-sitter query for the three shapes cost
    ~30 ms to compile per grammar (TypeScript and TSX), more than the reads of a whole app."""
    data = f.data()
    if _PROCESS not in data:
        return []
    root = f.root
    if root is None:
        return []
    out: list[EnvRead] = []
    at = data.find(_PROCESS)
    while at != -1:
        end = at + len(_PROCESS)
        env = _process_env_at(root, at, end)
        at = data.find(_PROCESS, end)
        if env is None:
            continue
        outer = env.parent
        if outer is None:
            continue
        if outer.type == "member_expression" and _is_field(outer, "object", env):
            name = outer.child_by_field_name("property")
            if name is not None and name.type == "property_identifier":
                out.append(_read(ts.text(name), name.start_point))
        elif outer.type == "subscript_expression" and _is_field(outer, "object", env):
            key = outer.child_by_field_name("index")
            value = ts.string_value(key) if key is not None and key.type == "string" else None
            if key is not None and value:
                out.append(_read(value, key.start_point))
        elif outer.type == "variable_declarator" and _is_field(outer, "value", env):
            pattern = outer.child_by_field_name("name")
            if pattern is not None and pattern.type == "object_pattern":
                out.extend(_destructured_reads(pattern))
    return sorted(out, key=lambda r: (r.line, r.column))


def _process_env_at(root: Node, start: int, end: int) -> Node | None:
    """The `process.env` member expression whose object is the identifier spanning exactly [start, end)."""
    ident = root.descendant_for_byte_range(start, end)
    if ident is None or ident.type != "identifier" or ident.start_byte != start or ident.end_byte != end:
        return None
    env = ident.parent
    if env is None or env.type != "member_expression" or not _is_field(env, "object", ident):
        return None
    prop = env.child_by_field_name("property")
    if prop is None or prop.type != "property_identifier" or prop.text != b"env":
        return None
    return env


def _is_field(parent: Node, field: str, child: Node) -> bool:
    node = parent.child_by_field_name(field)
    return node is not None and node.id == child.id


def _destructured_reads(pattern: Node) -> list[EnvRead]:
    out: list[EnvRead] = []
    for part in pattern.named_children:
        key = part
        if part.type == "pair_pattern":
            key = part.child_by_field_name("key") or part
        elif part.type == "object_assignment_pattern":
            key = part.child_by_field_name("left") or part
        if key.type in ("shorthand_property_identifier_pattern", "property_identifier"):
            out.append(_read(ts.text(key), key.start_point))
        elif key.type == "string" and ts.string_value(key):
            out.append(_read(ts.string_value(key) or "", key.start_point))
    return out


def _read(name: str, point: tuple[int, int]) -> EnvRead:
    return EnvRead(name, point[0] + 1, point[1] + 1)


def _expansion_classification(value: str, values: dict[str, str]) -> EnvClassification | None:
    """Next expands `$NAME` / `${NAME}` in .env files: a public variable that copies a secret one is a secret."""
    for match in _EXPANSION.finditer(value):
        if match.start() > 0 and value[match.start() - 1] == "\\":
            continue  # `\$NAME` is a literal dollar sign
        name = match.group(1) or match.group(2)
        found = classify_env(name, values.get(name))
        if found is not None:
            return EnvClassification(found.risk, f"copies {name}: {found.reason}")
    return None


def grade(found: EnvClassification) -> tuple[Severity, Confidence]:
    """Severity and confidence of a finding about a variable, by what made it sensitive."""
    if found.risk is EnvRisk.SECRET_VALUE:
        return Severity.CRITICAL, Confidence.HIGH
    if found.risk is EnvRisk.LLM_ENDPOINT:
        return Severity.HIGH, Confidence.HIGH
    return Severity.HIGH, Confidence.MEDIUM


GOOGLE_KEY_REASON = "Google API key"
MAPS_HINT = (
    "; a Google Maps Platform key restricted by HTTP referrer is a browser key: name it …_MAPS_API_KEY (or "
    "PLACES / GEOCODING) and it is not reported"
)


def _reason(found: EnvClassification) -> str:
    # A bare GOOGLE_API_KEY may be a Gemini key as well as a Maps key: it stays critical, and says how a Maps
    # key is told apart.
    if found.risk is EnvRisk.SECRET_VALUE and found.reason == GOOGLE_KEY_REASON:
        return found.reason + MAPS_HINT
    return found.reason


def _evidence(value: str, found: EnvClassification) -> str:
    # An endpoint is shown by its kind of host and port, a secret by its ends (which, of an address, would be
    # the parts naming the machine).
    if found.risk is EnvRisk.LLM_ENDPOINT:
        shown = shown_value(value)
        if shown is not None:
            return shown
    return redact(value)


class PublicEnvSecret(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        index = ctx.index
        defined: set[str] = set()
        values: dict[str, str] = {}
        for entry in index.env_entries:
            values.setdefault(entry.key, entry.value)
        for entry in index.env_entries:
            if not is_public_name(entry.key):
                continue
            defined.add(entry.key)
            own = classify_env(entry.key, entry.value)
            copied = _expansion_classification(entry.value, values)
            found = copied if copied is not None and copied.risk is EnvRisk.SECRET_VALUE else own or copied
            if found is None:
                continue
            severity, confidence = grade(found)
            yield Hit(
                path=entry.path,
                line=entry.line,
                column=entry.column,
                message=f"{entry.key} is inlined into browser bundles ({_reason(found)})",
                evidence=f"{entry.key}={_evidence(entry.value, found)}",
                key=entry.key,
                severity=severity,
                confidence=confidence,
            )
        by_name: dict[str, EnvClassification | None] = {}

        def undefined_sensitive(name: str) -> EnvClassification | None:
            if name not in by_name:
                by_name[name] = None if name in defined else classify_env(name, None)
            return by_name[name]

        for f in index.sources:
            data = f.data()
            if PUBLIC_PREFIX_BYTES not in data or ENV_BYTES not in data:
                continue
            # Byte prefilter: every statically named read spells the name out, so a file none of whose
            # NEXT_PUBLIC_ names is sensitive needs no parse.
            names = {m.decode("ascii") for m in _PUBLIC_NAME.findall(data)}
            if not any(undefined_sensitive(name) is not None for name in names):
                continue
            for read in env_reads(f):
                if not is_public_name(read.name):
                    continue
                found = undefined_sensitive(read.name)
                if found is None:
                    continue
                severity, confidence = grade(found)
                yield Hit(
                    path=f.rel,
                    line=read.line,
                    column=read.column,
                    message=f"process.env.{read.name} is inlined into browser bundles ({found.reason})",
                    evidence=f"process.env.{read.name}",
                    key=read.name,
                    severity=severity,
                    confidence=confidence,
                )


RULE_CLASS = PublicEnvSecret
