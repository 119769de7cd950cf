"""Inline `leakline-ignore` comments: which findings they suppress, and which of them cannot suppress anything.

`// leakline-ignore LL007: reason` on a finding's line (or alone on the line above) suppresses that rule there;
without ids it suppresses every rule on that line. A comment whose ids are mistyped (`LL07`, `ll0007`) or
whose reason lacks its colon (`leakline-ignore LL007 hashed id only` reads `HASHED`, `ID`, `ONLY` as ids)
used to suppress nothing, silently, so the finding it was meant for failed CI with no word about the comment.
`ignore_warnings` names each such word, file and line, so the author sees why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from leakline.scan.index import SourceFile

IGNORE_MARKER = "leakline-ignore"
IGNORE_MARKER_BYTES = IGNORE_MARKER.encode()
COMMENT_STARTS = ("//", "#", "/*", "{/*", "*", "<!--")
SUPPRESSION_MAX_BYTES = 16 * 1024 * 1024
"""Larger files (model weights, archives, media) are never read whole just to look for a comment."""
_RULE_ID = re.compile(r"LL0*(\d{1,6})")
_COMMENT_BEFORE = re.compile(r"(?://|#|/\*|\{/\*|\*|<!--)\s*$")
"""What precedes the marker in a comment (`// leakline-ignore`): a marker inside a string is not a comment."""
_MAX_WARNINGS_PER_FILE = 20


def can_hold_comments(f: SourceFile) -> bool:
    """False for huge or binary files (NUL in the first 8 KiB): they cannot carry a leakline-ignore comment."""
    return f.size <= SUPPRESSION_MAX_BYTES and b"\x00" not in f.data()[:8192]


def _ids_and_reason(text: str, pos: int) -> tuple[list[str], str]:
    """The words listed after the marker at `pos` (as written, in order) and the reason after the colon."""
    rest = text[pos + len(IGNORE_MARKER) :].strip()
    ids_part, _, reason = rest.partition(":")
    return ids_part.replace(",", " ").split(), reason


def inline_suppression(f: SourceFile | None, line: int, rule_id: str) -> str | None:
    """The reason of the `leakline-ignore` comment that suppresses `rule_id` at `line` of `f`, or None."""
    if f is None or not can_hold_comments(f) or IGNORE_MARKER_BYTES not in f.data():
        return None  # most files: decided without decoding and splitting their lines
    for number in (line, line - 1):
        text = f.line_text(number)
        pos = text.find(IGNORE_MARKER)
        if pos < 0:
            continue
        # A trailing comment covers its own line only; the line above counts when it is just the comment.
        if number != line and not text.lstrip().startswith(COMMENT_STARTS):
            continue
        words, reason = _ids_and_reason(text, pos)
        if not words or rule_id in {word.upper() for word in words}:
            return clean_reason(reason) or "inline leakline-ignore"
    return None


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
    return f"{' '.join(words)!r} is read as rule ids: put the reason after a colon (`{IGNORE_MARKER} LL007: reason`)"


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
            prose = [w for w in unknown if _RULE_ID.fullmatch(w.upper()) is None]
            for word in unknown:
                if word not in prose:
                    out.append(IgnoreWarning(f.rel, number, _id_warning(word, known)))
            if prose:
                out.append(IgnoreWarning(f.rel, number, _words_warning(prose)))
            found += len(unknown)
            if found >= _MAX_WARNINGS_PER_FILE:
                break
    return out
