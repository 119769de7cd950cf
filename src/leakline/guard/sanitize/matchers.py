"""Matchers: from trigger positions to candidate spans, each accepted only by its detector's own rules.

The trigger engine (see `engine.py`) finds cheap anchors in one native pass: `@` for e-mail addresses,
the first digit of every digit run for numbers (cards, phones, IBAN check digits, national ids, IPv4),
colons between hex digits for IPv6, plus gate patterns for canaries and protected text. A matcher looks
only at a bounded neighbourhood of each trigger, so its verdict is a pure function of nearby text: that
is what lets a stream decide early (see `stream.py`) and still agree exactly with a whole-text scan.
"""

# Nested ifs keep each candidate's checks in the order that costs least: shape, boundaries, checksum.
# ruff: noqa: SIM102
from __future__ import annotations

import base64
import bisect
import functools
import ipaddress
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from leakline.detectors.secrets import (
    _AWS_SECRET_NAMES,
    _BY_ANCHOR,
    ANCHOR_CONFUSABLES,
    DER_PREFIXES,
    LENIENT_PREFIXES,
    PEM_GATES,
    Context,
    SecretKind,
    find_secrets,
)
from leakline.guard.sanitize import checks
from leakline.guard.sanitize.fold import REFERENCE_MAX, rendered

EMAIL, PHONE, CARD, IBAN, US_SSN, UK_NINO, NATIONAL_ID = (
    "email", "phone", "payment_card", "iban", "us_ssn", "uk_nino", "national_id",
)  # fmt: skip
IP_ADDRESS, SECRET, CANARY, PROTECTED_TEXT = "ip_address", "secret", "canary", "protected_text"
DETECTORS = (EMAIL, PHONE, CARD, IBAN, US_SSN, UK_NINO, NATIONAL_ID, IP_ADDRESS, SECRET, CANARY, PROTECTED_TEXT)
# When two candidates start at the same place and are equally long, the earlier detector here wins.
PRIORITY = {name: i for i, name in enumerate((CANARY, SECRET, PROTECTED_TEXT, CARD, IBAN, NATIONAL_ID, US_SSN,
                                              UK_NINO, EMAIL, PHONE, IP_ADDRESS))}  # fmt: skip


# The value types below are NamedTuples, not frozen dataclasses: a stream makes several per release, and a
# frozen dataclass's __init__ sets each field through object.__setattr__ (Triggers: ~2 µs, a NamedTuple ~0.4).
class Candidate(NamedTuple):
    detector: str
    start: int
    end: int


class Triggers(NamedTuple):
    """Where the engine saw anchors; `None` for a gate means "no prefilter ran: scan everything"."""

    at: Sequence[int] = ()
    digit: Sequence[int] = ()
    colon: Sequence[int] = ()
    canary_ends: Sequence[int] | None = None
    protected_ends: Sequence[int] | None = None
    secret_anchors: Sequence[int] | None = None
    ascii_projection: bytes | None = None
    """The bytes a native engine scanned: the text with each non-ASCII character as `?`."""
    number_runs: Sequence[int] | None = None
    """A whole-text scan's number triggers, when the engine gives them per run (`scan_whole`): the first digit
    of every run of number characters (`[0-9 \\-./)]`) that has at least 6 more after that digit, and in
    `capital_digits` every digit trigger right after a capital letter. `digit` is then empty: the number
    matcher finds the same candidates as from every digit trigger, walking each run once."""
    capital_digits: Sequence[int] = ()
    card_ends: Sequence[int] = ()
    """A whole-text scan's ends of card-shaped groups with wide or mixed separators (`WIDE_CARD_SHAPE`): the
    number matcher looks for each one's first digit just before it (`number_runs` never holds a card split
    by `_` or a line break, and a region never spans a double space)."""


class Matcher(ABC):
    """One family of detectors. `find` must depend only on text near each trigger (bounded context)."""

    @abstractmethod
    def find(self, text: str, triggers: Triggers) -> Iterable[Candidate]:
        """Every candidate span of this family in `text`."""


class LocalMatcher(Matcher):
    """A family whose candidates each come from one trigger in `trigger_field` and depend on nothing else.

    What `find` yields for a trigger at `p` reads only the `left_reach` characters before `p` and text after
    `p` up to where `settled` can tell it no longer matters; every candidate starts at or after
    `p - start_reach` and at or before `p`. A stream relies on these bounds to judge each trigger once
    (tests/guard/test_stream_sanitize.py checks them against truncated texts).
    """

    trigger_field: ClassVar[str]
    left_reach: ClassVar[int]
    start_reach: ClassVar[int]
    settle_reach: ClassVar[int | None] = None
    """When set, `settled(text, p)` is exactly `p + settle_reach <= len(text)`: a stream finds the settled
    triggers among its sorted pending ones by one bisection instead of asking for each."""

    @abstractmethod
    def settled(self, text: str, p: int) -> bool:
        """True when no text appended after `text` could change what `find` yields for the trigger at `p`."""

    def only(self, positions: Sequence[int]) -> Triggers:
        """Triggers holding just `positions` in this family's field."""
        fields: dict[str, Any] = {self.trigger_field: positions}
        return Triggers(**fields)


_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
"""What `_is_alnum` accepts, for a set lookup in hot loops."""
_SPACE_OR_DASH = frozenset(" -")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_alnum(ch: str) -> bool:
    return ("0" <= ch <= "9") or ("A" <= ch <= "Z") or ("a" <= ch <= "z") or ch == "_"


def _char(text: str, i: int) -> str:
    return text[i] if 0 <= i < len(text) else ""


# ---- e-mail -----------------------------------------------------------------------------------------

EMAIL_LOCAL_MAX = 64
_LOCAL_TAIL = re.compile(r"[\w.%+\-'!#$*=?^~]{1,64}\Z")
"""A local part: letters and digits of any script, and RFC 5322's other characters but `&` (a character
reference's), `/` (a URL's path before an `@`), `` ` `` and the braces and bar of code and markup; a local part
holding one of those is redacted from the character after it (`tom&[REDACTED:EMAIL]`)."""
_LOCAL_LEAD = "._%+-'!#$*=?^~"
"""Characters a local part does not start with here: quotes, list marks and markup around an address."""
_DOMAIN = re.compile(
    r"(?:[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?\.)+"
    r"(?:(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9\-]{2,59})(?![A-Za-z0-9\-])|[^\W\d_A-Za-z]{2,24}(?![^\W_]|-))"
)
"""Labels of letters and digits of any script (`müller-shop.de`, `bäckerei.de`, `例え.jp`), the last one ASCII
letters, a punycode label (`xn--p1ai`) or letters of another script (`рф`), not a mix: an internationalized
domain reaches the reader as it is written, and `test@example.comです` ends at `com` as before."""
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + _LOCAL_LEAD)
_NOT_DOMAIN = re.compile(r"[^\w.\-]|_")


AT_ZEROS_MAX = 24
"""Leading zeros read in a numeric character reference for `@` (`&#0064;`). CommonMark allows at most 7
digits (`&#0000064;`, `&#x000040;`); browsers any number in raw HTML, where more than this is not caught."""
AT_TOKEN_TAILS = ("[#0]64;", "[xX0]40;", "mat;", "%40")
"""The engine's trigger patterns for the spellings of `@` that HTML and URLs turn into one: the last four
(three) characters of `&#64;`/`&#x40;` (any case, leading zeros), `&commat;` and `%40`. Each ends on the
trigger's position; `_AT_TOKEN` then checks the whole token."""
_AT_TOKEN = re.compile(rf"(?:&#(?:0{{0,{AT_ZEROS_MAX}}}64|[xX]0{{0,{AT_ZEROS_MAX}}}40);|&commat;|%40)\Z")
AT_TOKEN_MAX = len("&#x") + AT_ZEROS_MAX + len("40;")


EMAIL_RENDERED_LOCAL = 2 * EMAIL_LOCAL_MAX
"""Characters before the `@` read for a local part written with character references (`ann&#46;lee`):
a longer spelling of one is not caught."""
_RENDERED_DOMAIN_RUN = re.compile(
    r"(?:[A-Za-z0-9.\-]|&#[0-9]{1,7};|&#[xX][0-9A-Fa-f]{1,6};|&[A-Za-z][A-Za-z0-9]{1,31};)*"
)
"""Where a domain written with character references (`example&#46;com`, `example&period;com`) can end."""


def _domain_end(text: str, p: int) -> int:
    """The end of the domain characters and character references after the `@` (or its token) ending at `p`."""
    run = _RENDERED_DOMAIN_RUN.match(text, p + 1)
    return p + 1 if run is None else run.end()


