"""Inline `leakline-ignore` comments: which findings they suppress, and which of them cannot suppress anything.

`// leakline-ignore LL007: reason` on a finding's line (or alone on the line above) suppresses that rule there;
without ids it suppresses every rule on that line. The reason follows a colon or a dash standing alone
(`LL007 - reason`, `LL007 -- reason` as in ESLint's directive comments). A comment whose ids are mistyped
(`LL07`, `ll0007`) or whose reason has no separator (`leakline-ignore LL007 hashed id only` reads `HASHED`,
`ID`, `ONLY` as ids) used to suppress nothing, silently, so the finding it was meant for failed CI with no word
about the comment. `ignore_warnings` names each such word, file and line, so the author sees why;
`precedence_warnings` names a comment whose rule is replaced on its line by one that takes precedence (LL007
by LL008).

A comment with prose among its ids suppresses nothing, even the ids it lists: it is malformed, and a
security check that cannot tell what was meant fails closed (the finding stays, next to a warning that
says how to write the comment), rather than warning that the words were misread while acting on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from leakline.findings import Finding
    from leakline.scan.index import SourceFile

IGNORE_MARKER = "leakline-ignore"
IGNORE_MARKER_BYTES = IGNORE_MARKER.encode()
COMMENT_STARTS = ("//", "#", "/*", "{/*", "*", "<!--")
SUPPRESSION_MAX_BYTES = 16 * 1024 * 1024
"""Larger files (model weights, archives, media) are never read whole just to look for a comment."""
_RULE_ID = re.compile(r"LL0*(\d{1,6})")
_REASON_SEPARATOR = re.compile(r":|(?<!\S)(?:--?|[\u2013\u2014])(?!\S)")
"""Where the ids end and the reason starts: a colon, or `-`, `--`, an en or em dash standing alone."""
_COMMENT_BEFORE = re.compile(r"(?://|#|/\*|\{/\*|\*|<!--)\s*$")
"""What precedes the marker in a comment (`// leakline-ignore`): a marker inside a string is not a comment."""
_MAX_WARNINGS_PER_FILE = 20


def can_hold_comments(f: SourceFile) -> bool:
    """False for huge or binary files (NUL in the first 8 KiB): they cannot carry a leakline-ignore comment."""
    return f.size <= SUPPRESSION_MAX_BYTES and b"\x00" not in f.data()[:8192]


def _ids_and_reason(text: str, pos: int) -> tuple[list[str], str]:
    """The words listed after the marker at `pos` (as written, in order) and the reason after the separator."""
    rest = text[pos + len(IGNORE_MARKER) :].strip()
    sep = _REASON_SEPARATOR.search(rest)
    ids_part, reason = (rest[: sep.start()], rest[sep.end() :]) if sep is not None else (rest, "")
    return ids_part.replace(",", " ").split(), reason


def _prose(words: list[str]) -> list[str]:
    """The words that are neither shaped like a rule id (`LL007`, `LL07`) nor the end of the comment."""
    return [w for w in words if _RULE_ID.fullmatch(w.upper()) is None and not _closing_token(w)]


def _comments_covering(f: SourceFile | None, line: int) -> Iterator[tuple[int, list[str], str]]:
    """(comment line, words listed, reason) of each `leakline-ignore` comment that covers `line` of `f`."""
    if f is None or not can_hold_comments(f) or IGNORE_MARKER_BYTES not in f.data():
        return  # most files: decided without decoding and splitting their lines
    for number in (line, line - 1):
        text = f.line_text(number)
        pos = text.find(IGNORE_MARKER)
        if pos < 0:
            continue
        # A trailing comment covers its own line only; the line above counts when it is just the comment.
        if number != line and not text.lstrip().startswith(COMMENT_STARTS):
            continue
        words, reason = _ids_and_reason(text, pos)
        yield number, words, reason


class InlineIgnore(NamedTuple):
    reason: str | None
    """The reason written after the ids (None when there is none)."""


def inline_ignore(f: SourceFile | None, line: int, rule_id: str) -> InlineIgnore | None:
    """The `leakline-ignore` comment that suppresses `rule_id` at `line` of `f`, or None."""
    for _, words, reason in _comments_covering(f, line):
        if _prose(words):
            continue  # malformed: warned about by `ignore_warnings`, suppresses nothing
        ids = {word.upper() for word in words if not _closing_token(word)}
        if not ids or rule_id in ids:
            return InlineIgnore(clean_reason(reason) or None)
    return None


def precedence_warnings(
    files: Callable[[str], SourceFile | None], findings: Iterable[Finding], prefix: str
) -> list[IgnoreWarning]:
    """A comment that names a rule another one replaces on its line (`leakline-ignore LL007` where LL008, which
    takes precedence, is reported) suppresses nothing: the finding there is the other rule's, more severe, and
    nobody reviewed it as such. Each such comment is named, with the id to write instead.

    `findings` are one app's (paths relative to the scanned root, the app at `prefix`); `files` looks up the
    app's files by their path inside it.
    """
    from leakline.scan.rules import registry

    metas = registry()
    out: list[IgnoreWarning] = []
    for finding in findings:
        replaced = metas[finding.rule].supersedes if finding.rule in metas else ()
        if not replaced or finding.suppressed is not None:
            continue
        rel = finding.path if prefix in ("", ".") else finding.path.removeprefix(prefix + "/")
        for number, words, _ in _comments_covering(files(rel), finding.line):
            named = {word.upper() for word in words}
            where = "this line" if number == finding.line else "the next line"
            out.extend(
                IgnoreWarning(rel, number, f"{old} is reported as {finding.rule} on {where}; name {finding.rule}")
                for old in replaced
                if old in named
            )
    return sorted(set(out), key=lambda w: (w.rel, w.line, w.message))


def clean_reason(reason: str) -> str:
    """The reason up to the comment's end (`*/`, `*/}` in JSX, `-->`): code after a block comment is no reason."""
    for closer in ("*/", "-->"):
        end = reason.find(closer)
        if end >= 0:
            reason = reason[:end]
    return reason.strip()


