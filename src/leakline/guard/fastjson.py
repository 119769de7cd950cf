"""JSON on the gateway's request path: orjson where it gives the values and bytes the stdlib gives, the stdlib
where it would not.

Every exchange decodes the request, encodes the upstream payload, and decodes and re-encodes the answer (a
stream: every chunk). With the stdlib that was ~25 µs of CPU per whole answer and ~10 µs per streamed chunk
on the benchmark's bodies (`json.dumps(..., ensure_ascii=False)` alone 11 µs for a 400-byte completion);
orjson does each in about a tenth (measured in-process, 100,000 calls).

Where the two differ, the stdlib decides, so that what clients and upstreams see does not change:

- an integer of 19 or more digits: orjson reads one beyond 64 bits as a float (precision lost); such text
  is decoded by the stdlib (`_LONG_NUMBER`, one C-level search of the text);
- what orjson refuses and the stdlib reads (`NaN`, a lone surrogate escape, a number beyond a float's
  range): decoded by the stdlib, which returns it or raises its own error (with its position);
- what orjson cannot encode (an integer beyond 64 bits, a lone surrogate, a non-string key): encoded by the
  stdlib, which raises where it raised before.

Output of `dumps` equals `json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()` but for
floats, which orjson writes in its own shortest form (`1e-5` as `0.00001`, the same number) and `NaN` /
`Infinity` (not JSON), which it writes as `null`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(r"\d{19}")
"""A run of 19 digits: maybe an integer beyond 64 bits, which orjson would decode as a float."""


def loads(text: str) -> Any:
    """`json.loads(text)`, by orjson where that gives the same value. Raises `json.JSONDecodeError`."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # the stdlib reads what it accepts, and words its own error for the rest
    return json.loads(text)


def loads_strict(text: str, fallback: json.JSONDecoder) -> Any:
    """`fallback.decode(text)` (a decoder refusing what JSON has not, e.g. `NaN`), by orjson where that gives the
    same value: orjson refuses `NaN`, `Infinity` and numbers beyond a float's range itself, and the fallback
    then says why in its own words."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return fallback.decode(text)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as `json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()`."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a big integer, a lone surrogate, a key that is no string
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