class EmailMatcher(LocalMatcher):
    """`local@domain`, and the same with `@` written `&#64;`, `&#x40;`, `&commat;` or `%40`: markdown and
    HTML render the references as `@` and mail clients decode a `mailto:` link's `%40` (issue 6). The
    trigger `p` is the `@` or the token's last character; the local part ends where the token starts, the
    domain starts at `p + 1` either way.

    Where a character reference (`&`) is near, the address is also read as rendered (`fold.rendered`):
    `ann&#46;lee&#64;example&#46;com` is `ann.lee@example.com` on the page (red team r9)."""

    trigger_field = "at"
    left_reach = EMAIL_RENDERED_LOCAL + AT_TOKEN_MAX
    start_reach = EMAIL_RENDERED_LOCAL + AT_TOKEN_MAX - 1

    def settled(self, text: str, p: int) -> bool:
        # The domain (plain or with references) cannot read past the first character that no domain or
        # reference has; an `&` near the end may begin a reference still arriving. Most domains end at a
        # character that is no `&`: one search in C decides.
        stop = _NOT_DOMAIN.search(text, p + 1)
        if stop is None:
            return False
        if text[stop.start()] != "&":
            return True
        end = _domain_end(text, p)
        return end < len(text) and (text[end] != "&" or len(text) - end >= REFERENCE_MAX)

    def find(self, text: str, triggers: Triggers) -> Iterable[Candidate]:
        for p in triggers.at:
            at = p
            if text[p] != "@":
                token = _AT_TOKEN.search(text, max(0, p + 1 - AT_TOKEN_MAX), p + 1)
                if token is None:
                    continue
                at = token.start()
            plain = self._plain(text, p, at)
            if plain is not None:
                yield plain
            # Most addresses have no `&` near them: two `find`s (in C) before any regex or slice.
            if text.find("&", max(0, at - EMAIL_RENDERED_LOCAL), at) < 0 and text.find("&", p + 1, p + 256) < 0:
                continue
            end = _domain_end(text, p)
            if text.find("&", max(0, at - EMAIL_RENDERED_LOCAL), at) >= 0 or text.find("&", p + 1, end) >= 0:
                shown = self._rendered(text, p, at, end)
                if shown is not None and shown != plain:
                    yield shown

    @staticmethod
    def _plain(text: str, p: int, at: int) -> Candidate | None:
        domain = _DOMAIN.match(text, p + 1)
        if domain is None:
            return None
        local = _LOCAL_TAIL.search(text, max(0, at - EMAIL_LOCAL_MAX), at)
        if local is None:
            return None
        start = local.start()
        previous = _char(text, start - 1)
        if start == at - EMAIL_LOCAL_MAX and (previous.isalnum() or previous in _LOCAL_CHARS):
            return None  # a "local part" longer than RFC 5321 allows is not an address
        while start < at and text[start] in _LOCAL_LEAD:
            start += 1
        return Candidate(EMAIL, start, domain.end()) if start < at else None

    @staticmethod
    def _rendered(text: str, p: int, at: int, end: int) -> Candidate | None:
        """The address as a renderer shows the text around the `@` (references decoded, markers dropped);
        `end`: where a domain after the `@` at `p` can end (`_domain_end`)."""
        right, _, right_ends = rendered(text, p + 1, end)
        domain = _DOMAIN.match(right)
        if domain is None:
            return None
        left, left_starts, _ = rendered(text, max(0, at - EMAIL_RENDERED_LOCAL), at)
        local = _LOCAL_TAIL.search(left, max(0, len(left) - EMAIL_LOCAL_MAX))
        if local is None:
            return None
        start = local.start()
        previous = left[start - 1] if start else ""
        if previous.isalnum() or previous in _LOCAL_CHARS:
            return None  # longer than RFC 5321 allows, or cut off where the reading starts
        while start < len(left) and left[start] in _LOCAL_LEAD:
            start += 1
        if start == len(left):
            return None
        return Candidate(EMAIL, left_starts[start], right_ends[domain.end() - 1])


# ---- numbers: cards, phones, IBAN, SSN, NINO, national ids, IPv4 -------------------------------------

DIGIT_RUN_MAX = 40
_DIGITS = re.compile(r"[0-9]{1," + str(DIGIT_RUN_MAX) + "}")
_REGION = re.compile(r"[0-9]+(?:(?:[ \-./]|\) )[0-9]+)*")
"""A number region: digit runs joined by exactly one separator, or `) ` after an area code."""
_SHAPE = str.maketrans("0123456789", "9999999999")
_SEPARATOR = re.compile(r"(\) |[ \-./])")
_NUMBER_RUN = re.compile(r"[0-9 \-./)]*")
"""The number characters a trigger needs after its digit; a run of them holds whole number regions."""
MIN_REGION_CHARS = 7
NUMBER_SEPARATORS = frozenset(" -./")
MAX_GROUPS = 8
MAX_GROUP_DIGITS = 19
_REGION_REACH = MAX_GROUPS * (MAX_GROUP_DIGITS + 2) + 1
"""Enough of a region for `_groups`: its last group can start no later than `(MAX_GROUPS - 1) * (MAX_GROUP_DIGITS
+ 2)` and is dropped when it has more than `MAX_GROUP_DIGITS` digits, which this bound still shows."""
CONTEXT_CHARS = 48
NUMBER_RIGHT_REACH = MAX_GROUPS * (DIGIT_RUN_MAX + 2) + 8
"""Past its trigger, a number is read at most this far: `_groups` steps over at most `MAX_GROUPS` runs of
`DIGIT_RUN_MAX` digits and a 1-2 character separator, then a DNI letter or a boundary is checked."""
PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 7, 15
NANP_REGIONS = frozenset({"US", "CA"})
IPV4_GROUPS = 4
_DATE_SHAPES = re.compile(r"(?:[0-9]{4}[\-./][0-9]{1,2}[\-./][0-9]{1,2}|[0-9]{1,2}[\-./][0-9]{1,2}[\-./][0-9]{2,4})\Z")


MARKUP_SEPARATOR = r"(?:&nbsp;|&#160;|&#[xX][aA]0;|<br ?/?>)(?:\r?\n)?"
"""Markup a browser renders as a space or a line break between a card's or an IBAN's groups (issue 6, r8):
the no-break space written as an entity (`4111&nbsp;1111&nbsp;...`, HTML that must not wrap the number) and
a line break tag (`4111<br>1111<br>...`, one group per line of a table cell), with the source's own line
break after it. The entities' digits (`&#160;`) are not the number's: `_MARKUP` deletes them before the
checks."""
_MARKUP = re.compile(MARKUP_SEPARATOR)


def _iban_after_country(length: int, alnum: str, legacy: bool) -> re.Pattern[str]:
    """What follows an IBAN's country code: an optional space, the check digits, then the `length - 4`
    characters of the BBAN compact, or in groups of 3 or 4 (the last one shorter) each after one ` `, `-`,
    `.` or `MARKUP_SEPARATOR` (`DE89-3704-0044-0532-0130-00`, `DE 89 370 400 440 532 013 000`,
    `DE89&nbsp;3704&nbsp;...`); `legacy`: also single spaces anywhere (what upper-case IBANs were matched
    with before)."""
    b = length - 4
    forms = [f"{alnum}{{{b}}}"]
    gap = f"(?:[ .\\-]|{MARKUP_SEPARATOR})"
    for g in (4, 3):
        q, r = divmod(b, g)
        forms.append(f"(?:{gap}{alnum}{{{g}}}){{{q}}}" + (f"{gap}{alnum}{{{r}}}" if r else ""))
    if legacy:
        forms.append(f"(?: ?{alnum}){{{b}}}")
    return re.compile(" ?[0-9]{2}(?:" + "|".join(forms) + ")")


_IBAN_UPPER = {n: _iban_after_country(n, "[A-Z0-9]", True) for n in set(checks.IBAN_LENGTHS.values())}
_IBAN_LOWER = {n: _iban_after_country(n, "[a-z0-9]", False) for n in set(checks.IBAN_LENGTHS.values())}
"""Banks accept an IBAN in lower case; its BBAN letters then are lower case too (`gb82 west 1234 ...`)."""
_IBAN_SEPARATORS = str.maketrans("", "", " .-")
_IBAN_GAP = frozenset(" .-")
_LOWER_COUNTRIES = frozenset(c.lower() for c in checks.IBAN_LENGTHS)
_NUMBER_TRIGGER = re.compile(r"[0-9][0-9 \-./)]{6}")
"""What a digit trigger (and a number run's start) needs after its digit (see engine.py)."""
_LOWER_COMPACT_BBAN = re.compile(r"[a-z]{0,4}[0-9]+\Z")
"""A lower-case IBAN written without separators must have its BBAN's letters, if any, first (the bank code
of GB, NL, IE, ...): hex ids (`de12…`, `be34…`, span and object ids) would otherwise pass 1 time in 97."""

WIDE_SEPARATORS = " \\-./_\\n\\r"
"""Between the groups of a card written with everyday separators (a character class body)."""
MARKUP_SEPARATOR_MAX = 8
"""The longest `MARKUP_SEPARATOR` (`<br />` and `\\r\\n`)."""
_CARD_GAP = f"(?:[{WIDE_SEPARATORS}]{{1,3}}|{MARKUP_SEPARATOR})"
WIDE_CARD_SHAPE = f"[0-9]{{4}}(?:{_CARD_GAP}[0-9]{{4}}){{3}}|[0-9]{{4}}{_CARD_GAP}[0-9]{{6}}{_CARD_GAP}[0-9]{{5}}"
"""A card's 4-4-4-4 (or Amex 4-6-5) groups with 1-3 of ` -./_`, line breaks between them, in any mix:
`4111.1111.1111.1111`, `4111_1111_...`, `4111 - 1111 - ...`, one group per line (also `- 4111` list
items). A whole-text scan's engine reports where one ends (`Triggers.card_ends`)."""
WIDE_CARD_AFTER = f"[0-9]{{3}}(?:[{WIDE_SEPARATORS}][{WIDE_SEPARATORS}0-9]{{2}}|&nb|&#1|&#[xX]|<br)"
"""The engine's trigger for such a card in a stream is its first digit, not after a digit, with these 6
characters after it (3 digits, a separator, 2 more characters of the shape), like every digit trigger."""
WIDE_CARD_REACH = (16 + 3 * MARKUP_SEPARATOR_MAX, 17)
"""A `WIDE_CARD_SHAPE` match is 17 to 40 characters long: its first digit lies this far before its end."""
_WIDE_CARD = re.compile(WIDE_CARD_SHAPE)
_WIDE_DROP = str.maketrans("", "", " -./_\n\r")
_WIDE_BEFORE = re.compile(f"(?<![0-9])[0-9]{{4}}{_CARD_GAP}\\Z")
_WIDE_AFTER = re.compile(f"{_CARD_GAP}[0-9]{{4}}(?![0-9])")
_CLASSIC_CARD_END = re.compile(r"[0-9]{4}([ \-])[0-9]{4}\1[0-9]{4}\1[0-9]{4}\Z")
_WIDE_FIRST_SEPARATOR = frozenset(" -./_\n\r&<")
"""`text[p + 4 : p + 5]` for a card with wide separators starting at `p` (never the empty string)."""
_TRUNK_COUNTRY = re.compile(r"\+([1-9][0-9]{0,2}) ?\(\Z")
"""`+44 (` before the `0)` of an international number that shows its national trunk prefix."""
_NINO = re.compile(r"([A-Z]{2}) ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]")
_CODICE_FISCALE = re.compile(r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]")
_DNI_LETTER = re.compile(r"[ \-]?([A-Z])")
# Words that make a bare digit run an identifier rather than an order number (checked just before it).
_ID_CONTEXT = {
    "ssn": re.compile(r"(?i)(?:\bssns?\b|social security)"),  # not the US_SSN of a redaction marker
    "de_steuer_id": re.compile(r"(?i)(?:steuer|idnr|identifikationsnummer|tax id|\btin\b)"),
    "pl_pesel": re.compile(r"(?i)pesel"),
    "nl_bsn": re.compile(r"(?i)(?:\bbsn\b|burgerservice|sofi)"),
    "se_personnummer": re.compile(
        r"(?i)(?:person(?:nummer|nr)|samordningsnummer|\bpnr\b|personal (?:identity )?number)"
    ),
    "es_dni": re.compile(r"(?i)(?:\bd\.?n\.?i\b|\bnif\b|documento|identidad)"),
}
"""A dated personnummer (`850709-9805`) and a DNI (`12345678Z`) need theirs too: with a real date and Luhn,
or a check letter, one invoice or part number in ten to twenty in those shapes passes (red team R6:
`Invoice 850709-9805`, `Rechnung 20241224-7559`, `Part 12345678Z`)."""


