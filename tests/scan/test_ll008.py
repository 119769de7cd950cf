"""LL008's path test: which files are part of a checkout flow by where they live."""

from __future__ import annotations

import random

import pytest

from leakline.scan.rules.ll008 import _PATH_SEGMENT, FLOW_WORDS, path_is_checkout_flow


def _by_segment_words(rel: str) -> bool:
    """The test without its shortcut: every path segment's words checked."""
    for segment in rel.lower().split("/"):
        words = _PATH_SEGMENT.findall(segment.split(".", 1)[0])
        if any(word in FLOW_WORDS or word.rstrip("s") in FLOW_WORDS for word in words):
            return True
    return False


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("app/checkout/page.tsx", True),
        ("app/(shop)/Orders/[id]/route.ts", True),
        ("lib/payments.ts", True),
        ("app/api/cart-items/route.ts", True),
        ("components/display/Banner.tsx", False),  # "pay" inside a word is no flow word
        ("app/api/chat/route.ts", False),
        ("lib/checkout.test.ts", True),
        ("lib/notes.checkout.ts", False),  # only the stem before the first dot counts
    ],
)
def test_paths_in_a_checkout_flow(rel: str, expected: bool) -> None:
    assert path_is_checkout_flow(rel) is expected


def test_the_shortcut_decides_as_the_segment_words_do() -> None:
    parts = ["app", "api", "lib", "components", "(shop)", "[id]", "route.ts", "page.tsx", "s", "-", "_", ".", "x1"]
    parts += [*FLOW_WORDS, *(word.upper() for word in FLOW_WORDS), *(word[:-1] for word in FLOW_WORDS)]
    rng = random.Random(8)
    verdicts = []
    for _ in range(5_000):
        rel = "/".join("".join(rng.choice(parts) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 4)))
        verdicts.append(path_is_checkout_flow(rel))
        assert verdicts[-1] == _by_segment_words(rel), rel
    assert 500 < sum(verdicts) < 4_500
