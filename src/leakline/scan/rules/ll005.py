"""LL005: a secret or an internal LLM endpoint shipped in build output that browsers download.

Everything under `.next/static` is served to every visitor, and so are the prerendered routes' files under
`.next/server` (`next start` and Vercel answer `/assistant` with `.next/server/app/assistant.html`, its RSC
payload with `assistant.rsc` and its segments' `assistant.segments/…`, a Pages Router page's props with
`pages/help.json`): the walker keeps those that prerender-manifest.json and pages-manifest.json name, never
the server bundles beside them; with them the fallback page of a dynamic route (`blog/[slug].html`, Pages Router
`fallback: true`), rendered at build time with whatever the page's body read from the environment). A static
export (`output: 'export'`, or an `out/` folder holding `_next/static`) is served by any web server as it is:
its text files under `out/` (HTML, `.txt` RSC payloads, chunks, `_next/data` JSON) are searched the same
way. Build
output is minified, so it is not parsed: a literal engine looks, in one pass per file, for (1) the exact
values of the app's `.env*` variables that are secret-ish or LLM endpoints (whatever their names became
after minification, or the prop they were serialized as) and (2) provider-anchored key shapes (`sk-`,
`AKIA`, `ghp_`, PEM blocks, ...; no bare high-entropy rule, which would fire on every hash in a bundle).
Publishable-by-design keys are not reported. One finding per line (minified chunks are usually a single
line), its evidence redacted.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from typing import NamedTuple

from leakline.detectors.endpoints import shown_value
from leakline.detectors.envvars import EnvRisk, classify_env, is_distinctive_literal, strip_public_prefix
from leakline.detectors.literals import LiteralMatcher
from leakline.detectors.secrets import find_secrets, publishable_reason
from leakline.findings import Confidence, Severity, redact
from leakline.scan.context import ScanContext
from leakline.scan.index import ProjectIndex, SourceFile, exports_statically
from leakline.scan.rules.base import Hit, Rule

STATIC_PREFIX = ".next/static/"
SERVER_PREFIX = ".next/server/"
EXPORT_PREFIX = "out/"
"""A static export's folder (`next build` with `output: 'export'`); the walker keeps its text files only."""
# The kinds of file `walker.prerendered_files` keeps under .next/server: each is sent to browsers as it is.
PRERENDERED_SUFFIXES = frozenset({".html", ".rsc", ".json", ".body"})
# Text assets a browser downloads; images, fonts and media cannot carry an env value in a usable form.
TEXT_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".map", ".json", ".txt", ".html", ".css", ".rsc"})


class _Found(NamedTuple):
    start: int
    end: int
    what: str
    """What was found, without the value (`the value of OPENAI_API_KEY`, `an OpenAI API key`)."""
    endpoint: bool


def _literal_matcher(index: ProjectIndex) -> tuple[LiteralMatcher, set[str]]:
    """A matcher over the values of secret-ish / LLM-endpoint env variables, and the endpoint labels."""
    literals: dict[str, str] = {}
    endpoints: set[str] = set()
    for entry in index.env_entries:
        found = classify_env(entry.key, entry.value)
        if found is None or not is_distinctive_literal(entry.value) or entry.key in literals:
            continue
        literals[entry.key] = entry.value
        if found.risk is EnvRisk.LLM_ENDPOINT:
            endpoints.add(entry.key)
    return LiteralMatcher(literals), endpoints


def _lines_and_columns(text: str, offsets: list[int]) -> list[tuple[int, int]]:
    """1-based (line, column) of ascending offsets, counting newlines once over the text."""
    out: list[tuple[int, int]] = []
    line, counted_to, line_start = 1, 0, 0
    for offset in offsets:
        newlines = text.count("\n", counted_to, offset)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", counted_to, offset) + 1
        counted_to = offset
        out.append((line, offset - line_start + 1))
    return out