class _Span(NamedTuple):
    start: int
    end: int
    digits: str
    sizes: tuple[int, ...]
    seps: tuple[str, ...]


def _groups(region: str) -> tuple[list[str], list[str]]:
    """The digit groups of a number region and the separators between them (one of ` -./`, or `) ` after
    an area code), up to `MAX_GROUPS` groups and stopping before a group longer than `MAX_GROUP_DIGITS`."""
    parts = _SEPARATOR.split(region, MAX_GROUPS)
    groups = parts[0::2][:MAX_GROUPS]
    for i, g in enumerate(groups):
        if len(g) > MAX_GROUP_DIGITS:
            del groups[i:]
            break
    return groups, parts[1::2]


def _letter_start(text: str, p: int, prev: str) -> bool:
    """Whether a letter-prefixed identifier (`NumberMatcher._letter_prefixed`) may end its letters at the digit
    trigger `p`, whose previous character is `prev`."""
    if prev in _WORD:
        # Inside a word only an identifier that begins with capitals after a non-word character can end its
        # letters here: two (IBAN, NINO), six (codice fiscale), or X/Y/Z (NIE). Base64, tracking ids and
        # SKUs fail all three at once.
        return "A" <= prev <= "Z" and (
            p < 7 or text[p - 3] not in _WORD or text[p - 7] not in _WORD
            or (prev in "XYZ" and text[p - 2] not in _WORD)
        )  # fmt: skip
    # `AB 12 34 56 C` (or the IBAN `DE 89 370 ...`) after a non-word character
    return (
        prev == " "
        and p >= 3
        and "A" <= text[p - 2] <= "Z"
        and "A" <= text[p - 3] <= "Z"
        and (p < 4 or text[p - 4] not in _WORD)
    )


def _lower_iban(text: str, p: int) -> Candidate | None:
    """A lower-case IBAN found from the digit trigger `p` of a number run: its check digits
    (`de89 3704 ...`, `de 89 ...`, `de8937...`), or the digits right after its BBAN's 1-4 leading letters
    (`gb82 west 1234 ...`, `it60 x054 ...`, `nl91abna0417...`). Two lower-case letters before a digit are
    in every other word of code and prose (`mp3`, `de 2024`): a Hyperscan trigger of their own (even the 77
    country codes only) made the trigger pass four times slower on the bench corpus, so these are looked for
    from the number triggers there already are, which such an IBAN has (six more number characters after
    `p`, checked here so the per-digit and per-run paths agree)."""
    if p < 2:
        return None
    prev = text[p - 1]
    if "a" <= prev <= "z":
        e = p
    elif prev in _IBAN_GAP and "a" <= text[p - 2] <= "z":
        e = p - 1
    else:
        return None
    # The country code right before `p` (or before one space), or 1-4 BBAN letters after the check digits.
    country = e == p or prev == " "
    if country and text[e - 2 : e] not in _LOWER_COUNTRIES:
        country = False
    # The bank code's letters: at most four, and one separator among them in groups of three (`wes t12`).
    k, letters, gaps = e - 1, 1, 0
    while k > 0 and letters <= 4:
        c = text[k - 1]
        if "a" <= c <= "z":
            letters += 1
        elif c in _IBAN_GAP and gaps == 0 and k > 1 and "a" <= text[k - 2] <= "z":
            gaps = 1
        else:
            break
        k -= 1
    b = k - 1 if text[k - 1] in _IBAN_GAP else k
    bank = letters <= 4 and k >= 4 and "0" <= text[b - 1] <= "9" and "0" <= text[b - 2] <= "9"
    if not (country or bank) or _NUMBER_TRIGGER.match(text, p) is None:
        return None
    if country:
        found = _iban(text, p)
        if found is not None:
            return found
    return _iban(text, b - 2) if bank else None


def _iban(text: str, p: int) -> Candidate | None:
    """The IBAN whose check digits start at `p`: country code right before them or before one space, upper
    or lower case (not mixed), separators as `_iban_after_country` takes them (in any mix: mod-97 decides),
    and what decides: the country's length and mod-97."""
    s = p - 3 if _char(text, p - 1) == " " else p - 2
    if s < 0 or _is_alnum(_char(text, s - 1)):
        return None
    country = text[s : s + 2]
    length = checks.IBAN_LENGTHS.get(country.upper())
    if length is None:
        return None
    lower = "a" <= country[0] <= "z"
    if lower != ("a" <= country[1] <= "z"):
        return None
    m = (_IBAN_LOWER if lower else _IBAN_UPPER)[length].match(text, s + 2)
    if m is None or _is_alnum(_char(text, m.end())):
        return None
    body = m.group()
    if "&" in body or "<" in body:
        body = _MARKUP.sub(" ", body)
    compact = body.translate(_IBAN_SEPARATORS)
    if lower:
        if len(body) - len(compact) <= (body[0] == " ") and not _LOWER_COMPACT_BBAN.match(compact, 2):
            return None  # no separator after the check digits: see _LOWER_COMPACT_BBAN
        compact = compact.upper()
    return Candidate(IBAN, s, m.end()) if checks.iban_ok(country.upper() + compact) else None


def _wide_card(text: str, p: int) -> Candidate | None:
    """A card whose 4-4-4-4 or 4-6-5 groups start at `p`, with separators as `WIDE_CARD_SHAPE` takes them:
    issuer range, length and Luhn decide, as for every card. A group of four digits right before or after
    it (with 1-3 separators between) makes it part of a longer list of such groups, a column of 4-digit
    values or a tracking number, not a card."""
    m = _WIDE_CARD.match(text, p)
    if m is None:
        return None
    end = m.end()
    sep = text[p + 4]
    if sep in _SPACE_OR_DASH and (
        (end - p == 19 and sep == text[p + 9] == text[p + 14]) or (end - p == 17 and sep == text[p + 11])
    ):
        return None  # one consistent space or dash: a number region, which `_classify` judges as before
    if (p and text[p - 1] in _WORD) or (end < len(text) and text[end] in _WORD):
        return None
    spelled = m.group()
    if "&" in spelled or "<" in spelled:
        spelled = _MARKUP.sub("", spelled)
    if not checks.card_ok(spelled.translate(_WIDE_DROP)):
        return None
    if _WIDE_AFTER.match(text, end) is not None or (
        p and _WIDE_BEFORE.search(text, max(0, p - 4 - MARKUP_SEPARATOR_MAX), p)
    ):
        return None
    return Candidate(CARD, p, end)


def _trunk_phone(text: str, p: int) -> Candidate | None:
    """`+44 (0)20 7946 0958`, `+49 (0) 30 1234567`: an international number that also shows its national
    trunk prefix `(0)`, whose `0` is at `p`. The number is `+CC` and the digits after `(0)`: the longest
    prefix of their groups that phonenumbers takes, from the `+`."""
    if _char(text, p + 1) != ")":
        return None
    cc = _TRUNK_COUNTRY.search(text, max(0, p - 6), p)
    if cc is None or _is_alnum(_char(text, cc.start() - 1)):
        return None
    start = p + 3 if _char(text, p + 2) == " " else p + 2
    region = _REGION.match(text, start, start + _REGION_REACH)
    if region is None:
        return None
    groups, between = _groups(region.group())
    end = start + sum(map(len, groups)) + sum(len(x) for x in between[: len(groups) - 1])
    for k in range(len(groups), 0, -1):
        if k < len(groups):
            end -= len(groups[k]) + len(between[k - 1])
        digits = cc.group(1) + "".join(groups[:k])
        if len(digits) < PHONE_MIN_DIGITS:
            break
        if len(digits) <= PHONE_MAX_DIGITS and not _is_alnum(_char(text, end)) and _phone_valid("+" + digits, None):
            return Candidate(PHONE, cc.start(), end)
    return None


def _context(text: str, start: int, key: str) -> bool:
    return _ID_CONTEXT[key].search(text, max(0, start - CONTEXT_CHARS), start) is not None


def _zeros(region: str) -> int:
    """How many of a number region's first two digits are zeros, counted from the first (2: a 00 prefix)."""
    if region[0] != "0":
        return 0
    second = region[1]
    if not "0" <= second <= "9":
        second = region[3] if second == ")" else region[2]  # after `) ` or a one-character separator
    return 2 if second == "0" else 1


Plan = tuple[tuple[int, tuple[int, ...], tuple[str, ...], str], ...]
"""Spans of a number region to classify, longest first: (length in characters, group sizes, separators, the
separator characters to delete from the span's text to get its digits)."""


