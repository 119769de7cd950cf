"""`Sanitizer.sanitize`'s shortcuts for short answers change no result.

The shortcuts: one walk over a sparse non-ASCII text for invisible characters, look-alikes and its UTF-8
length (`fold.strip_and_fold`); no call of a family none of whose triggers fired (`core._READS`); no
resolve/render/report step when nothing was found; the engine's whole-text post-processing skipping empty
buckets. Each is checked against the steps taken one by one, as `sanitize` took them before: every result
field (text, hits with detector, action, start and end, blocked, scanned_bytes, invisible_removed) must be
equal, on short answers that take each shortcut and on ones that do not."""

from __future__ import annotations

import importlib.util
import random
import string
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from leakline.guard.sanitize import Action, Policy, Sanitizer
from leakline.guard.sanitize.core import _READS, DetectorHit, SanitizeResult
from leakline.guard.sanitize.engine import _KINDS, HyperscanEngine
from leakline.guard.sanitize.fold import fold, strip_and_fold, strip_projected
from leakline.guard.sanitize.matchers import Triggers
from leakline.guard.upstream import DEMO_CANARY, PROTECTED_PARAGRAPH, SCRIPTS

pytest.importorskip("hyperscan")

BENIGN = "".join(SCRIPTS["benign"].chunks)
GITHUB_TOKEN = "ghp_Q7vLp2Zk9XbN4sRtY8wHd3Fm6Jc1Ga5Ue0Wi"  # made up: the shape `find_secrets` reports
_POLICIES = {
    "full": Policy(canaries=(DEMO_CANARY,), protected_documents=(PROTECTED_PARAGRAPH,)),
    "canary": Policy(canaries=(DEMO_CANARY,)),
    "none": Policy(),
    "re": Policy(canaries=(DEMO_CANARY,), protected_documents=(PROTECTED_PARAGRAPH,), engine="re"),
}


@cache
def _sanitizer(name: str) -> Sanitizer:
    return Sanitizer(_POLICIES[name])


def _reference(s: Sanitizer, received: str) -> SanitizeResult:
    """`sanitize` without its shortcuts: strip, fold and measure each on its own, every digit trigger
    (`engine.scan`), every family called, and the hits resolved, rendered and reported even when none."""
    text, removed, projection = strip_projected(received)
    seen, projection = fold(text, projection)
    kept = s.resolve(s.candidates_of(s._families, seen, s.engine.scan(seen)))
    cut = next((i for i, c in enumerate(kept) if s.policy.actions[c.detector] is Action.BLOCK), None)
    reported = kept if cut is None else kept[: cut + 1]
    out, blocked = s.render(text, reported, 0, len(text))
    return SanitizeResult(
        text=out,
        hits=s.hits(text, reported),
        blocked=blocked,
        scanned_bytes=len(received.encode("utf-8", "surrogatepass")),
        detector_versions=dict(s.detector_versions),
        invisible_removed=removed,
    )


