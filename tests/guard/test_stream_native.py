"""The compiled twin of the stream sanitizer (setup.py, `leakline.guard.sanitize.native`): built where a C
compiler is, used only while built from the `stream.py` beside it, and giving the pure class's results."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Policy, Sanitizer, native
from leakline.guard.sanitize.stream import StreamSanitizer

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"
ITEMS = [
    "jane.doe@example.com", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "+44 20 7946 0958",
    "2001:db8::8a2e:370:7334", "sk-proj-Ab3dE5gH7jK9mN1pQ3rS5tU7", CANARY, " ".join(CANARY),
    "ORD-2024-558812", "EAN 4006381333931", "\u00adjane\u200b.doe@example.com", "caf\u00e9 ", "\U0001f600",
]  # fmt: skip
FILLER = [" ", "\n", "the order shipped today, thanks. ", "x" * 37, "word " * 30]
texts = st.lists(st.one_of(st.sampled_from(ITEMS), st.sampled_from(FILLER)), min_size=1, max_size=200).map("".join)


@pytest.fixture(autouse=True)
def _choose_again() -> Iterator[None]:
    native.stream_implementation.cache_clear()
    yield
    native.stream_implementation.cache_clear()


def _twin() -> native.StreamImplementation:
    chosen = native.stream_implementation()
    if not chosen.compiled:
        pytest.skip(f"no compiled stream sanitizer: {chosen.reason}")
    return chosen


def test_the_twin_is_built_and_used_where_a_c_compiler_is(monkeypatch: pytest.MonkeyPatch) -> None:
    if native.PURE_ENV in os.environ:
        pytest.skip(f"{native.PURE_ENV} is set")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the install is pure Python by design")
    chosen = native.stream_implementation()
    assert chosen.compiled, chosen.reason
    assert chosen.cls is not StreamSanitizer
    assert chosen.cls.__module__ == native.TWIN_MODULE
    assert type(Sanitizer(Policy()).stream()) is chosen.cls
    # The copy mypyc compiled is removed after the build: only the extension is left beside stream.py.
    assert not Path(native.stream.__file__).with_name("_stream_native.py").exists()


def test_a_twin_built_from_another_stream_py_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    _twin()
    native.stream_implementation.cache_clear()
    monkeypatch.setattr(native, "source_digest", lambda: "0" * 64)  # stream.py edited since the build
    chosen = native.stream_implementation()
    assert (chosen.cls, chosen.compiled) == (StreamSanitizer, False)
    assert "built from other sources" in chosen.reason
    assert "pip install -e ." in chosen.reason
    assert type(Sanitizer(Policy()).stream()) is StreamSanitizer


def test_an_unreadable_source_is_treated_as_a_different_one(monkeypatch: pytest.MonkeyPatch) -> None:
    _twin()
    native.stream_implementation.cache_clear()
    monkeypatch.setattr(native.stream, "__file__", "/nonexistent/stream.py")
    assert native.source_digest() is None
    assert native.stream_implementation().cls is StreamSanitizer


def test_without_a_twin_the_pure_class_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "TWIN_MODULE", "leakline.guard.sanitize._no_such_twin")
    chosen = native.stream_implementation()
    assert (chosen.cls, chosen.compiled) == (StreamSanitizer, False)
    assert chosen.describe() == "pure Python: the compiled twin was not built (no C compiler or mypyc at install)"


@pytest.mark.parametrize("value", ["1", "yes"])
def test_leakline_pure_python_chooses_the_pure_class(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(native.PURE_ENV, value)
    chosen = native.stream_implementation()
    assert (chosen.cls, chosen.compiled, chosen.reason) == (StreamSanitizer, False, "LEAKLINE_PURE_PYTHON is set")


def test_leakline_pure_python_0_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.PURE_ENV, "0")
    assert not native.pure_requested()


def test_the_twin_records_the_digest_of_the_source_it_was_built_from() -> None:
    _twin()
    module = importlib.import_module(native.TWIN_MODULE)
    assert native.source_digest() == module.BUILT_FROM
    assert len(module.BUILT_FROM) == 64


SANITIZERS = [
    Sanitizer(Policy(canaries=(CANARY,)).with_actions({"canary": "redact"})),
    Sanitizer(Policy(canaries=(CANARY,), release_seconds=0.2)),  # the gateway's schedule: windowed passes
    Sanitizer(Policy(canaries=(CANARY,), holdback_chars=600, engine="re").with_actions({"canary": "redact"})),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, size=st.sampled_from([1, 4, 20, 97, 448, 5000]), index=st.integers(0, len(SANITIZERS) - 1))
def test_the_twin_gives_what_the_pure_class_and_the_whole_text_give(text: str, size: int, index: int) -> None:
    twin = native.stream_implementation()
    if not twin.compiled:
        pytest.skip(twin.reason)
    s = SANITIZERS[index]
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    results = []
    for cls in (StreamSanitizer, twin.cls):
        stream = cls(s, clock=lambda: 0.0)
        out = "".join(stream.feed(c) for c in chunks) + stream.finish()
        results.append((out, stream.hits, stream.blocked, stream.scanned_bytes, stream.invisible_removed))
    whole = s.sanitize(text)
    assert results[0] == results[1]
    assert results[1][:3] == (whole.text, whole.hits, whole.blocked)
    if not whole.blocked:  # a blocked stream counts what it read up to the block
        assert results[1][3:] == (whole.scanned_bytes, whole.invisible_removed)


def test_the_digest_covers_every_module_of_the_package(tmp_path: Path) -> None:
    # mypyc builds in what it knows of the types stream.py uses (Candidate read as a tuple): a twin is stale
    # when any module of the package changed, not only stream.py.
    folder = Path(native.stream.__file__).parent
    for path in folder.glob("*.py"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert native.package_digest(tmp_path) == native.source_digest()
    (tmp_path / native.TWIN_SOURCE).write_text("left by a killed build")
    assert native.package_digest(tmp_path) == native.source_digest()  # the generated copy is not a source
    matchers = tmp_path / "matchers.py"
    matchers.write_bytes(matchers.read_bytes() + b"\n")
    assert native.package_digest(tmp_path) != native.source_digest()


def test_a_twin_that_is_not_an_extension_module_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    copy = types.ModuleType("leftover_twin")
    copy.__file__ = "/somewhere/leakline/guard/sanitize/_stream_native.py"
    copy.BUILT_FROM = native.source_digest()  # type: ignore[attr-defined]
    copy.StreamSanitizer = StreamSanitizer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "leftover_twin", copy)
    monkeypatch.setattr(native, "TWIN_MODULE", "leftover_twin")
    monkeypatch.delenv(native.PURE_ENV, raising=False)
    chosen = native.stream_implementation()
    assert (chosen.cls, chosen.compiled) == (StreamSanitizer, False)
    assert chosen.reason.startswith("leftover_twin is not an extension module")


def test_a_detector_failure_keeps_its_cause_in_the_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    from leakline.guard.sanitize.errors import SanitizerFailed

    twin = _twin()
    s = Sanitizer(Policy(canaries=(CANARY,), release_seconds=0.2))

    def broken(*_: object, **__: object) -> object:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(s.engine, "scan_whole", broken)
    for cls in (StreamSanitizer, twin.cls):
        stream = cls(s, clock=lambda: 0.0)
        with pytest.raises(SanitizerFailed) as caught:
            stream.feed("word " * 400)
            stream.feed("word " * 400)
        assert isinstance(caught.value.__cause__, ZeroDivisionError), cls
