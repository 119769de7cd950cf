"""A stream's gated families (canaries, secrets) near window edges: the gates the stream keeps from
`scan_tail` are exactly those a scan of its window would report (less the canary gates that can only give
matches before the release point), and the output and hits equal the whole-text result for adversarial
chunkings, with hypothesis and on a fixed seeded corpus, with both engines and with a hold-back long enough
that a window's first gates may have begun before it."""

from __future__ import annotations

import base64
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.engine import hyperscan_available
from leakline.guard.sanitize.matchers import Candidate, LocalMatcher
from leakline.guard.sanitize.native import stream_implementation
from leakline.guard.sanitize.stream import StreamSanitizer

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"
LONG_CANARY = "Hq4TzW8kRm2YvN6pXc3LbJ7dFs9GtK5wQe1UaZ0o" * 2  # 80 characters: spelled up to 317 long
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4Gm1sN0aPq2Lr8d9wWv3cYtF6uH2kJ5mZ1nB7oQ8pR4sT6u\n"
    "-----END RSA PRIVATE KEY-----"
)


def _spellings(token: str) -> list[str]:
    raw = token.encode()
    return [
        token, token.lower(), " ".join(token), "-".join(token), " - ".join(token), base64.b64encode(raw).decode(),
        base64.b64encode(b"x" + raw).decode(), raw.hex(), token[:10],
    ]  # fmt: skip


GATES = [
    *_spellings(CANARY), *_spellings(LONG_CANARY), "sk-proj-Ab3dE5gH7jK9mN1pQ3rS5tU7", "sk-", "AKIA", "AKIAIOSFODNN7EXAMPLE",
    "ghp_1234567890abcdefghijABCDEFGHIJ123456", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "Aws_Secret_Key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKE", "postgres://admin:hunter2pass@db.internal/app",
    "://", "eyJ", PEM, "-----BEGIN ", "4111 1111 1111 1111", "jane.doe@example.com",
]  # fmt: skip
FILLER = [" ", "\n", "a", "the order", ".", "x" * 37, "y" * 101, "word " * 20, " " * 9]
texts = st.lists(st.one_of(st.sampled_from(GATES), st.sampled_from(FILLER)), min_size=1, max_size=120).map("".join)


class _CheckedStream(StreamSanitizer):
    """Before each release's gated families run: the stream's gates against a scan of its window."""

    def _candidates(self, buf: str, base: int, released: int, triggers: dict[str, list[int]], final: bool,
                    ) -> list[Candidate]:  # fmt: skip
        if self._tracked:
            window = self._sanitizer.engine.scan(buf)
            reach = self._gate_reach
            expected = (
                sorted(e for e in window.canary_ends or () if e + reach > released),
                sorted(window.secret_anchors or ()),
            )
            gates = self._gates(buf, base, released) if self._canary_ends or self._secret_anchors else None
            got = ([], []) if gates is None else (sorted(gates.canary_ends or ()), list(gates.secret_anchors or ()))
            assert got == expected, (base, released, len(buf))
        return super()._candidates(buf, base, released, triggers, final)


def _sanitizers() -> list[Sanitizer]:
    engines = ["hyperscan", "re"] if hyperscan_available() else ["re"]
    out = []
    for engine in engines:
        out.append(Sanitizer(Policy(canaries=(CANARY,), engine=engine).with_actions({"canary": "redact"})))
        # Gates up to 321 characters long: a window's first gates may have begun before it (its head is scanned).
        out.append(Sanitizer(Policy(canaries=(CANARY, LONG_CANARY), engine=engine, holdback_chars=700)
                             .with_actions({"canary": "redact"})))  # fmt: skip
    out.append(Sanitizer(Policy(canaries=(CANARY,))))  # canaries block
    return out


SANITIZERS = _sanitizers()


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def _check(s: Sanitizer, text: str, chunks: list[str]) -> None:
    whole = s.sanitize(text)
    stream = _CheckedStream(s)
    out = "".join(stream.feed(c) for c in chunks) + stream.finish()
    assert out == whole.text
    assert stream.hits == whole.hits
    assert stream.blocked == whole.blocked
    twin = stream_implementation()
    if twin.compiled:  # the same passes, compiled (setup.py): the same result
        compiled = twin.cls(s)
        assert "".join(compiled.feed(c) for c in chunks) + compiled.finish() == whole.text
        assert (compiled.hits, compiled.blocked) == (whole.hits, whole.blocked)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=60),
       size=st.sampled_from([0, 1, 3, 20, 97, 511, 512, 513]))  # fmt: skip
def test_gates_near_window_edges_any_chunking(text: str, cuts: list[int], size: int) -> None:
    for s in SANITIZERS:
        chunks = [text[i : i + size] for i in range(0, len(text), size)] if size else _split(text, cuts)
        _check(s, text, chunks)


def _corpus(seed: int, length: int) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < length:
        piece = rng.choice(GATES) if rng.random() < 0.3 else rng.choice(FILLER) * rng.randint(1, 12)
        parts.append(piece)
        total += len(piece)
    return "".join(parts)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gates_on_a_seeded_corpus(seed: int) -> None:
    text = _corpus(seed, 60_000)
    rng = random.Random(seed)
    sizes = [rng.randint(1, 900) for _ in range(200)]
    chunks = []
    i = 0
    for size in itertools.cycle(sizes):
        if i >= len(text):
            break
        chunks.append(text[i : i + size])
        i += size
    for s in SANITIZERS:
        _check(s, text, chunks)
        _check(s, text, [text[i : i + 20] for i in range(0, len(text), 20)])


def test_a_dropped_gate_is_caught() -> None:
    """The check above fails when the stream forgets a gate: here every canary gate is dropped."""
    s = SANITIZERS[0]
    if not s.engine.reports_gates:
        pytest.skip("gates are tracked by the hyperscan engine only")

    class _Forgetful(_CheckedStream):
        def _advance(self, *, final: bool) -> str:
            self._canary_ends.clear()
            return super()._advance(final=final)

    text = "x " * 400 + CANARY + " y" * 400
    stream = _Forgetful(s)
    with pytest.raises(AssertionError):
        for i in range(0, len(text), 20):
            stream.feed(text[i : i + 20])
        stream.finish()


@pytest.mark.parametrize("family", range(3))
def test_settle_reach_is_what_settled_says(family: int) -> None:
    matcher = SANITIZERS[0].local_families[family].matcher
    assert isinstance(matcher, LocalMatcher)
    reach = matcher.settle_reach
    if reach is None:
        assert matcher.trigger_field == "at"  # e-mail: settled by the text after the domain, not a length
        return
    text = "4111 1111 1111 1111 ab::cd " * 40
    for p in range(0, 120, 7):
        for n in range(p, min(len(text), p + reach + 40)):
            assert matcher.settled(text[:n], p) == (p + reach <= n), (p, n)