@cache
def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "sanitize_bench.py"
    spec = importlib.util.spec_from_file_location("sanitize_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_INVISIBLE = ("\u00ad", "\u200b", "\u200d", "\ufe0f", "\u2060", "\U000e0041")
_FOLDED = {"0": "\uff10", "1": "\u0661", "4": "\uff14", "5": "\u0665", " ": "\u00a0", "-": "\u2212", "@": "\ufe6b"}
_OTHER = ("é", "€", "漢", "\U0001f600", "?", "\ud800", "ß", "\x80")


def _variants(rng: random.Random, text: str) -> list[str]:
    """`text` as it came, and with what sends it down each path of `strip_and_fold`: a sparse non-ASCII
    character or a literal `?`, an invisible character, look-alikes, a dense non-ASCII prefix."""
    out = [text]
    for extra in (rng.choice(_OTHER), rng.choice(_INVISIBLE)):
        i = rng.randrange(len(text) + 1)
        out.append(text[:i] + extra + text[i:])
    out.append("".join(_FOLDED.get(ch, ch) if rng.random() < 0.5 else ch for ch in text))
    out.append("".join(_FOLDED.get(ch, ch) for ch in text) + " €")
    out.append("漢字かな" * 8 + text)
    return out


def _short_answers() -> list[str]:
    rng = random.Random(20261127)
    corpus = _bench().build_corpus(0.03, every=600)[0]
    pieces = [BENIGN, "", "?", "€", "x\u200b", *("".join(script.chunks) for script in SCRIPTS.values())]
    pieces += [f"{BENIGN} {DEMO_CANARY}", f"{BENIGN}\n{PROTECTED_PARAGRAPH[:400]}"]
    for _ in range(120):
        start = rng.randrange(len(corpus))
        pieces.append(corpus[start : start + rng.choice((40, 99, 160, 400))])
    return [variant for piece in pieces for variant in _variants(rng, piece)]


@cache
def _cached_answers() -> list[str]:
    return _short_answers()


@pytest.mark.parametrize("policy", sorted(_POLICIES))
def test_short_answers_give_what_the_steps_one_by_one_give(policy: str) -> None:
    s = _sanitizer(policy)
    paths: set[str] = set()
    for text in _cached_answers():
        assert s.sanitize(text) == _reference(s, text), (policy, text)
        sent, removed, seen, _, _ = strip_and_fold(text)
        paths.add("found" if s.sanitize(text).hits else "nothing")
        paths.add("removed" if removed else "folded" if seen != sent else "ascii" if text.isascii() else "kept")
    # Every shortcut was taken and left: hits and none, invisible characters removed, look-alikes folded,
    # ASCII, and non-ASCII kept as it came.
    assert paths == {"found", "nothing", "removed", "folded", "ascii", "kept"}


def test_the_benign_answer_and_its_spellings_exactly() -> None:
    s = _sanitizer("full")
    result = s.sanitize(BENIGN)
    assert (result.text, result.hits, result.blocked) == (BENIGN, [], False)
    assert (result.scanned_bytes, result.invisible_removed) == (101, 0)  # `€` is 3 bytes
    assert result.detector_versions == s.detector_versions and result.detector_versions is not s.detector_versions

    card = "Card ４１１１\u00a0１１１１ 1111 1111 ok €"  # full-width digits and a no-break space: folded
    result = s.sanitize(card)
    assert result.text == "Card [REDACTED:PAYMENT_CARD] ok €"
    assert [(h.detector, h.action, h.start, h.end) for h in result.hits] == [("payment_card", Action.REDACT, 5, 24)]
    assert (result.scanned_bytes, result.invisible_removed) == (len(card) + 8 * 2 + 1 + 2, 0)

    soft = "mail jane\u00ad.doe@example.com €"  # the soft hyphen is removed before detection
    result = s.sanitize(soft)
    assert result.text == "mail [REDACTED:EMAIL] €"
    assert result.hits == [DetectorHit("email", Action.REDACT, 5, 25, result.hits[0].redacted_preview)]
    assert (result.scanned_bytes, result.invisible_removed) == (len(soft) + 1 + 2, 1)

    blocked = s.sanitize(f"{BENIGN} {DEMO_CANARY} after")
    assert blocked.blocked and blocked.text == BENIGN + " "
    assert [(h.detector, h.start, h.end) for h in blocked.hits] == [("canary", 100, 100 + len(DEMO_CANARY))]


def _random_text(rng: random.Random, size: int) -> str:
    """ASCII with non-ASCII characters (and `?`) at one of three densities: sparse enough for the one walk,
    at the bound, dense."""
    ascii_part = [*string.ascii_letters, *string.digits, *" .-@"]
    rare = [*(_INVISIBLE if rng.random() < 0.5 else ()), *_FOLDED.values(), *_OTHER]
    weight = rng.choice((0.01, 0.05, 0.5))
    return "".join(rng.choices([*ascii_part, *rare], [1.0] * len(ascii_part) + [weight] * len(rare), k=size))


@pytest.mark.parametrize("seed", range(5))
def test_strip_and_fold_is_strip_then_fold_then_measure(seed: int) -> None:
    rng = random.Random(seed)
    paths: dict[tuple[bool, bool], int] = {}
    for _ in range(400):
        text = _random_text(rng, rng.choice((0, 1, 5, 60, 99, 300, 3000)))
        sent, removed, projection = strip_projected(text)
        seen, projection = fold(sent, projection)
        size = len(text.encode("utf-8", "surrogatepass"))
        assert strip_and_fold(text) == (sent, removed, seen, projection, size), text
        if not text.isascii():
            sparse = text.encode("ascii", "replace").count(b"?") * 64 <= len(text)
            paths[sparse, removed > 0] = paths.get((sparse, removed > 0), 0) + 1
    # The one walk to its end (sparse, nothing removed), cut short by an invisible character, and dense texts.
    assert min(paths.get(path, 0) for path in ((True, False), (True, True), (False, False), (False, True))) >= 5


@pytest.mark.parametrize("policy", ["full", "re"])
def test_a_family_with_no_trigger_finds_nothing(policy: str) -> None:
    """What `_READS` lets `sanitize` skip: a family given empty trigger lists in its fields finds nothing in
    a text full of what it would find, and something when they are not empty."""
    s = _sanitizer(policy)
    # Number triggers: a spaced card from its run, an IBAN from its capitals' digit, and a card with
    # underscores (no run holds it) from its end.
    text = f"{BENIGN} 5555 5555 5555 4444 GB29NWBK60161331926819 4111_1111_1111_1111"
    text += f" jane@example.com fe80::1 {DEMO_CANARY} {GITHUB_TOKEN}"
    text += "\n" + PROTECTED_PARAGRAPH
    triggers = s.engine.scan_whole(text)
    for family in s._families:
        assert list(family.matcher.find(text, triggers)), family.name
        reads = _READS[family.name]
        nothing: dict[str, Any] = {name: [] for name in reads}
        assert list(family.matcher.find(text, triggers._replace(**nothing))) == [], family.name
        # Each field is needed: with the others empty, it alone finds something (`digit` is read when
        # `number_runs` is None: with the re engine, whose every family runs on its None gates).
        for name in reads:
            if name != "digit" and getattr(triggers, name):
                alone = triggers._replace(**{**nothing, name: getattr(triggers, name)})
                assert list(family.matcher.find(text, alone)), (family.name, name)


def test_the_engine_fills_one_bucket_per_kind() -> None:
    engine = _sanitizer("full").engine
    assert isinstance(engine, HyperscanEngine)
    buckets = engine._buckets(b"x", whole=True)
    assert len(buckets) == _KINDS and len({id(b) for b in buckets}) == _KINDS  # distinct lists, one per kind
    whole = engine.scan_whole("no trigger at all here")
    assert whole == Triggers(
        at=[], digit=[], colon=[], canary_ends=[], protected_ends=[], secret_anchors=[],
        ascii_projection=b"no trigger at all here", number_runs=[], capital_digits=[], card_ends=[],
    )  # fmt: skip
