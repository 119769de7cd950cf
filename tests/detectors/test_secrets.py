"""find_secrets / publishable_reason: every provider shape, its near misses, and properties over random text."""

from __future__ import annotations

import base64
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.detectors.secrets import (
    Context,
    SecretKind,
    SecretMatch,
    find_secrets,
    is_placeholder,
    name_words,
    publishable_name_reason,
    publishable_reason,
)

OPENAI = "sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs"
OPENAI_LEGACY = "sk-Q2n8dKq3LwZp7RtY6vXb1Nm4Hj5Gf9Ds0Aa2Ss3Dd4Ff5Gg6"
ANTHROPIC = "sk-ant-api03-KjIg8xNbe3nNyjOq9wMxEhh2FDEEtfjgVvVqE1SkHbn88HxjSI6bWHtP3fS2qHx6kwXoIIXGvOoNZYW2AA"
AWS_ID = "AKIAMVN4A4WFHYM4L1VF"
AWS_SESSION_ID = "ASIAQ7W3E5R2T8Y6U4I1"
AWS_SECRET = "k9Jf3Lm2Qp8Rs7Tv6Wx5Yz4Ab3Cd2Ef1Gh0Ij9Kl"
GITHUB = "ghp_mZp0zVZomHFwUbbYrEqmSM9wCZ7Uw9xfogoE"
GITHUB_PAT = "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd"
STRIPE = "sk_live_Z8UzDzV8fUkkibjL5DZPjN0M"
STRIPE_RESTRICTED = "rk_live_Z8UzDzV8fUkkibjL5DZPjN0M"
SLACK = "xoxb-34483478245-0400088387371-Q0PBQFI14zGtSnovm14TUOiz"
GOOGLE = "AIzaZjljENUhJduRHHJEYXg4JdpmrcXgGCJbW56"
HF = "hf_8bOfZqfM2oeq3hDavJA76rNicHTp8hkqdl"
STRIPE_PK = "pk_live_EQ7wjJJibaZUPgHV7iB3m03n"
POSTHOG = "phc_bqnsGpWLuqIA1id6Vw5DQL05HA064GiIjHGb3CXlMaX"
SENTRY_DSN = "https://cea27d26934b484e73cf575dcad6ba2b@o450123.ingest.sentry.io/5512345"


def _jwt(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA_2O7"


SERVICE_JWT = _jwt({"iss": "supabase", "role": "service_role"})
ANON_JWT = _jwt({"iss": "supabase", "role": "anon"})
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7VJTUt9Us8cKjMzEfYyjiWA4R4\n-----END RSA PRIVATE KEY-----"


def _found(text: str, context: Context = Context.TEXT) -> list[tuple[SecretKind, str]]:
    return [(m.kind, m.value(text)) for m in find_secrets(text, context)]


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (OPENAI, SecretKind.OPENAI_KEY),
        (OPENAI_LEGACY, SecretKind.OPENAI_KEY),
        (ANTHROPIC, SecretKind.ANTHROPIC_KEY),
        (AWS_ID, SecretKind.AWS_ACCESS_KEY_ID),
        (AWS_SESSION_ID, SecretKind.AWS_ACCESS_KEY_ID),
        (GITHUB, SecretKind.GITHUB_TOKEN),
        (GITHUB_PAT, SecretKind.GITHUB_TOKEN),
        (STRIPE, SecretKind.STRIPE_SECRET_KEY),
        (STRIPE_RESTRICTED, SecretKind.STRIPE_SECRET_KEY),
        (SLACK, SecretKind.SLACK_TOKEN),
        (GOOGLE, SecretKind.GOOGLE_API_KEY),
        (HF, SecretKind.HUGGINGFACE_TOKEN),
        (SERVICE_JWT, SecretKind.JWT),
        (PEM, SecretKind.PRIVATE_KEY),
    ],
)
@pytest.mark.parametrize("wrap", ["{}", 'const k = "{}";', "Authorization: Bearer {}\n", "x={},y=1"])
def test_each_provider_shape_is_found_with_its_exact_span(secret: str, kind: SecretKind, wrap: str) -> None:
    text = wrap.format(secret)
    start = text.index(secret)
    assert find_secrets(text) == [SecretMatch(kind, start, start + len(secret))]