def _covered(start: int, end: int, known_starts: list[int], reach: list[int]) -> bool:
    """Whether [start, end) lies inside one of the known spans (`reach[i]`: max end of spans 0..i)."""
    i = bisect.bisect_right(known_starts, start) - 1
    return i >= 0 and reach[i] >= end


def _publishable_values(index: ProjectIndex) -> frozenset[str]:
    """Values the app declares as publishable by their variable's name (a Firebase web key is an `AIza`
    key like any Google API key; only its name says it is meant for browsers)."""
    return frozenset(
        entry.value.strip()
        for entry in index.env_entries
        if entry.value.strip() and publishable_reason(entry.value.strip(), strip_public_prefix(entry.key)) is not None
    )


def _scan_chunk(
    f: SourceFile, matcher: LiteralMatcher, endpoints: set[str], publishable: frozenset[str] = frozenset()
) -> list[_Found]:
    text = f.text
    found = [
        _Found(m.start, m.end, f"the value of {m.label}", m.label in endpoints) for m in matcher.finditer(text)
    ]
    known_starts = [item.start for item in found]
    reach = list(itertools.accumulate((item.end for item in found), max))
    for secret in find_secrets(text):
        # A known env value that is also a provider key is reported once, by the variable's name.
        if _covered(secret.start, secret.end, known_starts, reach):
            continue
        value = secret.value(text)
        if publishable_reason(value) is None and value not in publishable:
            label = secret.kind.label
            article = "an" if label[0] in "AEIOU" else "a"
            found.append(_Found(secret.start, secret.end, f"{article} {label}", False))
    return sorted(found, key=lambda x: (x.start, -x.end))


def _evidence(value: str, endpoint: bool) -> str:
    # A PEM block's header names the key type and is not secret; its body is.
    if value.startswith("-----BEGIN"):
        return value.split("-----", 3)[1].join(("-----", "-----")) + "…"
    # An endpoint's kind of host and port; its ends (what `redact` keeps) would name the machine.
    shown = shown_value(value) if endpoint else None
    return redact(value) if shown is None else shown


def _served(rel: str, suffix: str, static_export: bool) -> bool:
    if rel.startswith(STATIC_PREFIX) or (static_export and rel.startswith(EXPORT_PREFIX)):
        return suffix in TEXT_SUFFIXES
    return rel.startswith(SERVER_PREFIX) and suffix in PRERENDERED_SUFFIXES


def _what_file(rel: str) -> str:
    if rel.startswith(SERVER_PREFIX):
        return "prerendered page output (served to every visitor)"
    if rel.startswith(EXPORT_PREFIX):
        return "static export output (out/, served to every visitor)"
    return "browser build output"


class SecretInBuildOutput(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        static_export = exports_statically(ctx.index.files)
        chunks = [f for rel, f in ctx.index.files.items() if _served(rel, f.suffix, static_export)]
        if not chunks:
            return
        matcher, endpoints = _literal_matcher(ctx.index)
        publishable = _publishable_values(ctx.index)
        for f in sorted(chunks, key=lambda c: c.rel):
            by_line: dict[int, list[_Found]] = {}
            columns: dict[int, int] = {}
            text = f.text
            founds = _scan_chunk(f, matcher, endpoints, publishable)
            places = _lines_and_columns(text, [found.start for found in founds])
            for found, (line, column) in zip(founds, places, strict=True):
                by_line.setdefault(line, []).append(found)
                columns.setdefault(line, column)
            for line, items in sorted(by_line.items()):
                whats = list(dict.fromkeys(item.what for item in items))
                first = items[0]
                only_endpoints = all(item.endpoint for item in items)
                yield Hit(
                    path=f.rel,
                    line=line,
                    column=columns[line],
                    message=f"{_what_file(f.rel)} contains {', '.join(whats)}",
                    evidence=_evidence(text[first.start : first.end], first.endpoint),
                    key=" ".join(whats),
                    severity=Severity.HIGH if only_endpoints else None,
                    confidence=Confidence.HIGH,
                    text_columns=True,
                )


RULE_CLASS = SecretInBuildOutput
