"""Which `StreamSanitizer` streamed responses get: the compiled twin or the pure-Python class.

`setup.py` compiles a copy of `stream.py` with mypyc into `leakline.guard.sanitize._stream_native`, recording
a digest of the sources it was made from (`BUILT_FROM`: every module of this package, since mypyc builds in
what it knows of the types `stream.py` uses, `Candidate` read as a tuple among them). The twin is used only
while that digest equals the package's modules installed beside it, and only if it is an extension module:
an edited source (an editable install not rebuilt since) or a build without a C compiler falls back to the
pure-Python class, which does the same work more slowly (the tests
run both and compare them with the whole-text result). `LEAKLINE_PURE_PYTHON=1` chooses the pure class.
The choice is made once per process, on the first stream.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import cast

from leakline.guard.sanitize import stream
from leakline.guard.sanitize.stream import StreamSanitizer

PURE_ENV = "LEAKLINE_PURE_PYTHON"
TWIN_MODULE = "leakline.guard.sanitize._stream_native"
TWIN_SOURCE = "_stream_native.py"
"""The copy `setup.py` compiles (removed after the build; never one of the sources)."""
REBUILD_HINT = "rebuild it with `pip install -e .` (or `./scripts/setup-dev`)"


@dataclass(frozen=True)
class StreamImplementation:
    cls: type[StreamSanitizer]
    compiled: bool
    reason: str
    """Why this one, for `leakline serve`'s start-up line and the bench."""

    def describe(self) -> str:
        return f"{'compiled (mypyc)' if self.compiled else 'pure Python'}: {self.reason}"


def package_digest(folder: Path) -> str:
    """The digest `setup.py` records (`_sources_digest` there computes the same): SHA-256 over each `*.py` of
    `folder` but the generated twin, by name, as `name NUL sha256(content) NUL`."""
    outer = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        if path.name == TWIN_SOURCE:
            continue
        outer.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\0")
    return outer.hexdigest()


def source_digest() -> str | None:
    """`package_digest` of the sources beside this module, or None if they cannot be read (an install without
    sources)."""
    source = Path(stream.__file__)
    if source.suffix != ".py" or not source.is_file():
        return None
    try:
        return package_digest(source.parent)
    except OSError:
        return None


def pure_requested() -> bool:
    return os.environ.get(PURE_ENV, "").strip() not in ("", "0")


@functools.cache
def stream_implementation() -> StreamImplementation:
    """The implementation this process uses (cached: `stream_implementation.cache_clear()` to choose again)."""
    pure = StreamSanitizer
    if pure_requested():
        return StreamImplementation(pure, False, f"{PURE_ENV} is set")
    try:
        twin = importlib.import_module(TWIN_MODULE)
    except ImportError:
        return StreamImplementation(pure, False, "the compiled twin was not built (no C compiler or mypyc at install)")
    if not str(getattr(twin, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES)):
        # A copy left by a build that was killed half-way: interpreted code, not the compiled twin.
        return StreamImplementation(pure, False, f"{TWIN_MODULE} is not an extension module; {REBUILD_HINT}")
    built_from = getattr(twin, "BUILT_FROM", None)
    if not isinstance(built_from, str) or built_from != source_digest():
        return StreamImplementation(pure, False, f"the compiled twin was built from other sources; {REBUILD_HINT}")
    return StreamImplementation(cast(type[StreamSanitizer], twin.StreamSanitizer), True, "built from these sources")