@functools.lru_cache(maxsize=4096)
def _plan(shape: str, plus: bool, zeros: int, national_prefix: bool, nanp: bool) -> Plan:
    """For a number region whose digits `shape` spells as 9s, after `+` or not, whose first two digits hold
    `zeros` zeros: the spans of its first k groups that `NumberMatcher._classify` could accept, longest first.
    The other spans are rejected by their shape alone. A span's groups depend on its shape only, so they
    are split here once per shape, not once per number."""
    groups, between = _groups(shape)
    sizes = tuple(map(len, groups))
    seps = tuple(between[: len(groups) - 1])
    out = []
    length = sum(sizes) + sum(map(len, seps))
    for k in range(len(sizes), 0, -1):
        if k < len(sizes):
            length -= sizes[k] + len(seps[k - 1])
        n = sum(sizes[:k])
        if n < PHONE_MIN_DIGITS and k != IPV4_GROUPS:
            continue  # shorter than every identifier but a dotted quad: nothing to classify
        if shape_may_match(sizes[:k], seps[: k - 1], plus, zeros, national_prefix, nanp):
            out.append((length, sizes[:k], seps[: k - 1], "".join(sorted(set("".join(seps[: k - 1]))))))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _region_plan(
    shape: str, plus: bool, national_prefix: bool, nanp: bool
) -> tuple[tuple[int, int, tuple[Plan, ...]], ...]:
    """For a whole number region spelled as `shape` (digits as 9s), after `+` or not: each of its digit runs
    that some identifier could start, as (offset, end of the region `NumberMatcher.find` reads from it, its
    `_plan` for 0, 1 and 2 leading zeros). The other runs are rejected by the region's shape alone."""
    out = []
    for o in (0, *(m.end() for m in _SEPARATOR.finditer(shape))):
        region = _REGION.match(shape, o, o + _REGION_REACH)
        if region is None or region.end() - o < MIN_REGION_CHARS:
            continue
        sub = region.group()
        plans = tuple(_plan(sub, plus and o == 0, zeros, national_prefix, nanp) for zeros in range(3))
        if any(plans):
            out.append((o, region.end(), plans))
    return tuple(out)


RUN_PLAN_CACHED_MAX = 64
"""Runs of number characters up to this long have their `_run_plan` cached (a table of digits can be one
run of any length: its plan is made again each time rather than kept)."""


_SHAPE_BYTES = bytes.maketrans(b"0123456789", b"9999999999")
"""`_SHAPE` for the bytes of an ASCII run: `bytes.translate` reads a table in C (~50 ns a run, `str.translate`
~270)."""


@functools.lru_cache(maxsize=4096)
def _run_plan(
    shape: bytes, plus: bool, national_prefix: bool, nanp: bool
) -> tuple[tuple[int, int, int, tuple[Plan, ...]], ...]:
    """For a run of number characters (`_NUMBER_RUN`, ASCII) spelled as `shape` (digits as 9s), after `+` or not:
    `_region_plan` of each of its number regions of at least `MIN_REGION_CHARS` (a shorter region holds no
    longer one), as (the region's offset in the run, then what `_region_plan` lists). A region after the
    run's first starts after a separator, so only the first can follow a `+` (or a word character).

    One cached look-up per run instead of a regex pass, a slice and a translation per region: on a short
    answer with three order numbers and a date these were a third of the sanitizer's time, and most runs
    hold one region of a shape seen before."""
    out = []
    for region in _REGION.finditer(shape.decode()):
        if region.end() - region.start() >= MIN_REGION_CHARS:
            r = region.start()
            for o, e, plans in _region_plan(region.group(), plus and r == 0, national_prefix, nanp):
                out.append((r, o, e, plans))
    return tuple(out)


def shape_may_match(
    sizes: tuple[int, ...], seps: tuple[str, ...], plus: bool, zeros: int, national_prefix: bool, nanp: bool
) -> bool:
    """False when `NumberMatcher._classify` rejects every span of this shape, whatever its digits and
    neighbours (tests/guard/test_sanitize_prefilters.py checks it against `_classify` on random texts).

    One clause per branch of `_classify`, each the shape condition of that branch only."""
    n = sum(sizes)
    kinds = set(seps)
    one_kind = len(kinds) <= 1 and kinds <= {" ", "-"}
    if sizes == (8,):
        return True  # ES DNI: its letter follows the digits
    if n in checks.CARD_LENGTHS and one_kind and (len(sizes) == 1 or min(sizes) >= 3):
        return True
    if sizes == (9,) or (sizes == (3, 2, 4) and len(kinds) == 1 and one_kind):
        return True  # US SSN
    if n == 15 and (sizes == (15,) or (sizes == (1, 2, 2, 2, 3, 3, 2) and kinds == {" "})):
        return True  # FR NIR
    if n == 11 and (sizes == (11,) or (sizes == (2, 3, 3, 3) and kinds == {" "})):
        return True  # DE Steuer-IdNr, PL PESEL
    if n == 9 and sizes == (4, 2, 3) and kinds == {"."}:
        return True  # NL BSN (bare 9 digits: above)
    if (sizes in ((6, 4), (8, 4)) and kinds == {"-"}) or sizes in ((10,), (12,)):
        return True  # SE personnummer
    if len(sizes) == IPV4_GROUPS and kinds == {"."} and max(sizes) <= 3:
        return True
    if not PHONE_MIN_DIGITS <= n <= PHONE_MAX_DIGITS + 2:
        return False
    if plus or (zeros == 2 and n > PHONE_MIN_DIGITS + 1 and len(sizes) > 1):
        return True  # international: +CC, or 00CC dialled
    if len(sizes) < 2 or n > PHONE_MAX_DIGITS:
        return False  # bare national digit runs are never phones
    return (national_prefix and zeros > 0) or (nanp and sizes == (3, 3, 4))