def test_pem_block_inside_a_js_string_with_escaped_newlines() -> None:
    escaped = PEM.replace("\n", "\\n")
    text = f'let c="{escaped}";'
    assert _found(text) == [(SecretKind.PRIVATE_KEY, escaped)]


def test_pem_header_without_end_marker_is_still_a_private_key() -> None:
    text = "key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"
    assert _found(text) == [(SecretKind.PRIVATE_KEY, "-----BEGIN OPENSSH PRIVATE KEY-----")]


def test_aws_secret_key_only_next_to_its_name() -> None:
    assert _found(f'aws_secret_access_key = "{AWS_SECRET}"') == [(SecretKind.AWS_SECRET_KEY, AWS_SECRET)]
    assert _found(f"{{secretAccessKey:'{AWS_SECRET}'}}") == [(SecretKind.AWS_SECRET_KEY, AWS_SECRET)]
    # the same 40 characters without the name are just a base64 string (a hash, a nonce)
    assert _found(f'const digest = "{AWS_SECRET}";') == []


def test_password_inside_a_url() -> None:
    text = "DATABASE_URL=postgres://shop:Hunter2-Prod@db.internal:5432/shop"
    assert _found(text) == [(SecretKind.URL_PASSWORD, "Hunter2-Prod")]
    assert _found("postgres://shop:password@localhost/shop") == []


@pytest.mark.parametrize(
    "text",
    [
        STRIPE_PK,  # publishable by design
        "pk_test_EQ7wjJJibaZUPgHV7iB3m03n",
        "const taskId = 'task-Abcdefghij1234567890xyz';",  # `sk-` inside a word
        "sk-proj-xxxxxxxxxxxxxxxxxxxxxxxx",  # placeholder
        "sk-your-openai-api-key-goes-here",  # no digit: prose, not a key
        "AKIAIOSFODNN7EXAMPLE",  # AWS's documentation key
        "AKIAMVN4A4WFHYM4L1VFX",  # 17 characters after AKIA: part of a longer token
        "ghp_short",
        ANON_JWT,  # Supabase anon key
        "eyJhbGciOi.eyJub3Rqc29u.abcdefghijklmnopqrstu",  # JWT-shaped, payload not JSON
        _jwt({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}),  # jwt.io's sample
        f'apiKey:"{GOOGLE}",authDomain:"shop.firebaseapp.com"',  # Firebase web config
        "sha256-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # bare high entropy
        SENTRY_DSN,
        POSTHOG,
    ],
)
def test_near_misses_are_not_secrets(text: str) -> None:
    assert find_secrets(text) == []


def test_anthropic_key_is_not_also_an_openai_key() -> None:
    assert _found(ANTHROPIC) == [(SecretKind.ANTHROPIC_KEY, ANTHROPIC)]


def test_several_secrets_in_one_text_in_position_order() -> None:
    text = f"a={STRIPE} b={AWS_ID} c={OPENAI}"
    assert _found(text) == [
        (SecretKind.STRIPE_SECRET_KEY, STRIPE),
        (SecretKind.AWS_ACCESS_KEY_ID, AWS_ID),
        (SecretKind.OPENAI_KEY, OPENAI),
    ]


def test_password_assignments_count_only_in_env_context() -> None:
    text = "DB_PASSWORD=Tr0ub4dor&3xyz\nSESSION_SECRET='q7Vb2-Lk9mZx-44Rt'\nAPI_TOKEN=changeme\nSITE=Acme\n"
    assert _found(text) == []
    assert _found(text, Context.ENV) == [
        (SecretKind.PASSWORD_ASSIGNMENT, "Tr0ub4dor&3xyz"),
        (SecretKind.PASSWORD_ASSIGNMENT, "q7Vb2-Lk9mZx-44Rt"),
    ]


