"""Classifying an environment variable by its name and value: secret, internal LLM endpoint, system prompt.

Used for `.env*` entries, `process.env.X` references and next.config `env:` entries alike. A value,
when known, decides first (a detected key is a secret whatever its name; a publishable-by-design key
is fine whatever its name); the name decides when the value is unknown or has no recognisable shape.
Next's `NEXT_PUBLIC_` prefix is ignored for the name words, so `NEXT_PUBLIC_SUPABASE_ANON_KEY` reads
as SUPABASE ANON KEY.
"""

# Risk names are labels, not hard-coded passwords:
# ruff: noqa: S105
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import StrEnum

from leakline.detectors.endpoints import is_internal_llm_endpoint, is_llm_name, parse_url
from leakline.detectors.secrets import (
    Context,
    find_secrets,
    is_placeholder,
    name_words,
    publishable_name_reason,
    publishable_reason,
)

PUBLIC_PREFIX = "NEXT_PUBLIC_"
MIN_LITERAL_LEN = 8
"""Shorter values (`true`, `3000`, `eu`) occur in any build by chance."""
SECRET_NAME_WORDS = frozenset(
    {
        "KEY",
        "APIKEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "PWD",
        "PRIVATE",
        "CREDENTIAL",
        "CREDENTIALS",
    }
)
PROMPT_WORDS = frozenset({"PROMPT", "INSTRUCTIONS", "PREAMBLE"})
"""A name that ends in one of these holds a prompt (`CHAT_PROMPT`, `ASSISTANT_INSTRUCTIONS`, Cohere's preamble)."""
PROMPT_TEXT_WORDS = frozenset({"TEMPLATE", "TEXT", "PREFIX", "SUFFIX", "BODY", "CONTENT"})
"""`PROMPT_TEMPLATE`, `PROMPT_TEXT`: still the prompt's words. Other words after PROMPT name something about
prompts that is shown to users anyway (`PROMPT_SUGGESTIONS`, `PROMPT_PLACEHOLDER`, `PROMPT_MAX_LENGTH`)."""
_NAME_SUFFIX = re.compile(r"V?\d+|EN|DE|FR|ES|IT|NL|PT|PL|SV|DA|FI|JA|ZH|KO|PROD|DEV|STAGING|TEST")


class EnvRisk(StrEnum):
    SECRET_VALUE = "secret-value"
    """The value has the shape of a provider's credential."""
    SECRET_NAME = "secret-name"
    """The name says credential (KEY, TOKEN, SECRET, ...), the value has no known shape."""
    LLM_ENDPOINT = "llm-endpoint"
    """The address (or another setting) of a self-hosted / internal LLM."""
    SYSTEM_PROMPT = "system-prompt"


@dataclass(frozen=True, slots=True)
class EnvClassification:
    risk: EnvRisk
    reason: str
    """Human-readable why, never containing the value (e.g. "OpenAI API key", "name contains TOKEN")."""


def strip_public_prefix(name: str) -> str:
    return name[len(PUBLIC_PREFIX) :] if name.startswith(PUBLIC_PREFIX) else name


def is_public_name(name: str) -> bool:
    return name.startswith(PUBLIC_PREFIX)


_NOT_SECRET_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null"})
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_HEADER_NAME = re.compile(r"x-[a-z]+(?:-[a-z]+)*")


def plainly_not_secret(value: str) -> bool:
    """A value that cannot be a credential whatever its variable is called: a number (`TOKEN_LIMIT=4096`), a
    boolean or a header name (`CSRF_TOKEN_HEADER=x-csrf-token`)."""
    value = value.strip().strip("\"'")
    return bool(value) and (
        value.lower() in _NOT_SECRET_WORDS
        or _NUMBER.fullmatch(value) is not None
        or _HEADER_NAME.fullmatch(value) is not None
    )


def names_a_prompt(words: list[str]) -> bool:
    """The name's words say it holds a prompt: SYSTEM_PROMPT (or SYSTEM_INSTRUCTIONS) anywhere, a last word
    PROMPT / INSTRUCTIONS / PREAMBLE (after a version, language or stage suffix: `CHAT_PROMPT_V2`,
    `SUPPORT_PROMPT_DE`), or PROMPT followed by TEMPLATE, TEXT, PREFIX, SUFFIX, BODY or CONTENT."""
    pairs = set(itertools.pairwise(words))
    if ("SYSTEM", "PROMPT") in pairs or ("SYSTEM", "INSTRUCTIONS") in pairs:
        return True
    if any(("PROMPT", word) in pairs for word in PROMPT_TEXT_WORDS):
        return True
    core = list(words)
    while len(core) > 1 and _NAME_SUFFIX.fullmatch(core[-1]):
        core.pop()
    return bool(core) and core[-1] in PROMPT_WORDS


def classify_env(name: str, value: str | None) -> EnvClassification | None:
    """Why the variable `name` (with `value`, None when unknown) must not reach browsers, or None."""
    bare = strip_public_prefix(name)
    words = name_words(bare)
    if value is not None:
        value = value.strip()
        # The name can make a key publishable that the value alone cannot (a Firebase web key is an `AIza` key).
        secrets = [m for m in find_secrets(value, Context.TEXT) if publishable_reason(m.value(value), bare) is None]
        if secrets:
            return EnvClassification(EnvRisk.SECRET_VALUE, secrets[0].kind.label)
        if publishable_reason(value, bare) is not None:
            return None
        if is_internal_llm_endpoint(value, bare):
            return EnvClassification(EnvRisk.LLM_ENDPOINT, "address of an internal LLM endpoint")
    if names_a_prompt(words) and (value is None or value):
        return EnvClassification(EnvRisk.SYSTEM_PROMPT, "name says it holds a (system) prompt")
    if publishable_name_reason(bare) is not None:
        return None
    secret_word = next((word for word in words if word in SECRET_NAME_WORDS), None)
    if secret_word is not None and not (value is not None and plainly_not_secret(value)):
        return EnvClassification(EnvRisk.SECRET_NAME, f"name contains {secret_word}")
    # A model name (`llama3.1:8b`) or a public provider's URL is not sensitive; an unknown value may be.
    if is_llm_name(bare) and value is None:
        return EnvClassification(EnvRisk.LLM_ENDPOINT, "name says it holds an LLM endpoint or setting")
    return None


def is_distinctive_literal(value: str) -> bool:
    """Whether a value is distinctive enough to search for in build output without false matches."""
    if len(value) < MIN_LITERAL_LEN:
        return False
    return parse_url(value) is not None or not is_placeholder(value)