def _closing_token(word: str) -> bool:
    return word in ("*/", "*/}", "-->", "}")


def _id_warning(word: str, known: frozenset[str]) -> str:
    rule = _RULE_ID.fullmatch(word.upper())
    padded = f"LL{int(rule.group(1)):03d}" if rule is not None else ""
    hint = f" (did you mean {padded}?)" if padded in known else ""
    return f"{word} is not a leakline rule id{hint}; `leakline rules` lists them"


def _words_warning(words: list[str]) -> str:
    return (
        f"{' '.join(words)!r} is read as rule ids, so this comment suppresses nothing: put the reason after a colon"
        f" (`{IGNORE_MARKER} LL007: reason`)"
    )


class IgnoreWarning(NamedTuple):
    rel: str
    """The file's path inside its app."""
    line: int
    message: str


def ignore_warnings(files: Iterable[SourceFile], known: frozenset[str]) -> list[IgnoreWarning]:
    """One warning per word of a `leakline-ignore` comment that is not a rule id (`known`: every rule id)."""
    out: list[IgnoreWarning] = []
    for f in files:
        if not can_hold_comments(f) or IGNORE_MARKER_BYTES not in f.data():
            continue
        found = 0
        for number, text in enumerate(f.lines, start=1):
            pos = text.find(IGNORE_MARKER)
            if pos < 0 or _COMMENT_BEFORE.search(text, 0, pos) is None:
                continue
            words, _ = _ids_and_reason(text, pos)
            unknown = [w for w in words if w.upper() not in known and not _closing_token(w)]
            prose = _prose(unknown)
            for word in unknown:
                if word not in prose:
                    out.append(IgnoreWarning(f.rel, number, _id_warning(word, known)))
            if prose:
                out.append(IgnoreWarning(f.rel, number, _words_warning(prose)))
            found += len(unknown)
            if found >= _MAX_WARNINGS_PER_FILE:
                break
    return out
