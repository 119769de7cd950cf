"""Checksums and structure rules that separate real identifiers from digit runs that only look like them.

Pure functions over digit strings (or short alphanumeric strings), no regular expressions over prose:
the matchers find candidate spans, these decide. Each rule is the published one for its identifier
(ISO/IEC 7812 Luhn, ISO 13616 mod-97, ISO 7064 MOD 11,10, the national rules named below).
"""

from __future__ import annotations

import datetime as _dt

LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


_LUHN_DOUBLED_DIGIT = str.maketrans("0123456789", "".join(map(str, LUHN_DOUBLED)))


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812-1 check digit (cards, Swedish personnummer)."""
    if digits.isascii() and digits.isdigit():
        # The same sum without a Python step per digit: each doubled digit becomes the digit of its sum, and
        # an ASCII digit's byte is 48 more than its value.
        doubled = digits[-2::-2].translate(_LUHN_DOUBLED_DIGIT)
        return (sum(digits[-1::-2].encode()) + sum(doubled.encode()) - 48 * len(digits)) % 10 == 0
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        total += LUHN_DOUBLED[d] if i % 2 else d
    return total % 10 == 0


# (IIN prefix range low, high, prefix length, allowed lengths)
_CARD_RANGES: tuple[tuple[int, int, int, frozenset[int]], ...] = (
    (4, 4, 1, frozenset({16, 19})),  # Visa (13-digit Visa is retired; 13 digits collide with EAN-13)
    (51, 55, 2, frozenset({16})),  # Mastercard
    (2221, 2720, 4, frozenset({16})),  # Mastercard 2-series
    (34, 34, 2, frozenset({15})),  # American Express
    (37, 37, 2, frozenset({15})),
    (6011, 6011, 4, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, 3, frozenset({16, 17, 18, 19})),
    (65, 65, 2, frozenset({16, 17, 18, 19})),
    (3528, 3589, 4, frozenset({16, 17, 18, 19})),  # JCB
    (300, 305, 3, frozenset({14})),  # Diners Club
    (36, 36, 2, frozenset({14})),
    (38, 39, 2, frozenset({16})),
    (62, 62, 2, frozenset({16, 17, 18, 19})),  # UnionPay
)
CARD_LENGTHS = frozenset({14, 15, 16, 17, 18, 19})


def card_ok(digits: str) -> bool:
    """A payment card number: a known issuer range with its length, and a valid Luhn digit."""
    n = len(digits)
    if n not in CARD_LENGTHS:
        return False
    for low, high, width, lengths in _CARD_RANGES:
        if n in lengths and low <= int(digits[:width]) <= high:
            return luhn_ok(digits)
    return False


# ISO 13616 IBAN lengths per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
IBAN_MAX_LENGTH = max(IBAN_LENGTHS.values())
_IBAN_LETTER_VALUES = {ord(letter): str(ord(letter) - 55) for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def iban_ok(compact: str) -> bool:
    """An IBAN without spaces: the country's length and ISO 7064 mod-97 == 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    if rearranged.isascii() and rearranged.isalnum():
        # One big integer instead of a Python step per character: letters are 10..35, a lower-case one
        # stays a letter and fails the isdigit test, as the loop below rejects it.
        numeric = rearranged.translate(_IBAN_LETTER_VALUES)
        return numeric.isdigit() and int(numeric) % 97 == 1
    value = 0
    for ch in rearranged:
        if ch.isdigit():
            value = (value * 10 + ord(ch) - 48) % 97
        elif "A" <= ch <= "Z":
            value = (value * 100 + ord(ch) - 55) % 97
        else:
            return False
    return value == 1


def us_ssn_ok(area: str, group: str, serial: str) -> bool:
    """SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_NINO_BAD_FIRST = frozenset("DFIQUV")
_NINO_BAD_SECOND = frozenset("DFIOQUV")
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def uk_nino_prefix_ok(prefix: str) -> bool:
    """HMRC's allocation rules for the two prefix letters of a National Insurance number."""
    return (
        prefix[0] not in _NINO_BAD_FIRST and prefix[1] not in _NINO_BAD_SECOND and prefix not in _NINO_BAD_PREFIXES
    )