class NumberMatcher(LocalMatcher):
    """Everything whose first digit run is a trigger: longest accepted span per trigger wins."""

    trigger_field = "digit"
    left_reach = CONTEXT_CHARS + 8  # the id context words, and "ABCDEF" + one boundary before a codice fiscale
    start_reach = 12  # `gb 82.wes.t12`: a lower-case IBAN found from its BBAN's first digits (`_lower_iban`)
    settle_reach = NUMBER_RIGHT_REACH

    def __init__(self, phone_regions: Sequence[str]) -> None:
        self._regions = tuple(phone_regions)
        self._nanp = any(r in NANP_REGIONS for r in self._regions)
        self._national_prefix = any(r not in NANP_REGIONS for r in self._regions)

    def settled(self, text: str, p: int) -> bool:
        return p + self.settle_reach <= len(text)

    def find(self, text: str, triggers: Triggers) -> Iterable[Candidate]:
        if triggers.number_runs is not None:
            return self._find_in_runs(text, triggers.number_runs, triggers.capital_digits, triggers.card_ends)
        out: list[Candidate] = []
        region_at = _REGION.match
        national_prefix, nanp = self._national_prefix, self._nanp
        for p in triggers.digit:
            prev = text[p - 1] if p else ""
            if _letter_start(text, p, prev):
                out.extend(self._letter_prefixed(text, p))
            if "a" <= prev <= "z" or prev in _IBAN_GAP:
                iban = _lower_iban(text, p)
                if iban is not None:
                    out.append(iban)
            if prev in _WORD:
                continue  # every span from here starts inside a word (`_classify` rejects them all)
            if prev == "(":
                trunk = _trunk_phone(text, p)
                if trunk is not None:
                    out.append(trunk)
            if text[p + 4 : p + 5] in _WIDE_FIRST_SEPARATOR:
                card = _wide_card(text, p)
                if card is not None:
                    out.append(card)
            # Bounded: a long table of digits must not make each of its triggers read to its end.
            region = region_at(text, p, p + _REGION_REACH)
            if region is None or region.end() - p < MIN_REGION_CHARS:
                continue  # prices, versions, short counts: shorter than the shortest identifier (1.2.3.4)
            digits_and_separators = region.group()
            # Most triggers (inner groups of cards and IBANs, order numbers, dates, barcodes) have a shape
            # no identifier has: the plan, cached per shape, leaves only the spans `_classify` could accept.
            plan = _plan(digits_and_separators.translate(_SHAPE), prev == "+", _zeros(digits_and_separators),
                         national_prefix, nanp)  # fmt: skip
            if plan:
                found = self._first_accepted(text, p, plan)
                if found is not None:
                    out.append(found)
        return out

    def _find_in_runs(
        self, text: str, runs: Sequence[int], capitals: Sequence[int], card_ends: Sequence[int]
    ) -> list[Candidate]:
        """What `find` yields from every digit trigger, from the engine's runs and capital digits instead: each
        number region is shaped and planned once for all its digit runs (a spaced card's four groups, an
        IBAN's), so the digit triggers inside a region cost no Python step of their own."""
        out: list[Candidate] = []
        for p in capitals:
            if _letter_start(text, p, text[p - 1]):
                out.extend(self._letter_prefixed(text, p))
        if card_ends:
            # Each end's card starts 17-40 characters before it (`WIDE_CARD_REACH`); `find` tries the first
            # digit of each digit run, which the stream's trigger reports.
            farthest, nearest = WIDE_CARD_REACH
            tried: set[int] = set()
            classic = _CLASSIC_CARD_END.match
            for e in card_ends:
                if e >= 19 and classic(text, e - 19, e):
                    continue  # only the one-separator card ends here, which `_wide_card` leaves to regions
                for p in range(max(0, e - farthest), e - nearest + 1):
                    if p not in tried and "0" <= text[p] <= "9" and not (p and "0" <= text[p - 1] <= "9"):
                        tried.add(p)
                        card = _wide_card(text, p)
                        if card is not None:
                            out.append(card)
        run_at = _NUMBER_RUN.match
        national_prefix, nanp = self._national_prefix, self._nanp
        first_accepted = self._first_accepted
        for q in runs:
            prev = text[q - 1] if q else ""
            if prev == "(":
                # What `find` tries at a digit after `(` or a lower-case letter: here a run's first digit.
                trunk = _trunk_phone(text, q)
                if trunk is not None:
                    out.append(trunk)
            elif "a" <= prev <= "z" or prev in _IBAN_GAP:
                iban = _lower_iban(text, q)
                if iban is not None:
                    out.append(iban)
            run = text[q : run_at(text, q).end()]  # type: ignore[union-attr]
            plan_of = _run_plan if len(run) <= RUN_PLAN_CACHED_MAX else _run_plan.__wrapped__
            for r, o, e, plans in plan_of(run.encode().translate(_SHAPE_BYTES), prev == "+", national_prefix, nanp):
                if r == 0 and o == 0 and prev in _WORD:
                    continue  # the region's first run starts inside a word; its later runs do not
                plan = plans[_zeros(run[r + o : r + e])]
                if plan:
                    found = first_accepted(text, q + r + o, plan)
                    if found is not None:
                        out.append(found)
        return out

    def _first_accepted(self, text: str, p: int, plan: Plan) -> Candidate | None:
        """The longest span of the region at `p` that `_classify` accepts, among those `plan` lists."""
        for length, sizes, seps, separators in plan:
            digits = text[p : p + length]
            for separator in separators:
                digits = digits.replace(separator, "")
            found = self._classify(text, _Span(p, p + length, digits, sizes, seps))
            if found is not None:
                return found
        return None

    def _letter_prefixed(self, text: str, p: int) -> Iterable[Candidate]:
        """IBAN, NINO, codice fiscale and NIE start with letters just before the first digit run."""
        iban = _iban(text, p)
        if iban is not None:
            yield iban
        before = text[max(0, p - 6) : p]
        if len(before) >= 2 and before[-2:].isupper() and before[-2:].isalpha():
            s = p - 2
            if not _is_alnum(_char(text, s - 1)):
                nino = _NINO.match(text, s)
                if nino is not None and not _is_alnum(_char(text, nino.end())):
                    if checks.uk_nino_prefix_ok(nino.group(1)):
                        yield Candidate(UK_NINO, s, nino.end())
        elif len(before) >= 3 and before[-1] == " " and before[-3:-1].isalpha() and before[-3:-1].isupper():
            s = p - 3
            nino = _NINO.match(text, s)
            if nino is not None and not _is_alnum(_char(text, s - 1)) and not _is_alnum(_char(text, nino.end())):
                if checks.uk_nino_prefix_ok(nino.group(1)):
                    yield Candidate(UK_NINO, s, nino.end())
        if len(before) == 6 and before.isalpha() and before.isupper() and not _is_alnum(_char(text, p - 7)):
            m = _CODICE_FISCALE.match(text, p - 6)
            if m is not None and not _is_alnum(_char(text, m.end())) and checks.it_codice_fiscale_ok(m.group()):
                yield Candidate(NATIONAL_ID, p - 6, m.end())
        lead = _char(text, p - 1)
        if lead in "XYZ" and not _is_alnum(_char(text, p - 2)):
            m = _DIGITS.match(text, p)
            if m is not None and m.end() - p == 7:
                letter = _DNI_LETTER.match(text, m.end())
                if letter is not None and not _is_alnum(_char(text, letter.end())):
                    if checks.es_dni_ok(lead + m.group(), letter.group(1)):
                        yield Candidate(NATIONAL_ID, p - 1, letter.end())

    def _classify(self, text: str, span: _Span) -> Candidate | None:
        start, end, digits, sizes, seps = span.start, span.end, span.digits, span.sizes, span.seps
        if start and text[start - 1] in _WORD:
            return None
        if sizes == (8,):
            letter = _DNI_LETTER.match(text, end)
            if letter is not None and not _is_alnum(_char(text, letter.end())):
                if checks.es_dni_ok(digits, letter.group(1)) and _context(text, start, "es_dni"):
                    return Candidate(NATIONAL_ID, start, letter.end())
        if end < len(text) and text[end] in _WORD:
            return None
        kinds = set(seps)
        n = len(digits)
        if n in checks.CARD_LENGTHS and kinds <= _SPACE_OR_DASH and len(kinds) <= 1:
            if (len(sizes) == 1 or min(sizes) >= 3) and checks.card_ok(digits):
                return Candidate(CARD, start, end)
        if sizes == (3, 2, 4) and len(kinds) == 1 and kinds <= _SPACE_OR_DASH:
            if checks.us_ssn_ok(digits[:3], digits[3:5], digits[5:]):
                return Candidate(US_SSN, start, end)
        if sizes == (9,) and _context(text, start, "ssn") and checks.us_ssn_ok(digits[:3], digits[3:5], digits[5:]):
            return Candidate(US_SSN, start, end)
        national = self._national(text, span, kinds)
        if national is not None:
            return national
        if len(sizes) == IPV4_GROUPS and kinds == {"."} and max(sizes) <= 3:
            return self._ipv4(text, span)
        if PHONE_MIN_DIGITS <= n <= PHONE_MAX_DIGITS + 2:
            return self._phone(text, span, kinds)
        return None

    def _national(self, text: str, span: _Span, kinds: set[str]) -> Candidate | None:
        start, end, digits, sizes = span.start, span.end, span.digits, span.sizes
        n = len(digits)
        if n == 15 and (sizes == (15,) or (sizes == (1, 2, 2, 2, 3, 3, 2) and kinds == {" "})):
            if checks.fr_nir_ok(digits):
                return Candidate(NATIONAL_ID, start, end)
        if n == 11 and (sizes == (11,) or (sizes == (2, 3, 3, 3) and kinds == {" "})):
            if _context(text, start, "de_steuer_id") and checks.de_steuer_id_ok(digits):
                return Candidate(NATIONAL_ID, start, end)
            if sizes == (11,) and _context(text, start, "pl_pesel") and checks.pl_pesel_ok(digits):
                return Candidate(NATIONAL_ID, start, end)
        if n == 9 and (sizes == (9,) or (sizes == (4, 2, 3) and kinds == {"."})):
            if _context(text, start, "nl_bsn") and checks.nl_bsn_ok(digits):
                return Candidate(NATIONAL_ID, start, end)
        if sizes in ((6, 4), (8, 4), (10,), (12,)) and kinds <= {"-"} and _context(text, start, "se_personnummer"):
            if checks.se_personnummer_ok(digits):
                return Candidate(NATIONAL_ID, start, end)
        return None

    @staticmethod
    def _ipv4(text: str, span: _Span) -> Candidate | None:
        after_dot = _char(text, span.end) == "." and _is_digit(_char(text, span.end + 1))
        if _char(text, span.start - 1) == "." or after_dot:
            return None
        parts = text[span.start : span.end].split(".")
        if len(parts) != 4 or any((len(p) > 1 and p[0] == "0") or int(p) > 255 for p in parts):
            return None
        return Candidate(IP_ADDRESS, span.start, span.end)

    def _phone(self, text: str, span: _Span, kinds: set[str]) -> Candidate | None:
        start, end, digits, sizes = span.start, span.end, span.digits, span.sizes
        before = _char(text, start - 1)
        if before == "+" and not _is_alnum(_char(text, start - 2)):
            return Candidate(PHONE, start - 1, end) if self._valid("+" + digits, None) else None
        if digits.startswith("00") and len(digits) > PHONE_MIN_DIGITS + 1 and len(sizes) > 1:
            # A bare 00-run is a barcode (EAN-13 0060174533407) before it is a dialled number.
            return Candidate(PHONE, start, end) if self._valid("+" + digits[2:], None) else None
        if len(sizes) < 2 or not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
            return None  # bare national digit runs are order numbers far more often than phones
        if not (self._national_prefix and digits[0] == "0") and not (self._nanp and sizes == (3, 3, 4)):
            return None  # no configured region can read it: the loop below would reject it region by region
        if _DATE_SHAPES.match(text[start:end]) or (kinds == {"/"} and not self._area_slash(text, span)):
            return None
        for region in self._regions:
            if region in NANP_REGIONS:
                paren = before == "(" and span.seps[:1] == (") ",) and set(span.seps[1:]) <= {"-", " "}
                plain = len(kinds) == 1 and kinds <= {"-", ".", " "}
                if sizes == (3, 3, 4) and (paren or plain) and self._valid(digits, region):
                    return Candidate(PHONE, start - 1 if paren else start, end)
            elif digits[0] == "0" and ") " not in kinds and self._valid(digits, region):
                return Candidate(PHONE, start, end)
        return None

    @staticmethod
    def _area_slash(text: str, span: _Span) -> bool:
        """`030/12345678`, `0621/1234567`: a slash joins a German or Austrian area code to the number, and
        else dates, fractions and references (`12/31/2023`, `05/2024`, `030/1234/5678`): only an area code
        of 3-6 digits with one slash after it, at the end of the slashes."""
        return len(span.sizes) == 2 and 3 <= span.sizes[0] <= 6 and _char(text, span.end) != "/"

    @staticmethod
    def _valid(number: str, region: str | None) -> bool:
        return _phone_valid(number, region)


