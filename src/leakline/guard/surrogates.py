"""Lone UTF-16 surrogates: JSON may escape one (`"\\ud800"`), Python decodes it, no UTF-8 encoder takes it.

A valid pair of escapes decodes to one character; a lone half becomes a string no response, audit record or
upstream request can be written with. Clients get told (`lone_surrogate_field` names the field, a 400);
what an upstream model sends is repaired (`without_lone_surrogates`: each lone half becomes U+FFFD, as a
UTF-8 decoder does with a broken byte) so that one bad token does not cost the shopper the whole answer.
The detectors see the repaired text, which is the text the client gets. Both are only called when the raw
JSON holds a surrogate escape at all (`has_surrogate_escape`), which keeps them off every other request.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE = re.compile("[\ud800-\udfff]")


def has_surrogate_escape(raw: str) -> bool:
    """True when `raw` (JSON text) escapes a UTF-16 surrogate, paired or not."""
    return "\\u" in raw and _ESCAPE.search(raw) is not None


def without_lone_surrogates(value: Any) -> Any:
    """`value` (decoded JSON) with every lone surrogate in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE.sub(REPLACEMENT, value) if _LONE.search(value) else value
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    return value


def lone_surrogate_field(value: Any, path: str = "") -> str | None:
    """The path (`messages[0].content`) of the first string or key holding a lone surrogate, or None."""
    if isinstance(value, str):
        return (path or "(body)") if _LONE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _LONE.search(key):
                return f"{path or '(body)'} (a key)"
            found = lone_surrogate_field(item, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None
