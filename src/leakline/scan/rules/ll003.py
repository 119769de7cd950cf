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
from dataclasses import dataclass

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

_ENV_READ_QUERY = """
(member_expression
  object: (member_expression object: (identifier) @_p property: (property_identifier) @_e)
  property: (property_identifier) @name
  (#eq? @_p "process") (#eq? @_e "env"))
(subscript_expression
  object: (member_expression object: (identifier) @_p property: (property_identifier) @_e)
  index: (string) @key
  (#eq? @_p "process") (#eq? @_e "env"))
(variable_declarator
  name: (object_pattern) @pattern
  value: (member_expression object: (identifier) @_p property: (property_identifier) @_e)
  (#eq? @_p "process") (#eq? @_e "env"))
"""


@dataclass(frozen=True, slots=True)
class EnvRead:
    """A read of `process.env.NAME` (or `process.env["NAME"]`, or `const { NAME } = process.env`)."""

    name: str
    line: int
    column: int


def env_reads(f: SourceFile) -> list[EnvRead]:
    """Every statically named `process.env` read in a source file, in source order."""
    root, lang = f.root, f.language
    if root is None or lang is None:
        return []
    found = ts.captures(lang, _ENV_READ_QUERY, root)
    out: list[EnvRead] = []
    for node in found.get("name", []):
        out.append(_read(ts.text(node), node.start_point))
    for node in found.get("key", []):
        value = ts.string_value(node)
        if value:
            out.append(_read(value, node.start_point))
    for pattern in found.get("pattern", []):
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
    return sorted(out, key=lambda r: (r.line, r.column))


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
                message=f"{entry.key} is inlined into browser bundles ({found.reason})",
                evidence=f"{entry.key}={redact(entry.value)}",
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