def de_steuer_id_ok(digits: str) -> bool:
    """German Steuerliche Identifikationsnummer: 11 digits, ISO 7064 MOD 11,10, digit-repetition rule."""
    if len(digits) != 11 or digits[0] == "0":
        return False
    counts = [digits[:10].count(d) for d in set(digits[:10])]
    # Since 2016: exactly one digit occurs twice or three times, so 8 or 7 distinct digits among the first ten.
    if sorted(c for c in counts if c > 1) not in ([2], [3]):
        return False
    product = 10
    for ch in digits[:10]:
        total = (int(ch) + product) % 10 or 10
        product = (total * 2) % 11
    check = (11 - product) % 10
    return check == int(digits[10])


_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
# PESEL month offsets encode the century: 80 → 1800s, 0 → 1900s, 20 → 2000s, 40 → 2100s, 60 → 2200s.
_PESEL_CENTURY = ((80, 1800), (60, 2200), (40, 2100), (20, 2000), (0, 1900))


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        _dt.date(year, month, day)
    except ValueError:
        return False
    return True


def pl_pesel_ok(digits: str) -> bool:
    """Polish PESEL: 11 digits, weighted checksum, and a real birth date."""
    if len(digits) != 11:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:10], _PESEL_WEIGHTS, strict=True))
    if (10 - total % 10) % 10 != int(digits[10]):
        return False
    month = int(digits[2:4])
    for offset, century in _PESEL_CENTURY:
        if month > offset:
            return _valid_date(century + int(digits[:2]), month - offset, int(digits[4:6]))
    return False


def nl_bsn_ok(digits: str) -> bool:
    """Dutch Burgerservicenummer: 9 digits passing the 11-proof (last digit weighted -1)."""
    if len(digits) != 9 or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0


SE_COORDINATION_DAY_OFFSET = 60


def se_personnummer_ok(digits: str) -> bool:
    """Swedish personnummer (10 or 12 digits): a real date (day + 60 for samordningsnummer) and Luhn."""
    if len(digits) == 12:
        digits = digits[2:]
    if len(digits) != 10:
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    if day > SE_COORDINATION_DAY_OFFSET:
        day -= SE_COORDINATION_DAY_OFFSET
    # Two-digit years: check the date in a leap year so 29 February stays possible.
    return _valid_date(2000, month, day) and luhn_ok(digits)


FR_NIR_SEX_DIGITS = frozenset("12378")


def fr_nir_ok(digits: str) -> bool:
    """French NIR (numéro de sécurité sociale): 13 digits + 2-digit key = 97 - (number mod 97)."""
    if len(digits) != 15 or digits[0] not in FR_NIR_SEX_DIGITS:
        return False
    month = int(digits[3:5])
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return False
    return 97 - int(digits[:13]) % 97 == int(digits[13:])


ES_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_ES_NIE_PREFIX = {"X": "0", "Y": "1", "Z": "2"}


def es_dni_ok(number: str, letter: str) -> bool:
    """Spanish DNI (8 digits) or NIE (X/Y/Z + 7 digits): the control letter is number mod 23."""
    if number[:1] in _ES_NIE_PREFIX:
        number = _ES_NIE_PREFIX[number[0]] + number[1:]
    if len(number) != 8 or not number.isdigit():
        return False
    return ES_DNI_LETTERS[int(number) % 23] == letter


_IT_ODD = {
    **dict(zip("0123456789", (1, 0, 5, 7, 9, 13, 15, 17, 19, 21), strict=True)),
    **dict(
        zip(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23),
            strict=True,
        )
    ),
}
_IT_EVEN = {**{str(i): i for i in range(10)}, **{chr(65 + i): i for i in range(26)}}


def it_codice_fiscale_ok(code: str) -> bool:
    """Italian codice fiscale (16 characters): the last letter is the check character of the first 15."""
    if len(code) != 16:
        return False
    try:
        total = sum(_IT_ODD[ch] if i % 2 == 0 else _IT_EVEN[ch] for i, ch in enumerate(code[:15]))
    except KeyError:
        return False
    return chr(65 + total % 26) == code[15]


def ean13_ok(digits: str) -> bool:
    """GS1 EAN-13 barcode check digit (weights 1, 3): used to leave product codes alone."""
    if len(digits) != 13:
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])
