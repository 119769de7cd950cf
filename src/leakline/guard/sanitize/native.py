"""Which `StreamSanitizer` streamed responses get: the compiled twin or the pure-Python class.

`setup.py` compiles a copy of `stream.py` with mypyc into `leakline.guard.sanitize._stream_native`, recording
the SHA-256 of the source it was made from (`BUILT_FROM`). The twin is used only while that digest equals
the `stream.py` installed beside it: an edited source (an editable install not rebuilt since) or a build
without a C compiler falls back to the pure-Python class, which does the same work more slowly (the tests
run both and compare them with the whole-text result). `LEAKLINE_PURE_PYTHON=1` chooses the pure class.
The choice is made once per process, on the first stream.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from leakline.guard.sanitize import stream
from leakline.guard.sanitize.stream import StreamSanitizer

PURE_ENV = "LEAKLINE_PURE_PYTHON"
TWIN_MODULE = "leakline.guard.sanitize._stream_native"
REBUILD_HINT = "rebuild it with `pip install -e .` (or `./scripts/setup-dev`)"


@dataclass(frozen=True)
class StreamImplementation:
    cls: type[StreamSanitizer]
    compiled: bool
    reason: str
    """Why this one, for `leakline serve`'s start-up line and the bench."""

    def describe(self) -> str:
        return f"{'compiled (mypyc)' if self.compiled else 'pure Python'}: {self.reason}"


def source_digest() -> str | None:
    """SHA-256 of the `stream.py` beside this module, or None if it cannot be read (an install without sources)."""
    try:
        return hashlib.sha256(Path(stream.__file__).read_bytes()).hexdigest()
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
    built_from = getattr(twin, "BUILT_FROM", None)
    if not isinstance(built_from, str) or built_from != source_digest():
        return StreamImplementation(pure, False, f"the compiled twin was built from another stream.py; {REBUILD_HINT}")
    return StreamImplementation(cast(type[StreamSanitizer], twin.StreamSanitizer), True, "built from this stream.py")