@functools.lru_cache(maxsize=8192)
def _phone_valid(number: str, region: str | None) -> bool:
    """phonenumbers' parse + is_valid_number (~0.3 ms); support numbers recur, so verdicts are cached."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


# ---- IPv6 --------------------------------------------------------------------------------------------

IPV6_MAX = 45
_LAST_NOT_HEX = re.compile(r"(?s:.*)[^0-9A-Fa-f:.]")
"""Greedy: `match(text, lo, p)` ends just after the last character in `text[lo:p]` that no address has."""
_HEXRUN = re.compile(r"[0-9A-Fa-f:.]{0,45}")


class Ipv6Matcher(LocalMatcher):
    trigger_field = "colon"
    left_reach = IPV6_MAX + 1
    start_reach = IPV6_MAX
    settle_reach = IPV6_MAX + 2

    def settled(self, text: str, p: int) -> bool:
        return p + self.settle_reach <= len(text)

    def find(self, text: str, triggers: Triggers) -> Iterable[Candidate]:
        seen: set[tuple[int, int]] = set()
        run_from = run_to = -1
        for p in triggers.colon:
            if run_from < p < run_to:
                continue  # a later colon of a run already read whole: it reads the same run (below)
            # The hex run ending at `p`, at most IPV6_MAX long: from just after the last other character.
            lo = max(0, p - IPV6_MAX)
            other = _LAST_NOT_HEX.match(text, lo, p)
            right = _HEXRUN.match(text, p)
            if right is None:
                continue
            start, end = (lo if other is None else other.end()), right.end()
            # Both ends found, not cut at IPV6_MAX: every colon after `p` before the run's end, while the
            # character before the run is within its look-back, sees the same run and gives the same verdict.
            if other is not None and end - p < IPV6_MAX:
                run_from, run_to = p, min(end, start + IPV6_MAX)
            while end > start and text[end - 1] in ".:" and not text[start:end].endswith("::"):
                end -= 1
            if (start, end) in seen or _is_alnum(_char(text, start - 1)) or _is_alnum(_char(text, end)):
                continue
            seen.add((start, end))
            value = text[start:end]
            if value.count(":") < 2:
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            yield Candidate(IP_ADDRESS, start, end)


# ---- secrets (shared with the scanner) ---------------------------------------------------------------


# The literal anchors `find_secrets` starts every pattern from: the engine finds them in its one pass, and
# find_secrets then runs only on windows around them (it makes ~25 passes of str.find over what it gets).
SECRET_ANCHORS: tuple[str, ...] = tuple(anchor for anchor, _ in _BY_ANCHOR) + _AWS_SECRET_NAMES
AWS_SECRET_NAMES = frozenset(_AWS_SECRET_NAMES)
"""Anchors matched in any case (the engine's pattern and `_anchors_within` alike), as find_secrets reads them."""


def _gate(spelling: str) -> bytes:
    """A lenient prefix as the engine sees it (caseless, over the ASCII projection): each letter that has
    look-alikes may also be the `?` a non-ASCII character becomes there."""
    return "".join(f"[{c}?]" if c.lower() in ANCHOR_CONFUSABLES else re.escape(c) for c in spelling).encode()


SECRET_GATES: tuple[tuple[bytes, int, bool], ...] = (
    *((re.escape(a).encode(), len(a), a in AWS_SECRET_NAMES) for a in SECRET_ANCHORS),
    *((_gate(p.spelling), len(p.spelling), True) for p in LENIENT_PREFIXES),
    *((re.escape(g).encode(), len(g), True) for g in PEM_GATES),
    *((literal.encode(), len(literal), False) for literal, _, _ in DER_PREFIXES),
)
"""The engine's secret gates, `(pattern, length, caseless)`: the literal anchors of `SECRET_ANCHORS` first (in
its order), then those of what `find_secrets(lenient=True)` finds: every lenient match starts at a gate or at
most six characters before one (a PEM header's dashes). `_anchors_within` needs only the literal ones."""
_AWS_LOWER = tuple((name, name.lower()) for name in _AWS_SECRET_NAMES)
_AWS_LONGEST = max(len(name) for name in _AWS_SECRET_NAMES)
_EXACT_ANCHORS = tuple(a for a in SECRET_ANCHORS if a not in _AWS_SECRET_NAMES)
_ANCHORS_BY_FIRST: dict[str, tuple[str, ...]] = {
    first: tuple(a for a in _EXACT_ANCHORS if a[0] == first) for first in {a[0] for a in _EXACT_ANCHORS}
}
_NON_SPACE_RUN = re.compile(r"\S*")
SECRET_LEFT_CONTEXT = 512
"""Characters before an anchor given to find_secrets (its lookbehinds and the ±400-character Firebase check)."""
SECRET_RIGHT_CONTEXT = 2048
PEM_RIGHT_CONTEXT = 13_000
"""A PEM block may run 12,000 characters past its header (find_secrets' own bound)."""


class SecretMatcher(Matcher):
    """`leakline.detectors.secrets.find_secrets`: the scanner's implementation, not a second one."""

    def find(self, text: str, triggers: Triggers) -> Iterable[Candidate]:
        anchors = triggers.secret_anchors
        if anchors is None:
            windows = [(0, len(text))]
        else:
            windows = _merge([
                (max(0, a - SECRET_LEFT_CONTEXT),
                 min(len(text), a + (PEM_RIGHT_CONTEXT if text.startswith("-----BEGIN ", a) else SECRET_RIGHT_CONTEXT)))
                for a in anchors
            ])  # fmt: skip
        for lo, hi in _merge([(lo, _NON_SPACE_RUN.match(text, hi).end()) for lo, hi in windows]):  # type: ignore[union-attr]
            # (a window never ends inside a token: a JWT or key cut short would simply not match)
            yield from self._window(text, lo, hi, anchors)

    @staticmethod
    def _window(text: str, lo: int, hi: int, anchors: Sequence[int] | None) -> Iterable[Candidate]:
        while True:
            # The engine saw every anchor: find_secrets need not look for the ~30 that are not in the window.
            present = None if anchors is None else _anchors_within(text, anchors, lo, hi)
            matches = find_secrets(text[lo:hi], Context.TEXT, anchors=present, lenient=True)
            spans = [
                (
                    m.start + lo,
                    pem_body_end(text, m.start + lo, m.end + lo, hi)
                    if m.kind is SecretKind.PRIVATE_KEY
                    else m.end + lo,
                )
                for m in matches
            ]
            # A key running up to the window's end may go on, and the Firebase check reads 400 characters
            # past a key: widen until every match ends well inside the window (or the window is the text).
            if hi < len(text) and any(end + SECRET_LEFT_CONTEXT > hi for _, end in spans):
                hi = min(len(text), hi * 2 - lo)
                continue
            return [Candidate(SECRET, start, end) for start, end in spans]


_PEM_ARMOR = re.compile(r"-{3,6}[ \t]?(?i:BEGIN)[ \t]")
"""A PEM header's start, as `find_secrets` finds it (3-6 dashes, any case)."""
_PEM_CLOSED = re.compile(r"-{3,6}[ \t]?(?i:END)[ \t][^\n]{0,80}\Z")
_PEM_LINE = re.compile(r"(?:\r?\n|(?:\\r)?\\n)[ \t]{0,16}([A-Za-z0-9+/]+)(={0,2})(?=[ \t]*(?:\r?\n|\\[rn]|[\"'`]|\Z))")
"""One base64 line after a line break (or an escaped `\\n` in a JSON or JS string), up to its end."""
_PEM_FOOTER_AFTER = re.compile(
    r"(?:\r?\n|(?:\\r)?\\n)?[ \t]{0,16}-{3,6}[ \t]?(?i:END)[ \t]+(?:(?i:[A-Z0-9]+)[ \t]+){0,4}?"
    r"(?i:PRIVATE)[ \t]+(?i:KEY)(?:[ \t]+(?i:BLOCK))?[ \t]?-{3,6}"
)
_PEM_LAST_LINE = re.compile(r"(?:\r?\n|(?:\\r)?\\n)[ \t]{0,16}([A-Za-z0-9+/]+)\Z")
PEM_SHORT_LINE = 16
"""The shortest line width of a PEM body the sanitizer follows: `find_secrets` follows lines of 40 or more."""


def _capitals(word: str) -> int:
    return sum(1 for c in word if "A" <= c <= "Z")


def pem_body_end(text: str, start: int, end: int, hi: int) -> int:
    """Where a PEM private key found at `[start, end)` ends when its body lines are shorter than the 40
    characters `find_secrets(lenient=True)` follows (a model re-wrapping a key at 32 or 20 columns): the
    lines of the same width as its first one, then one shorter last line, then an END line right after
    them. Read up to `hi` (the window's end); `end` itself for DER bodies without armor, for a block
    that ends with its END line already, and when the next line is not base64 of that width.

    A shorter last line is taken only when it is padded (`=`), holds a digit, `+`, `/` or two capitals, or
    an END line follows it: a word on the line after a key (`Thanks`) is not more key."""
    if text[end - 1] == "=" or not _PEM_ARMOR.match(text, start) or _PEM_CLOSED.search(text, start, end):
        return end
    last = _PEM_LAST_LINE.search(text, start, end)
    width = len(last.group(1)) if last is not None else 0  # the last body line matched so far
    pos = end
    while True:
        m = _PEM_LINE.match(text, pos, hi)
        if m is None:
            break
        line = len(m.group(1))
        if width == 0 and line >= PEM_SHORT_LINE:  # the first body line after a bare header sets the width
            width = line
            pos = m.end()
            if m.group(2):
                break
            continue
        if width < PEM_SHORT_LINE or line > width:
            break
        if line == width and not m.group(2):
            pos = m.end()
            continue
        body = m.group(1)
        footer = _PEM_FOOTER_AFTER.match(text, m.end(), hi)
        if m.group(2) or footer is not None or any(c.isdigit() or c in "+/" for c in body) or _capitals(body) >= 2:
            pos = m.end()
        break
    footer = _PEM_FOOTER_AFTER.match(text, pos, hi)
    return footer.end() if footer is not None else pos


def _anchors_within(text: str, positions: Sequence[int], lo: int, hi: int) -> set[str]:
    """The anchors that start at `positions` (sorted) and lie wholly inside `text[lo:hi]`."""
    present: set[str] = set()
    for i in range(bisect.bisect_left(positions, lo), bisect.bisect_left(positions, hi)):
        a = positions[i]
        for anchor in _ANCHORS_BY_FIRST.get(text[a], ()):
            if a + len(anchor) <= hi and text.startswith(anchor, a):
                present.add(anchor)
        if text[a] in "aAsS":
            head = text[a : a + _AWS_LONGEST].lower()
            for name, lower in _AWS_LOWER:
                if a + len(name) <= hi and head.startswith(lower):
                    present.add(name)
    return present


# ---- canaries ----------------------------------------------------------------------------------------

CANARY_MIN_BITS = 128
CANARY_MIN_DISTINCT = 8
CANARY_MAX_SEPARATORS = 4
"""Non-alphanumeric characters between two characters of a spaced canary: four, for a character array
(`["Z", "q", …]` puts `", "` between them; red team R6)."""
CANARY_SPLIT_GAP = 16
"""Characters of any kind allowed at one place in a canary (between two of its characters), besides the
separators: a model splitting the token in two writes markup or words between the pieces (`** **`, `<br>`,
`&nbsp;`, `</td><td>`, ` and `). Both pieces are the token's own random characters in order, so any text
between them keeps the match precise; the bound keeps a spelling short enough for the stream's hold-back."""
_HEX = frozenset("0123456789abcdefABCDEF")
_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")


def canary_bits(token: str) -> float:
    """Entropy of a random token drawn from the smallest usual alphabet that spells it."""
    size = 16 if set(token) <= _HEX else 64 if set(token) <= _B64 else 94
    return len(token) * math.log2(size)


def _canary_base64(raw: bytes) -> list[str]:
    """The standard base64 characters made only of `raw`'s bits, at each of the three byte alignments."""
    out: list[str] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        first = -(-offset * 8 // 6)  # the first character made only of the token's own bits
        last = (offset + len(raw)) * 8 // 6
        out.append(encoded[first:last])
    return out


def canary_encodings(token: str) -> list[str]:
    """Base64 (standard and URL-safe, every byte alignment) and hex spellings of the token's bytes."""
    raw = token.encode()
    out: list[str] = []
    for piece in _canary_base64(raw):
        out.append(piece)
        out.append(piece.replace("+", "-").replace("/", "_"))
    out.append(raw.hex())
    out.append(raw.hex().upper())
    return list(dict.fromkeys(out))


def canary_spaced_pattern(token: str) -> str:
    """The token with up to `CANARY_MAX_SEPARATORS` non-alphanumeric characters between any two of its characters."""
    gap = r"[^A-Za-z0-9]{0," + str(CANARY_MAX_SEPARATORS) + "}"
    return gap.join(re.escape(ch) for ch in token)


CANARY_GATE_MIN = 8
"""Characters of the token in each of its two gates: a random run this long is not in ordinary text."""
_RARE_FIRST = "qzxj0123456789kvbpygfwmucldrhsnioate"
"""ASCII letters and digits from the rarest in answers (English letter frequencies, case-insensitive) to
the most common; any other character ranks after them. A gate is a Hyperscan NFA that wakes at each
occurrence of its first character, so a gate starting with `q` costs a fraction of one starting with `t`."""


def _rarity(ch: str) -> int:
    rank = _RARE_FIRST.find(ch.lower())
    return rank if rank >= 0 else len(_RARE_FIRST)


def canary_gate_spans(token: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two runs of the token, `[a, b)` and `[b, len)`, each at least `CANARY_GATE_MIN` long and each
    starting at as rare a character as possible. A split at any one place leaves one of them whole (they do
    not overlap), so one fires on every spaced or split spelling; they are the canary's most frequent gates
    (spaced spellings have no literal for Hyperscan to look for first), so where they start decides much of
    the whole trigger pass's cost (measured on the bench corpus: 11.0 ms with the whole token's spaced
    spelling as its gate, 4.4 ms with these, 4.0 ms without any spaced gate)."""
    n, m = len(token), CANARY_GATE_MIN
    if n < 2 * m:  # shorter than any valid canary (>= 128 bits): halves
        return (0, n // 2), (n // 2, n)
    best = (0, m)
    cost = _rarity(token[0]) + _rarity(token[m])
    for a in range(n - 2 * m + 1):
        for b in range(a + m, n - m + 1):
            c = _rarity(token[a]) + _rarity(token[b])
            if c < cost:
                best, cost = (a, b), c
    a, b = best
    return (a, b), (b, n)


def canary_half_patterns(token: str) -> list[str]:
    """The gates of the token's spaced and split spellings: the spaced spellings of its two gate runs."""
    return [canary_spaced_pattern(token[a:b]) for a, b in canary_gate_spans(token)]


CANARY_SPLIT_PIECE = 4
"""Characters of the token in each piece of a split spelling. Fewer would let a piece begin at a letter of
the text before the canary (`t` of `the` for a token starting with `t`) and the hit grow over it."""


def canary_split_pattern(token: str) -> str:
    """The token spaced out, with up to `CANARY_SPLIT_GAP` characters of any kind at one place instead of
    the separators there (`Zq7XbN2vLp9R and tY4sKw8HdM3c`, `**Zq7XbN2vLp9R** **tY4sKw8HdM3c**`), each piece
    at least `CANARY_SPLIT_PIECE` long; and the token without its first or last one to three characters
    (what is left when a split puts them further away)."""
    gap = r"[\s\S]{0," + str(CANARY_SPLIT_GAP) + "}?"
    n, m = len(token), CANARY_SPLIT_PIECE
    splits = [
        f"(?:{canary_spaced_pattern(token[:k])}{gap}{canary_spaced_pattern(token[k:])})" for k in range(m, n - m + 1)
    ]
    ends = [f"(?:{canary_spaced_pattern(t)})" for j in range(1, m) for t in (token[j:], token[: n - j])]
    return "|".join([*splits, *ends])


def canary_split_starts(token: str) -> str:
    """The characters a split spelling (`canary_split_pattern`) starts with, as a character class."""
    return "".join(re.escape(ch) for ch in dict.fromkeys(token[:CANARY_SPLIT_PIECE]))


CANARY_WRAP = r"(?:\r?\n)?"
"""Between two base64 characters: the line break of a wrapped encoding (MIME's 76 columns, PEM's 64) falls
anywhere in the token's spelling, and decoders (`atob`, `base64 -d`, `b64decode` of a MIME body) skip it."""
CANARY_HEX_PREFIX = r"(?:0x|\\x|%)?"
"""Before a hex byte pair of a canary: a byte literal's prefix (red team R6: `%5A%71…`, `0x5a, 0x71`, `\x5a`)."""
CANARY_HEX_GAP = r"[\s:,\-]{0,2}"
"""Between two hex byte pairs: `5a 71`, `5a:71`, `5a, 71`, `5a-71`, a line break. `\\s` is ASCII whitespace
(the matcher is compiled with `re.ASCII`): the Hyperscan gate reads the text's ASCII projection, where any
other character is `?` (see engine.py)."""
_B64_CHAR = {"+": "[+\\-]", "/": "[/_]"}
"""Standard and URL-safe base64 differ in these two characters only."""


def canary_encoded_patterns(token: str) -> list[str]:
    """The token's base64 (every byte alignment, standard or URL-safe, wrapped or not) and hex (any case,
    byte pairs together or separated) spellings, one pattern each. Compiled case-insensitively: what
    `canary_encodings` spells and more."""
    raw = token.encode()
    alternatives = [CANARY_WRAP.join(_B64_CHAR.get(ch, re.escape(ch)) for ch in piece) for piece in _canary_base64(raw)]
    hex_pairs = [raw[i : i + 1].hex() for i in range(len(raw))]
    # Every byte after the first may carry a byte literal's prefix: `%5a%71` (percent-encoding), `0x5a, 0x71`
    # (a C or Python byte array), `\x5a\x71` (an escaped string). The first pair has none in the pattern, so
    # that `re` can still look for a literal first; the match (and a redaction) then starts after its prefix.
    hexed = hex_pairs[0] + "".join(CANARY_HEX_GAP + CANARY_HEX_PREFIX + pair for pair in hex_pairs[1:])
    return [*dict.fromkeys(alternatives), hexed]


@functools.lru_cache(maxsize=256)
def canary_max_length(token: str) -> int:
    """The longest text any spelling of `token` can match: spaced out, base64 with a line break (`\\r\\n`)
    between every two characters, hex with two separators between every two byte pairs. Cached: every
    streamed response's canary watch asks it of every configured canary."""
    raw = token.encode()
    longest_b64 = max(len(piece) for piece in _canary_base64(raw))
    spaced = len(token) + (len(token) - 1) * CANARY_MAX_SEPARATORS
    return max(spaced + CANARY_SPLIT_GAP, 3 * longest_b64 - 2, 6 * len(raw) - 4)


CANARY_RENDERED_MAX = 440
"""The longest text a canary written for a renderer may take (`&#90;&#113;…`, one character per list item,
`**Zq7X** **bN2v** …`): each such spelling is found within this distance of its gate, so a stream holds back
more than this (the smallest `stream_holdback_chars` is 448; `core._check_holdback` reads only
`canary_max_length`). A longer one is not caught."""
RENDER_GAP = r"[^A-Za-z0-9]{0,5}(?:(?:&[A-Za-z]{2,8};|&#160;|&#[xX][aA]0;|[0-9]{1,3}[.)])[^A-Za-z0-9]{0,5})?"
"""Between two characters of a rendered gate: punctuation and spacing (emphasis, code and strike-through
markers, line breaks, list bullets) around at most one named reference (`&nbsp;`), numeric no-break space
or ordered list item number; at most 5 + 10 + 5 = 20 characters."""
_RENDER_ZEROS = 2
"""Leading zeros allowed in a gate's numeric reference (`&#0090;`); the matcher itself reads up to 7 digits."""


def _rendered_char(ch: str) -> str:
    """`ch` or a numeric character reference to it (decimal or hexadecimal), as a gate reads it (caseless)."""
    code = ord(ch)
    zeros = "0{0," + str(_RENDER_ZEROS) + "}"
    return f"(?:{re.escape(ch)}|&#{zeros}{code};|&#[xX]{zeros}{code:x};)"


def canary_rendered_gates(token: str, *, literal_first: bool = False) -> list[str]:
    """The gates of the token's spellings as a Markdown/HTML renderer shows it: for each gate run its first
    `CANARY_GATE_MIN` characters, each one itself or a numeric reference, with `RENDER_GAP` between two. A
    split at one place leaves one run whole, so a rendered split spelling fires one too. They replace
    `canary_half_patterns` (a spaced spelling fires them as well). At most 8 x 8 + 7 x 20 = 204 characters.

    Tags are not in the gap: with them (one gate or a gate of their own) the trigger pass over the bench
    corpus took 10.7 to 13.3 ms instead of 8.4 (8.1 with the spaced halves). The rendered view drops tags,
    so a spelling with tags is found when one gate run's first characters hold none.

    `literal_first`: each gate as two expressions of the same language, one starting with the character and
    one with `&#`, for `re`: an alternation whose branches all start with a literal is searched by its first
    characters (in C); with a group first, `re` tries every position (the fallback's gate search took 337
    ms per 4 MB of bench corpus instead of 235; 226 with the spaced halves)."""
    out: list[str] = []
    for a, _ in canary_gate_spans(token):
        run = token[a : a + CANARY_GATE_MIN]
        if not literal_first:
            out.append(RENDER_GAP.join(_rendered_char(ch) for ch in run))
            continue
        rest = "".join(RENDER_GAP + _rendered_char(ch) for ch in run[1:])
        code = ord(run[0])
        zeros = "0{0," + str(_RENDER_ZEROS) + "}"
        out.append(re.escape(run[0]) + rest)
        out.append(f"&#(?:{zeros}{code}|[xX]{zeros}{code:x});" + rest)
    return out


def canary_reach(token: str) -> int:
    """The longest text any spelling of `token` matches: `canary_max_length`, or a rendered spelling's."""
    return max(canary_max_length(token), CANARY_RENDERED_MAX)


class CanaryMatcher(Matcher):
    """Each token spaced out, split once by a bounded gap, or encoded (base64, hex), in the text or in its
    rendered view (`fold.rendered`). The engine's gates are the rendered gates of the token's two gate runs
    and the encoded spellings; around each gate the matcher looks for the whole spellings, for a split one
    only where no whole spelling covers the gate, and in the rendered view only where neither does."""

    def __init__(self, tokens: Sequence[str]) -> None:
        encoded = [p for t in tokens for p in canary_encoded_patterns(t)]
        self.gate_patterns = [*(p for t in tokens for p in canary_rendered_gates(t)), *encoded]
        """The engine's gates (Hyperscan, caseless), one expression each (one expression may not exceed
        16,000 characters; a long token's wrapped spellings together would): every spelling the matcher
        accepts holds one of them."""
        self.pattern = "|".join(f"(?:{p})" for p in [*(canary_spaced_pattern(t) for t in tokens), *encoded]) or r"(?!)"
        # ASCII: case folding and `\s` as Hyperscan reads the ASCII projection (no Kelvin sign for `k`).
        self._regex = re.compile(self.pattern, re.IGNORECASE | re.ASCII)
        self._split = re.compile("|".join(canary_split_pattern(t) for t in tokens) or r"(?!)", re.IGNORECASE | re.ASCII)
        starts = "".join(canary_split_starts(t) for t in tokens)
        self._split_starts = re.compile(f"[{starts}]" if starts else r"(?!)", re.IGNORECASE | re.ASCII)
        searched = [*(p for t in tokens for p in canary_rendered_gates(t, literal_first=True)), *encoded]
        self._gate = re.compile("|".join(f"(?:{p})" for p in searched) or r"(?!)", re.IGNORECASE | re.ASCII)
        self._literal_reach = max((canary_max_length(t) for t in tokens), default=0)
        self.max_length = max((canary_reach(t) for t in tokens), default=0)
        """The longest text any spelling matches, rendered ones included (`canary_reach`)."""

    def gate_ends(self, text: str) -> list[int]:
        """The ends of the gates in `text`, found with `re` whatever the engine (see `_gate_ends`)."""
        return self._gate_ends(text)

    def _gate_ends(self, text: str) -> list[int]:
        """The engine's gate ends found with `re` (the fallback engine reports none): the end of the first
        gate that matches at each start, searched again from the next character after each."""
        ends: list[int] = []
        m = self._gate.search(text)
        while m is not None:
            ends.append(m.end())
            m = self._gate.search(text, m.start() + 1)
        return ends

    def _splits(self, text: str, lo: int, hi: int) -> list[tuple[int, int]]:
        """Split spellings starting in `[lo, hi)`: tried at every position where one can start, each on its
        own, so what is found does not depend on where the window begins (as `finditer`'s would)."""
        out: list[tuple[int, int]] = []
        for start in self._split_starts.finditer(text, lo, hi):
            m = self._split.match(text, start.start())
            if m is not None:
                out.append((m.start(), m.end()))
        return out

    def find(self, text: str, triggers: Triggers) -> Iterable[Candidate]:
        ends = triggers.canary_ends
        if ends is None:
            ends = self._gate_ends(text)
        reach = self._literal_reach
        seen: set[tuple[int, int]] = set()
        # Each gate has its own window, never merged with its neighbours': what is found around a gate then
        # depends on the text around it only, not on which other gates a stream's window still holds.
        for e in sorted(set(ends)):
            lo, hi = max(0, e - reach), min(len(text), e + reach)
            spans = [(m.start(), m.end()) for m in self._regex.finditer(text, lo, hi)]
            if not any(a < e <= b for a, b in spans):
                # No whole spelling covers the gate: the token may be split around it (rare: a leak either way).
                spans += self._splits(text, lo, e)
            if not any(a < e <= b for a, b in spans):
                # Nor a split one: it may be written as a renderer shows it (`&#90;&#113;`, `**Zq7X** **bN2v**`).
                spans += self._rendered(text, e)
            for span in spans:
                if span not in seen:
                    seen.add(span)
                    yield Candidate(CANARY, *span)

    def _rendered(self, text: str, e: int) -> list[tuple[int, int]]:
        """Spellings (whole, split or encoded) of the rendered view around the gate ending at `e` that cover
        it, as spans of `text` no longer than `CANARY_RENDERED_MAX`."""
        reach = CANARY_RENDERED_MAX
        lo = max(0, e - reach)
        view, starts, ends = rendered(text, lo, min(len(text), e + reach))
        found = [(m.start(), m.end()) for m in self._regex.finditer(view)]
        found += self._splits(view, 0, len(view))
        out: list[tuple[int, int]] = []
        for a, b in found:
            if b > a:
                start, end = starts[a], ends[b - 1]
                if start < e <= end and end - start <= reach:
                    out.append((start, end))
        return out


# ---- protected text (winnowing) ----------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+")
PROTECTED_WINDOW = 4096


def normalized_tokens(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[str, int, int]]:
    """ASCII letters and digits, lower-cased; everything else (punctuation, spacing, other scripts) separates."""
    return [(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text, lo, len(text) if hi is None else hi)]


def winnow(hashes: Sequence[int], window: int) -> set[int]:
    """Schleimer, Wilkerson & Aiken's winnowing: the minimum hash of every window of `window` hashes."""
    selected: set[int] = set()
    for i in range(max(1, len(hashes) - window + 1)):
        chunk = hashes[i : i + window]
        if chunk:
            selected.add(min(chunk))
    return selected


@dataclass
class ProtectedCorpus:
    """k-grams of the corpus's normalized tokens, and the winnowed fingerprints used to find them fast."""

    min_tokens: int
    k: int
    kgram_positions: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    fingerprints: set[tuple[str, ...]] = field(default_factory=set)

    @classmethod
    def build(cls, documents: Sequence[str], min_tokens: int) -> ProtectedCorpus:
        k = max(3, min_tokens // 3)
        corpus = cls(min_tokens=min_tokens, k=k)
        offset = 0
        for doc in documents:
            tokens = [t for t, _, _ in normalized_tokens(doc)]
            grams = [tuple(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]
            for i, gram in enumerate(grams):
                corpus.kgram_positions.setdefault(gram, []).append(offset + i)
            # Any shared run of min_tokens tokens holds min_tokens - k + 1 k-grams: one window's minimum.
            by_hash = {_stable_hash(g): g for g in grams}
            for h in winnow([_stable_hash(g) for g in grams], min_tokens - k + 1):
                corpus.fingerprints.add(by_hash[h])
            offset += len(grams) + k  # a gap so runs never continue from one document into the next
        return corpus


def _stable_hash(gram: tuple[str, ...]) -> int:
    # Python's str hash is salted per process; fingerprints must not depend on it (selection is reproducible).
    import zlib

    return zlib.crc32("\x1f".join(gram).encode())


class ProtectedTextMatcher(Matcher):
    def __init__(self, corpus: ProtectedCorpus) -> None:
        self.corpus = corpus

    def gate_patterns(self) -> list[str]:
        """One pattern per fingerprint k-gram, for a native engine over the ASCII projection of the text."""
        return [r"\b" + r"[^A-Za-z0-9]+".join(re.escape(t) for t in gram) + r"\b" for gram in self.corpus.fingerprints]

    def find(self, text: str, triggers: Triggers) -> Iterable[Candidate]:
        if not self.corpus.kgram_positions:
            return
        if triggers.protected_ends is None:
            windows = [(0, len(text))]
        else:
            windows = _merge([(max(0, e - PROTECTED_WINDOW), e + PROTECTED_WINDOW) for e in triggers.protected_ends])
        seen: set[tuple[int, int]] = set()
        for lo, hi in windows:
            for start, end in self._runs(text, lo, min(hi, len(text))):
                if (start, end) not in seen:
                    seen.add((start, end))
                    yield Candidate(PROTECTED_TEXT, start, end)

    def _runs(self, text: str, lo: int, hi: int) -> Iterable[tuple[int, int]]:
        while True:
            tokens = normalized_tokens(text, lo, hi)
            runs, touches_lo, touches_hi = self._runs_in(tokens)
            # A run reaching the window's edge may go on beyond it: widen until every run is maximal.
            if touches_lo and lo > 0:
                lo = max(0, lo - PROTECTED_WINDOW)
                continue
            if touches_hi and hi < len(text):
                hi = min(len(text), hi + PROTECTED_WINDOW)
                continue
            return runs

    def _runs_in(self, tokens: list[tuple[str, int, int]]) -> tuple[list[tuple[int, int]], bool, bool]:
        k, need = self.corpus.k, self.corpus.min_tokens
        words = [t for t, _, _ in tokens]
        index = self.corpus.kgram_positions
        ongoing: dict[int, int] = {}  # corpus position of the k-gram just matched -> run's first token index
        out: list[tuple[int, int]] = []
        touches_lo = touches_hi = False
        last = len(words) - k
        for i in range(last + 1):
            positions = index.get(tuple(words[i : i + k]))
            following: dict[int, int] = {}
            if positions:
                for c in positions:
                    following[c] = ongoing.get(c - 1, i)
            for c, first in ongoing.items():
                if c + 1 not in following:
                    self._close(tokens, first, i - 1, k, need, out)
                    touches_lo = touches_lo or first == 0
            ongoing = following
        for first in set(ongoing.values()):
            self._close(tokens, first, last, k, need, out)
            touches_hi = True
            touches_lo = touches_lo or first == 0
        return out, touches_lo, touches_hi

    @staticmethod
    def _close(tokens: list[tuple[str, int, int]], first: int, last_gram: int, k: int, need: int,
               out: list[tuple[int, int]]) -> None:  # fmt: skip
        if last_gram - first + k >= need:
            out.append((tokens[first][1], tokens[last_gram + k - 1][2]))


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
