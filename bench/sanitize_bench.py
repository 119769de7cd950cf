"""Benchmark of the gateway's output sanitizer against Presidio's pattern recognizers, in one process.

Corpus (generated, seeded): `--mb` MB of shop-assistant prose with, about once per KB each, a planted
item (e-mails; Visa, Mastercard 51-55 and 2221-2720 cards plain/spaced/dashed; IBANs compact and grouped;
E.164 phones; IPv4/IPv6; OpenAI/AWS/GitHub keys; canaries plain, base64 and spaced) and a decoy that
must stay intact (order numbers, SKUs, tracking ids, prices, dates, EAN-13 barcodes, 16-digit runs
failing Luhn, version numbers). Measured side by side:

1. the trigger pass alone per engine (hyperscan, re, google-re2, pyahocorasick) — how the engine was chosen;
2. leakline `Sanitizer.sanitize` on the whole corpus, Hyperscan engine and pure-Python `re` fallback;
3. leakline streamed in 20-byte chunks (`StreamSanitizer`), output checked equal to the whole-text result:
   with a `Policy` built in code (a pass per `holdback_chars` of text) and with the gateway's schedule
   (leakline.toml's `stream_release_ms`: passes by the clock, and every `BURST_STEP_HOLDBACKS` hold-backs,
   each scanning its window whole, when fed faster than that, as here), and the ceiling of any Python stream
   sanitizer: the loop that hands over the pieces doing nothing else, plus the whole-text scan (a stream
   cannot be faster than both together). The pieces are cut before the clock starts, as a gateway gets them.
   Each streamed row runs the pure-Python `StreamSanitizer` and, when the install built it, its compiled twin
   (setup.py, mypyc: what `Sanitizer.stream()` gives the gateway then);
4. Presidio 2.x pattern recognizers (no NLP model: each recognizer's `analyze` with no NLP artifacts) on a
   `--presidio-mb` slice (it is ~300x slower), and leakline on the same slice.

Recall counts planted items covered by a hit of the expected detector; false hits are hits that touch no
planted item. Throughput is MB (10^6 bytes of UTF-8) per second on one core, median of `--repeat` runs, by
the wall clock and by the process's CPU time (the streamed row too).

Run: python3 bench/sanitize_bench.py [--mb 20] [--presidio-mb 1] [--repeat 3]
     (needs `pip install hyperscan google-re2 pyahocorasick presidio-analyzer`)
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.checks import IBAN_LENGTHS, ean13_ok, luhn_ok
from leakline.guard.sanitize.native import stream_implementation
from leakline.guard.sanitize.settings import DEFAULT_RELEASE_MS
from leakline.guard.sanitize.stream import StreamSanitizer

SEED = 20261126
CANARIES = ("Zq7XbN2vLp9RtY4sKw8HdM3c", "hT5rWq2ZkL8mNp3XvB6yCd9F")
ALNUM = string.ascii_letters + string.digits
WORDS = ["the", "your", "order", "has", "shipped", "and", "will", "arrive", "within", "three", "business", "days", "thank", "you", "for", "shopping", "with", "us", "our", "support", "team", "can", "help", "with", "returns", "exchanges", "sizes", "colours", "delivery", "options", "please", "note", "that", "this", "item", "is", "available", "in", "stock", "a", "refund", "is", "issued", "to", "the", "original", "payment", "method", "when", "we", "receive", "it"]


@dataclass(frozen=True)
class Planted:
    start: int
    end: int
    detector: str
    kind: str


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in string.digits:
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def _fmt_card(number: str, style: str) -> str:
    if style == "plain":
        return number
    return (" " if style == "spaced" else "-").join(number[i : i + 4] for i in range(0, 16, 4))


def _iban(country: str, rng: random.Random) -> str:
    n = IBAN_LENGTHS[country] - 4
    letters = {"GB": 4, "NL": 4, "IT": 1}.get(country, 0)
    bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(letters))
    bban += "".join(rng.choice(string.digits) for _ in range(n - letters))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def _phones(rng: random.Random) -> list[str]:
    import phonenumbers

    pool: list[str] = []
    for cc, lengths in (("49", (10, 11)), ("33", (9,)), ("44", (10,)), ("1", (10,)), ("31", (9,))):
        found = 0
        while found < 400:
            n = "+" + cc + "".join(rng.choice(string.digits) for _ in range(rng.choice(lengths)))
            if phonenumbers.is_valid_number(phonenumbers.parse(n, None)):
                pool.append(n)
                found += 1
    return pool


def _plant(rng: random.Random, phones: list[str]) -> tuple[str, str, str]:
    """One planted item: (text, expected detector, kind)."""
    kind = rng.choice(("email", "visa", "mc", "mc2", "iban", "iban_grouped", "phone", "ipv4", "ipv6",
                       "secret", "canary"))  # fmt: skip
    if kind == "email":
        name = rng.choice(("jane", "max", "lea", "tom")) + "." + rng.choice(("doe", "muller", "martin"))
        return f"{name}{rng.randint(1, 999)}@{rng.choice(('example.com', 'mail.de', 'shop.co.uk'))}", "email", kind
    if kind in ("visa", "mc", "mc2"):
        prefix = {"visa": "4", "mc": str(rng.randint(51, 55)), "mc2": str(rng.randint(2221, 2720))}[kind]
        style = rng.choice(("plain", "spaced", "dashed"))
        return _fmt_card(_luhn_complete(prefix, 16, rng), style), "payment_card", f"{kind}-{style}"
    if kind.startswith("iban"):
        iban = _iban(rng.choice(("DE", "GB", "FR", "NL", "ES", "IT")), rng)
        if kind == "iban_grouped":
            iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban, "iban", kind
    if kind == "phone":
        return rng.choice(phones), "phone", kind
    if kind == "ipv4":
        return f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}", "ip_address", kind
    if kind == "ipv6":
        return "2001:db8:" + ":".join(f"{rng.randint(1, 65535):x}" for _ in range(6)), "ip_address", kind
    if kind == "secret":
        return rng.choice((
            "sk-proj-" + "".join(rng.choice(ALNUM) for _ in range(40)),
            "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
            "ghp_" + "".join(rng.choice(ALNUM) for _ in range(36)),
        )), "secret", kind  # fmt: skip
    token = rng.choice(CANARIES)
    form = rng.choice(("plain", "base64", "spaced"))
    value = {"plain": token, "base64": base64.b64encode(token.encode()).decode(), "spaced": " ".join(token)}[form]
    return value, "canary", f"canary-{form}"


def _decoy(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return f"ORD-{rng.randint(2019, 2026)}-{rng.randint(100000, 999999)}"
    if kind == 1:
        return f"order #{rng.randint(10**7, 10**10)}"
    if kind == 2:
        return f"SKU {rng.choice(('AB', 'TX', 'QX'))}-{rng.randint(1000, 9999)}-{rng.choice(('XL', 'M', 'S'))}"
    if kind == 3:
        return rng.choice((f"€{rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(10, 99)}",
                           f"${rng.randint(1, 999)}.{rng.randint(10, 99)}"))  # fmt: skip
    if kind == 4:
        return rng.choice((f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                           f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2000, 2030)}"))  # fmt: skip
    if kind == 5:
        while True:
            ean = "".join(rng.choice(string.digits) for _ in range(13))
            if ean13_ok(ean):
                return f"EAN {ean}"
    if kind == 6:
        return "tracking 1Z" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    if kind == 7:
        while True:
            run = rng.choice("3456") + "".join(rng.choice(string.digits) for _ in range(15))
            if not luhn_ok(run):
                return f"order {run}"
    return f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"


def build_corpus(megabytes: float, every: int = 2000, seed: int = SEED) -> tuple[str, list[Planted]]:
    rng = random.Random(seed)
    phones = _phones(rng)
    parts: list[str] = []
    planted: list[Planted] = []
    pos = 0
    target = int(megabytes * 1_000_000)
    while pos < target:
        for piece, item in (
            (" ".join(rng.choice(WORDS) for _ in range(rng.randint(every // 9, every // 5))) + ". Details: ", None),
            (None, _plant(rng, phones)),
            (" and " + _decoy(rng) + ". ", None),
        ):
            if item is not None:
                value, detector, kind = item
                planted.append(Planted(pos, pos + len(value), detector, kind))
                piece = value
            assert piece is not None
            parts.append(piece)
            pos += len(piece)
    return "".join(parts), planted


def score(hits: list[tuple[str, int, int]], planted: list[Planted]) -> tuple[int, int, dict[str, int]]:
    """(found planted items, false hits, missed items per kind)."""
    starts = [p.start for p in planted]
    import bisect

    found: set[int] = set()
    false_hits = 0
    for detector, start, end in hits:
        i = bisect.bisect_right(starts, end) - 1
        touched = False
        while i >= 0 and planted[i].end > start - 200:
            p = planted[i]
            if p.start < end and start < p.end:
                touched = True
                if p.detector == detector:
                    found.add(i)
            i -= 1
        if not touched:
            false_hits += 1
    missed: dict[str, int] = {}
    for i, p in enumerate(planted):
        if i not in found:
            missed[p.kind] = missed.get(p.kind, 0) + 1
    return len(found), false_hits, missed


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    return timed_cpu(fn, repeat)[::2]


def timed_cpu(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall seconds, median CPU seconds of this process (what a busy neighbour cannot inflate
    as much), and the last result."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu), result


def _engines(text: str, sanitizer: Sanitizer, repeat: int) -> None:
    from leakline.guard.sanitize.engine import ReEngine

    mb = len(text.encode()) / 1e6
    rows: list[tuple[str, float]] = []
    rows.append(("hyperscan (leakline triggers)", mb / timed(lambda: sanitizer.engine.scan(text), repeat)[0]))
    rows.append(("re (leakline fallback triggers)", mb / timed(lambda: ReEngine().scan(text), repeat)[0]))
    try:
        import re2

        rx = re2.compile(r"@|[^0-9][0-9]|::|[0-9A-Fa-f]:[0-9A-Fa-f]")
        rows.append(("google-re2 (same triggers, finditer)", mb / timed(lambda: sum(1 for _ in rx.finditer(text)), repeat)[0]))
    except ImportError:
        rows.append(("google-re2: not installed", 0.0))
    try:
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for literal in ("@", "::", *string.digits):
            automaton.add_word(literal, literal)
        automaton.make_automaton()
        rows.append(("pyahocorasick (@, ::, each digit)", mb / timed(lambda: sum(1 for _ in automaton.iter(text)), repeat)[0]))
    except ImportError:
        rows.append(("pyahocorasick: not installed", 0.0))
    print("\ntrigger pass alone (MB/s, one core):")
    for name, rate in rows:
        print(f"  {name:40} {rate:8.1f}")


def _presidio(text: str) -> tuple[float, list[tuple[str, int, int]]]:
    import tldextract
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )

    # Presidio's e-mail recognizer calls tldextract, which would download the suffix list: use its snapshot.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # type: ignore[assignment]
    mapping = {"EMAIL_ADDRESS": "email", "CREDIT_CARD": "payment_card", "IBAN_CODE": "iban",
               "IP_ADDRESS": "ip_address", "PHONE_NUMBER": "phone", "US_SSN": "us_ssn", "UK_NINO": "uk_nino"}  # fmt: skip
    recognizers = [r() for r in (EmailRecognizer, CreditCardRecognizer, IbanRecognizer, IpRecognizer,
                                 PhoneRecognizer, UsSsnRecognizer, UkNinoRecognizer)]  # fmt: skip
    t0 = time.perf_counter()
    hits = []
    for recognizer in recognizers:
        for result in recognizer.analyze(text, recognizer.supported_entities, None):
            hits.append((mapping.get(result.entity_type, result.entity_type), result.start, result.end))
    return time.perf_counter() - t0, hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--presidio-mb", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--every", type=int, default=2000, help="bytes of prose between planted items (about)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    text, planted = build_corpus(args.mb, args.every)
    mb = len(text.encode()) / 1e6
    print(f"corpus: {mb:.1f} MB, {len(planted)} planted items and as many decoys, "
          f"built in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    # Canaries redact here instead of blocking: a block ends a response, and the corpus is many responses.
    policy = Policy(canaries=CANARIES).with_actions({"canary": "redact"})
    fast = Sanitizer(policy)
    fallback = Sanitizer(Policy(canaries=CANARIES, engine="re").with_actions({"canary": "redact"}))
    print(f"engine chosen: {fast.engine.name}")
    _engines(text, fast, args.repeat)

    print("\nleakline, whole corpus:")
    results = {}
    for name, s in (("hyperscan", fast), ("re fallback", fallback)):
        seconds, cpu, result = timed_cpu(lambda s=s: s.sanitize(text), args.repeat)
        results[name] = result
        hits = [(h.detector, h.start, h.end) for h in result.hits]  # type: ignore[attr-defined]
        found, false_hits, missed = score(hits, planted)
        print(f"  {name:12} {mb / seconds:7.1f} MB/s ({mb / cpu:.1f} MB/s of CPU)  recall "
              f"{100 * found / len(planted):6.2f} % ({found}/{len(planted)})  false hits {false_hits}  missed {missed}")  # fmt: skip
    assert results["hyperscan"] == results["re fallback"], "engines disagree"

    chunk = 20
    # Cut before the clock starts: a gateway's pieces arrive as strings (decoded from the SSE), so cutting them
    # is the bench's work, not the sanitizer's (it was ~15 % of the streamed row's time).
    pieces = [text[i : i + chunk] for i in range(0, len(text), chunk)]

    chosen = stream_implementation()
    print(f"  stream sanitizer the gateway uses: {chosen.describe()}")
    classes: list[tuple[str, type[StreamSanitizer]]] = [("pure Python", StreamSanitizer)]
    if chosen.compiled:
        classes.append(("compiled", chosen.cls))

    def streamed(sanitizer: Sanitizer, cls: type[StreamSanitizer]) -> str:
        stream = cls(sanitizer)
        out = [stream.feed(piece) for piece in pieces]
        out.append(stream.finish())
        return "".join(out)

    gateway = Sanitizer(replace(policy, release_seconds=DEFAULT_RELEASE_MS / 1000))
    cpu = 0.0
    for label, cls in classes:
        seconds, _, out = timed_cpu(lambda cls=cls: streamed(fast, cls), args.repeat)
        equal = out == results["hyperscan"].text  # type: ignore[attr-defined]
        print(f"  streamed in {chunk}-byte chunks, {label}: {mb / seconds:7.1f} MB/s (a Policy built in code), "
              f"output equal to whole-text result: {equal}")
        seconds, cpu, out = timed_cpu(lambda cls=cls: streamed(gateway, cls), args.repeat)
        equal = out == results["hyperscan"].text  # type: ignore[attr-defined]
        print(f"  streamed in {chunk}-byte chunks, {label}, the gateway's schedule ({DEFAULT_RELEASE_MS} ms): "
              f"{mb / seconds:7.1f} MB/s ({mb / cpu:.1f} MB/s of CPU), output equal to whole-text result: {equal}")

    # The ceiling of any streamed sanitizer written in Python: handing each piece to a method that only keeps
    # it, plus the whole-text scan that must still happen once.
    def handed_over() -> str:
        kept: list[str] = []
        keep = kept.append
        out = [keep(piece) for piece in pieces]
        return "".join(kept) if out else ""

    _, loop_cpu, _ = timed_cpu(handed_over, args.repeat)
    whole_cpu = timed_cpu(lambda: fast.sanitize(text), args.repeat)[1]
    print(f"  ceiling: handing {chunk}-byte chunks over and doing nothing else {mb / loop_cpu:7.1f} MB/s of CPU; "
          f"with the whole-text scan added {mb / (loop_cpu + whole_cpu):.1f} MB/s of CPU; "
          f"streamed/ceiling = {(loop_cpu + whole_cpu) / cpu:.2f}")

    cut = int(args.presidio_mb * 1_000_000)
    slice_text = text[:cut]
    slice_planted = [p for p in planted if p.end <= cut]
    slice_mb = len(slice_text.encode()) / 1e6
    print(f"\nside by side on the first {slice_mb:.2f} MB ({len(slice_planted)} planted items):")
    seconds, result = timed(lambda: fast.sanitize(slice_text), args.repeat)
    ours = [(h.detector, h.start, h.end) for h in result.hits]  # type: ignore[attr-defined]
    l_found, l_false, l_missed = score(ours, slice_planted)
    l_rate = slice_mb / seconds
    try:
        p_seconds, theirs = _presidio(slice_text)
    except ImportError:
        print("  presidio-analyzer not installed")
        return 0
    p_found, p_false, p_missed = score(theirs, slice_planted)
    p_rate = slice_mb / p_seconds
    supported = [p for p in slice_planted if p.detector in ("email", "payment_card", "iban", "ip_address", "phone")]
    p_found_supported, _, _ = score(theirs, supported)
    print(f"  leakline  {l_rate:8.2f} MB/s  recall {100 * l_found / len(slice_planted):6.2f} %  false hits {l_false}  "
          f"missed {l_missed}")  # fmt: skip
    print(f"  presidio  {p_rate:8.2f} MB/s  recall {100 * p_found / len(slice_planted):6.2f} % of all, "
          f"{100 * p_found_supported / len(supported):6.2f} % of the kinds it has  false hits {p_false}  "
          f"missed {p_missed}")  # fmt: skip
    print(f"  ratios: throughput leakline/presidio = {l_rate / p_rate:.0f}x, "
          f"false hits leakline/presidio = {l_false}/{p_false} = {100 * l_false / max(1, p_false):.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
