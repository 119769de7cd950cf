"""The `[sanitize]` section of leakline.toml: canaries, the protected corpus and an action per detector.

Kept free of imports from the rest of leakline (config.py imports this module), so the base class
repeats `leakline.config.Section`'s rules: unknown keys are errors and values are not coerced.

    [sanitize]
    canaries = ["<random token, at least 128 bits>"]
    protected_corpus = ["corpus/system-prompt.txt"]
    phone_regions = ["DE", "FR", "GB", "US"]
    min_protected_tokens = 12
    stream_holdback_chars = 512
    stream_release_ms = 200

    [sanitize.actions]                 # detector -> "redact" | "block" | "alert"
    email = "redact"
    canary = "block"
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ActionName = Literal["redact", "block", "alert"]

DEFAULT_PHONE_REGIONS = ("DE", "FR", "GB", "US")
DEFAULT_MIN_PROTECTED_TOKENS = 12
DEFAULT_HOLDBACK_CHARS = 512
DEFAULT_RELEASE_MS = 200


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SanitizeSettings(_Section):
    canaries: list[str] = Field(default_factory=list)
    """Tokens planted in system prompts; seeing one (or its spaced/split/base64/hex form) in output blocks."""
    protected_corpus: list[str] = Field(default_factory=list)
    """Text files (system prompts, fine-tuning excerpts, internal docs) whose verbatim reuse is flagged."""
    actions: dict[str, ActionName] = Field(default_factory=dict)
    """Per-detector overrides of the default action."""
    phone_regions: list[str] = Field(default_factory=lambda: list(DEFAULT_PHONE_REGIONS))
    """Regions whose national phone formats are recognised (international +CC numbers always are)."""
    min_protected_tokens: int = Field(default=DEFAULT_MIN_PROTECTED_TOKENS, ge=6, le=200)
    """Consecutive normalized tokens shared with the corpus that count as a verbatim leak."""
    stream_holdback_chars: int = Field(default=DEFAULT_HOLDBACK_CHARS, ge=448, le=65536)
    """Characters a stream keeps unreleased at its end (at least the longest bounded match plus context)."""
    stream_release_ms: int = Field(default=DEFAULT_RELEASE_MS, ge=0, le=60_000)
    """How often, at most, a stream releases the text that has left its hold-back, when a new piece arrives
    (milliseconds). 0: only once per `stream_holdback_chars` characters received (fewest release passes,
    up to twice the hold-back unreleased)."""
    engine: Literal["auto", "hyperscan", "re"] = "auto"
    """Trigger engine: hyperscan when installed (measured fastest), else Python's `re`."""
