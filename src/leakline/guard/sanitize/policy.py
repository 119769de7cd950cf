"""`Policy`: what each detector does (redact, block, alert) and the data the detectors need.

Built once from the `[sanitize]` settings (`Policy.from_settings`), validated there: an unknown detector
name, a canary with less than 128 bits, an unreadable or non-UTF-8 corpus file, an unknown phone region
all become `PolicyError`s that name the key (and the file and byte offset). Per-route or per-key policies
are the same object with other actions (`policy.with_actions({...})`); the input side (prompt redaction)
is `policy.for_prompts()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from leakline.guard.sanitize.errors import PolicyError
from leakline.guard.sanitize.matchers import (
    CANARY,
    CANARY_MIN_BITS,
    CANARY_MIN_DISTINCT,
    DETECTORS,
    IP_ADDRESS,
    PROTECTED_TEXT,
    canary_bits,
)
from leakline.guard.sanitize.settings import (
    DEFAULT_HOLDBACK_CHARS,
    DEFAULT_MIN_PROTECTED_TOKENS,
    DEFAULT_PHONE_REGIONS,
    SanitizeSettings,
)


class Action(StrEnum):
    REDACT = "redact"
    """Replace the match with `[REDACTED:<DETECTOR>]` and pass the rest."""
    BLOCK = "block"
    """Refuse the response (a stream ends with finish_reason "content_filter")."""
    ALERT = "alert"
    """Pass the text unchanged and report the hit (the gateway raises a signal)."""


DEFAULT_ACTIONS: Mapping[str, Action] = MappingProxyType(
    {
        **{name: Action.REDACT for name in DETECTORS},
        IP_ADDRESS: Action.ALERT,
        CANARY: Action.BLOCK,
        PROTECTED_TEXT: Action.BLOCK,
    }
)


PROMPT_EXEMPT = frozenset({CANARY, PROTECTED_TEXT})
"""Detectors that `Policy.for_prompts` leaves out: they look for the operator's own text."""


@dataclass(frozen=True)
class Policy:
    actions: Mapping[str, Action] = field(default_factory=lambda: DEFAULT_ACTIONS)
    canaries: tuple[str, ...] = ()
    protected_documents: tuple[str, ...] = ()
    """The corpus texts themselves (read from `protected_corpus` files)."""
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    min_protected_tokens: int = DEFAULT_MIN_PROTECTED_TOKENS
    holdback_chars: int = DEFAULT_HOLDBACK_CHARS
    engine: str = "auto"
    release_seconds: float = 0.0
    """A stream's release pass at most this often when pieces arrive (`stream_release_ms`); 0 here, so that a
    policy built in code releases by characters only and the same input always gives the same releases.
    leakline.toml's default (`DEFAULT_RELEASE_MS`) comes through `from_settings`."""

    @classmethod
    def from_settings(cls, settings: SanitizeSettings, *, base_dir: Path | None = None) -> Policy:
        """Validate `[sanitize]` and read the corpus; relative corpus paths are taken from `base_dir`."""
        actions = dict(DEFAULT_ACTIONS)
        for name, action in settings.actions.items():
            if name not in DEFAULT_ACTIONS:
                raise PolicyError(
                    f"sanitize.actions.{name}: unknown detector",
                    hint=f"detectors are: {', '.join(DETECTORS)}",
                )
            actions[name] = Action(action)
        for i, token in enumerate(settings.canaries):
            _check_canary(i, token)
        _check_regions(settings.phone_regions)
        root = base_dir if base_dir is not None else Path.cwd()
        documents = tuple(_read_corpus(root / path, f"sanitize.protected_corpus[{i}]")
                          for i, path in enumerate(settings.protected_corpus))  # fmt: skip
        return cls(
            actions=MappingProxyType(actions),
            canaries=tuple(settings.canaries),
            protected_documents=documents,
            phone_regions=tuple(settings.phone_regions),
            min_protected_tokens=settings.min_protected_tokens,
            holdback_chars=settings.stream_holdback_chars,
            engine=settings.engine,
            release_seconds=settings.stream_release_ms / 1000,
        )

    def with_actions(self, overrides: Mapping[str, str]) -> Policy:
        """The same detectors with some actions changed (a route's or an API key's own policy)."""
        actions = dict(self.actions)
        for name, action in overrides.items():
            if name not in DEFAULT_ACTIONS:
                raise PolicyError(f"unknown detector {name!r}", hint=f"detectors are: {', '.join(DETECTORS)}")
            try:
                actions[name] = Action(action)
            except ValueError:
                raise PolicyError(f"{name}: unknown action {action!r}", hint="use redact, block or alert") from None
        return replace(self, actions=MappingProxyType(actions))

    def for_prompts(self) -> Policy:
        """The input-side policy (prompts redacted before the model sees them), derived from this one.

        Only personal data and secrets are looked for: canaries and the protected corpus are the
        operator's own text (a system prompt is in the corpus, a canary is planted in it), so redacting
        them in prompts would break the very prompts they protect. `block` redacts, since a prompt is
        never refused or cut short (a cut would change what the model is asked); `alert` passes and
        reports, as on the output side.
        """
        actions = {
            name: Action.ALERT if action is Action.ALERT else Action.REDACT
            for name, action in self.actions.items()
            if name not in PROMPT_EXEMPT
        }
        return replace(self, actions=MappingProxyType(actions), canaries=(), protected_documents=())


def _check_canary(index: int, token: str) -> None:
    key = f"sanitize.canaries[{index}]"
    if token != token.strip() or any(ch.isspace() for ch in token):
        raise PolicyError(f"{key}: a canary token must not contain whitespace")
    if len(set(token)) < CANARY_MIN_DISTINCT or canary_bits(token) < CANARY_MIN_BITS:
        # Never echo the token: it is a secret planted in prompts.
        raise PolicyError(
            f"{key}: too short or too regular for a canary ({len(token)} characters, "
            f"about {int(canary_bits(token))} bits; at least {CANARY_MIN_BITS} bits are needed)",
            hint='generate one with: python -c "import secrets; print(secrets.token_urlsafe(24))"',
        )


def _check_regions(regions: list[str]) -> None:
    import phonenumbers

    for i, region in enumerate(regions):
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise PolicyError(f"sanitize.phone_regions[{i}]: unknown region {region!r}",
                              hint="use ISO 3166-1 alpha-2 codes such as DE, FR, GB, US")  # fmt: skip


def _read_corpus(path: Path, key: str) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{key}: {path}: cannot read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{key}: {path}: not valid UTF-8 at byte offset {exc.start}") from None
