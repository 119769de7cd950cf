"""Output sanitization for the LLM gateway: detectors, policy, streaming hold-back and SSE helpers.

    policy = Policy.from_settings(settings.sanitize)
    sanitizer = Sanitizer(policy)                 # compiled once, shared, thread-safe
    result = sanitizer.sanitize(text)             # .text .hits .blocked .scanned_bytes .detector_versions
                                                  # .invisible_removed
    stream = sanitizer.stream()                   # one per choice; .feed(delta) -> str, .finish() -> str

Invisible format characters (soft hyphen, zero-width space, bidi controls, tags...) are removed before
detection: what is detected is what is sent (`strip_invisible`, docs/sanitize.md "Invisible characters").

Detectors (names fixed, used in `[sanitize.actions]`): email, phone, payment_card, iban, us_ssn, uk_nino,
national_id, ip_address, secret, canary, protected_text. See docs/sanitize.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakline.guard.sanitize.core import DetectorHit, Sanitizer, SanitizeResult
    from leakline.guard.sanitize.errors import PolicyError, SanitizeError, SanitizerFailed
    from leakline.guard.sanitize.fold import strip_invisible
    from leakline.guard.sanitize.matchers import DETECTORS
    from leakline.guard.sanitize.policy import DEFAULT_ACTIONS, Action, Policy
    from leakline.guard.sanitize.settings import SanitizeSettings
    from leakline.guard.sanitize.stream import StreamSanitizer

# Loaded on first use: config.py imports `settings` from this package, and the CLI must start fast.
_EXPORTS = {
    "DEFAULT_ACTIONS": "policy",
    "DETECTORS": "matchers",
    "Action": "policy",
    "DetectorHit": "core",
    "Policy": "policy",
    "PolicyError": "errors",
    "SanitizeError": "errors",
    "SanitizeResult": "core",
    "SanitizeSettings": "settings",
    "Sanitizer": "core",
    "SanitizerFailed": "errors",
    "StreamSanitizer": "stream",
    "strip_invisible": "fold",
}
__all__ = [
    "DEFAULT_ACTIONS",
    "DETECTORS",
    "Action",
    "DetectorHit",
    "Policy",
    "PolicyError",
    "SanitizeError",
    "SanitizeResult",
    "SanitizeSettings",
    "Sanitizer",
    "SanitizerFailed",
    "StreamSanitizer",
    "strip_invisible",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