def test_env_context_reports_a_provider_key_by_its_provider_not_as_an_assignment() -> None:
    text = f"OPENAI_API_KEY={OPENAI}\nREDIS_PASSWORD=${{REDIS_PASS}}\nSTRIPE_PUBLISHABLE_KEY={STRIPE_PK}\n"
    assert _found(text, Context.ENV) == [(SecretKind.OPENAI_KEY, OPENAI)]


@pytest.mark.parametrize(
    ("value", "name", "reason"),
    [
        (STRIPE_PK, None, "Stripe publishable key"),
        (POSTHOG, None, "PostHog project API key"),
        (SENTRY_DSN, None, "Sentry DSN"),
        (ANON_JWT, None, "Supabase anon key"),
        (GOOGLE, "NEXT_PUBLIC_FIREBASE_API_KEY", "Firebase web API key"),
        ("0aee0ca923732881584d8c4fa2815d28", "ALGOLIA_SEARCH_API_KEY", "Algolia search-only API key"),
        ("0aee0ca923732881584d8c4fa2815d28", "ALGOLIA_ADMIN_SEARCH_KEY", None),
        (GOOGLE, "GOOGLE_API_KEY", None),
        (SERVICE_JWT, None, None),
        (STRIPE, None, None),
    ],
)
def test_publishable_reason(value: str, name: str | None, reason: str | None) -> None:
    assert publishable_reason(value, name) == reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("STRIPE_PUBLISHABLE_KEY", "Stripe publishable key"),
        ("posthogKey", "PostHog project API key"),
        ("SENTRY_DSN", "Sentry DSN"),
        ("supabaseAnonKey", "Supabase anon key"),
        ("FIREBASE_API_KEY", "Firebase web config"),
        ("FIREBASE_PRIVATE_KEY", None),
        ("RECAPTCHA_SITE_KEY", "CAPTCHA site key"),
        ("VAPID_PUBLIC_KEY", "public half of a key pair"),
        ("STRIPE_SECRET_KEY", None),
    ],
)
def test_publishable_name_reason(name: str, reason: str | None) -> None:
    assert publishable_name_reason(name) == reason


def test_name_words_split_snake_and_camel_case() -> None:
    assert name_words("NEXT_PUBLIC_supabaseAnonKey") == ["NEXT", "PUBLIC", "SUPABASE", "ANON", "KEY"]


@pytest.mark.parametrize("value", ["changeme", "<your key>", "${SECRET}", "xxxxxxxx", "aaaaaaaaaaaa", "your-api-key"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


# ---- properties ------------------------------------------------------------------------------------

_KEY_BODY = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=40, max_size=60)
_FILLER = st.text(alphabet=" \n;,(){}[]=:\"'`+-*/!?<>.abcdefghijklmnopqrstuvwxyz", max_size=200)


@settings(max_examples=150, deadline=None)
@given(before=_FILLER, body=_KEY_BODY, after=_FILLER)
def test_an_openai_key_between_arbitrary_code_is_found_exactly(before: str, body: str, after: str) -> None:
    key = "sk-proj-" + body + "9aZ"  # the suffix guarantees a digit and enough distinct characters
    # Token characters glued to the key make it part of a longer word; separate it as code would.
    text = f"{before} {key} {after}"
    start = len(before) + 1
    assert find_secrets(text) == [SecretMatch(SecretKind.OPENAI_KEY, start, start + len(key))]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_matches_are_sorted_in_bounds_and_disjoint_for_any_text(text: str) -> None:
    for context in (Context.TEXT, Context.ENV):
        matches = find_secrets(text, context)
        assert all(0 <= m.start < m.end <= len(text) for m in matches)
        assert all(a.end <= b.start for a, b in itertools.pairwise(matches))


def test_a_provider_key_used_as_a_url_password_is_reported_once_as_the_provider_key() -> None:
    text = f"https://proxy:{OPENAI}@llm.internal/v1"
    assert _found(text) == [(SecretKind.OPENAI_KEY, OPENAI)]


def test_a_deeply_nested_jwt_payload_is_not_a_crash() -> None:
    nested = base64.urlsafe_b64encode(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}").decode().rstrip("=")
    assert find_secrets(f"eyJhbGciOiJIUzI1NiJ9.{nested}.abcdefghijklmnopqrstuv") == []
