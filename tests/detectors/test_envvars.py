"""classify_env: value first (provider key / publishable), then name (credential words, LLM, prompt)."""

from __future__ import annotations

import pytest

from leakline.detectors.envvars import EnvRisk, classify_env, is_distinctive_literal, strip_public_prefix

OPENAI = "sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs"
GOOGLE = "AIzaZjljENUhJduRHHJEYXg4JdpmrcXgGCJbW56"


@pytest.mark.parametrize(
    ("name", "value", "risk", "reason"),
    [
        ("NEXT_PUBLIC_RELEASE", OPENAI, EnvRisk.SECRET_VALUE, "OpenAI API key"),
        ("NEXT_PUBLIC_OLLAMA_URL", "http://10.20.0.5:11434", EnvRisk.LLM_ENDPOINT, "address of an internal LLM endpoint"),
        ("NEXT_PUBLIC_OLLAMA_URL", None, EnvRisk.LLM_ENDPOINT, "name says it holds an LLM endpoint or setting"),
        ("NEXT_PUBLIC_SYSTEM_PROMPT", "You are ShopBot.", EnvRisk.SYSTEM_PROMPT, "name says it holds a (system) prompt"),
        ("NEXT_PUBLIC_API_TOKEN", "", EnvRisk.SECRET_NAME, "name contains TOKEN"),
        ("NEXT_PUBLIC_adminPassword", "hunter2", EnvRisk.SECRET_NAME, "name contains PASSWORD"),
        ("NEXT_PUBLIC_OPENAI_API_KEY", "your-key-here", EnvRisk.SECRET_NAME, "name contains KEY"),
        ("GOOGLE_API_KEY", GOOGLE, EnvRisk.SECRET_VALUE, "Google API key"),
    ],
)
def test_sensitive(name: str, value: str | None, risk: EnvRisk, reason: str) -> None:
    found = classify_env(name, value)
    assert found is not None
    assert (found.risk, found.reason) == (risk, reason)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", "pk_live_EQ7wjJJibaZUPgHV7iB3m03n"),
        ("NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", None),
        ("NEXT_PUBLIC_FIREBASE_API_KEY", GOOGLE),
        ("NEXT_PUBLIC_POSTHOG_KEY", "phc_bqnsGpWLuqIA1id6Vw5DQL05HA064GiIjHGb3CXlMaX"),
        ("NEXT_PUBLIC_LLM_MODEL_NAME", "llama3.1:8b"),
        ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        ("NEXT_PUBLIC_KEYBOARD_LAYOUT", "qwerty"),
        ("NEXT_PUBLIC_SITE_NAME", None),
        ("NEXT_PUBLIC_RECAPTCHA_SITE_KEY", None),
    ],
)
def test_not_sensitive(name: str, value: str | None) -> None:
    assert classify_env(name, value) is None


def test_strip_public_prefix() -> None:
    assert strip_public_prefix("NEXT_PUBLIC_A_B") == "A_B"
    assert strip_public_prefix("A_NEXT_PUBLIC_B") == "A_NEXT_PUBLIC_B"


@pytest.mark.parametrize(
    ("value", "distinctive"),
    [("q7Vb2-Lk9mZx-44Rt", True), ("true", False), ("changeme1", False), ("http://10.0.0.5:11434", True), ("eu", False)],
)
def test_is_distinctive_literal(value: str, distinctive: bool) -> None:
    assert is_distinctive_literal(value) is distinctive
