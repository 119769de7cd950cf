"""LL003 edge cases beyond the fixture pair: placeholders in .env.example, inline suppression in .env files,
severity by evidence, camelCase/bracket/destructured reads, nested .env files that Next does not load."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.findings import Confidence, Finding, Severity
from leakline.scan.engine import scan

PACKAGE = '{"dependencies":{"next":"15.3.2"}}'
OPENAI = "sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs"


def _app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in {"package.json": PACKAGE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _findings(app: Path) -> list[Finding]:
    result = scan(app, rule_ids=["LL003"])
    assert result.stats.rule_errors == []
    return [f for f in result.findings if f.suppressed is None]


def test_example_env_file_with_a_placeholder_is_reported_by_name_with_lower_severity(tmp_path: Path) -> None:
    app = _app(tmp_path, {".env.example": "NEXT_PUBLIC_OPENAI_API_KEY=your-openai-key\nNEXT_PUBLIC_SITE=Acme\n"})
    [finding] = _findings(app)
    assert (finding.path, finding.line, finding.column) == (".env.example", 1, 1)
    assert (finding.severity, finding.confidence) == (Severity.HIGH, Confidence.MEDIUM)
    assert finding.message == "NEXT_PUBLIC_OPENAI_API_KEY is inlined into browser bundles (name contains KEY)"


def test_a_provider_key_is_critical_and_its_evidence_is_redacted(tmp_path: Path) -> None:
    app = _app(tmp_path, {".env.local": f'export NEXT_PUBLIC_BUILD_REF="{OPENAI}"\n'})
    [finding] = _findings(app)
    assert (finding.path, finding.line, finding.column) == (".env.local", 1, 8)
    assert (finding.severity, finding.confidence) == (Severity.CRITICAL, Confidence.HIGH)
    assert finding.evidence == "NEXT_PUBLIC_BUILD_REF=sk-…Llqs"
    assert OPENAI not in repr(finding.to_dict())


def test_an_internal_endpoint_is_shown_by_its_kind_of_host_and_port(tmp_path: Path) -> None:
    app = _app(tmp_path, {".env": "NEXT_PUBLIC_OLLAMA_URL=http://10.20.0.5:11434/api\nNEXT_PUBLIC_LLM_KEY=abc\n"})
    endpoint, key = _findings(app)
    assert (endpoint.path, endpoint.line, endpoint.severity) == (".env", 1, Severity.HIGH)
    # `redact` keeps a value's ends, which of an address are the parts naming the machine (`htt…/api`).
    assert endpoint.evidence == "NEXT_PUBLIC_OLLAMA_URL=http://10.…:11434"
    assert "20.0.5" not in repr(endpoint.to_dict())
    assert (key.line, key.evidence) == (2, "NEXT_PUBLIC_LLM_KEY=…")


def test_inline_suppression_in_an_env_file(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {".env": "# leakline-ignore LL003: demo key for the public sandbox\nNEXT_PUBLIC_DEMO_TOKEN=demo-1234-abcd\n"},
    )
    result = scan(app, rule_ids=["LL003"])
    assert [(f.path, f.line, f.suppressed) for f in result.findings] == [(".env", 2, "demo key for the public sandbox")]


def test_code_reads_in_every_form_are_reported_when_no_env_file_defines_them(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "src/app/page.tsx": (
                "export default function Page() {\n"
                "  const a = process.env.NEXT_PUBLIC_SHOP_SECRET;\n"
                "  const b = process.env['NEXT_PUBLIC_ORDERS_PASSWORD'];\n"
                "  const { NEXT_PUBLIC_LLM_URL: llm, NEXT_PUBLIC_SITE_NAME } = process.env;\n"
                "  return <p>{String(a && b && llm && NEXT_PUBLIC_SITE_NAME)}</p>;\n"
                "}\n"
            ),
        },
    )
    assert [(f.path, f.line, f.column, f.message) for f in _findings(app)] == [
        (
            "src/app/page.tsx",
            2,
            25,
            "process.env.NEXT_PUBLIC_SHOP_SECRET is inlined into browser bundles (name contains SECRET)",
        ),
        (
            "src/app/page.tsx",
            3,
            25,
            "process.env.NEXT_PUBLIC_ORDERS_PASSWORD is inlined into browser bundles (name contains PASSWORD)",
        ),
        (
            "src/app/page.tsx",
            4,
            11,
            "process.env.NEXT_PUBLIC_LLM_URL is inlined into browser bundles "
            "(name says it holds an LLM endpoint or setting)",
        ),
    ]


def test_env_files_below_the_app_root_are_not_loaded_by_next(tmp_path: Path) -> None:
    app = _app(tmp_path, {"config/.env": f"NEXT_PUBLIC_KEY={OPENAI}\n"})
    assert _findings(app) == []


def test_a_variable_defined_with_a_safe_value_is_not_reported_at_its_code_reads(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            ".env": "NEXT_PUBLIC_STRIPE_KEY=pk_live_EQ7wjJJibaZUPgHV7iB3m03n\n",
            "app/page.tsx": "export default () => <p>{process.env.NEXT_PUBLIC_STRIPE_KEY}</p>;\n",
        },
    )
    assert _findings(app) == []


def test_a_public_variable_that_expands_a_secret_one_is_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            ".env": (
                f"OPENAI_API_KEY={OPENAI}\n"
                "NEXT_PUBLIC_CHAT_CONFIG=${OPENAI_API_KEY}\n"
                "NEXT_PUBLIC_OPENAI_KEY=$OPENAI_API_KEY\n"
                "NEXT_PUBLIC_PRICE_LABEL=\\$OPENAI_API_KEY\n"
                "SHOP_NAME=Acme\n"
                "NEXT_PUBLIC_SHOP_NAME=${SHOP_NAME}\n"
            ),
        },
    )
    assert [(f.line, f.severity, f.message) for f in _findings(app)] == [
        (
            2,
            Severity.CRITICAL,
            "NEXT_PUBLIC_CHAT_CONFIG is inlined into browser bundles (copies OPENAI_API_KEY: OpenAI API key)",
        ),
        (
            3,
            Severity.CRITICAL,
            "NEXT_PUBLIC_OPENAI_KEY is inlined into browser bundles (copies OPENAI_API_KEY: OpenAI API key)",
        ),
    ]


def test_no_secret_of_the_secret_rules_fixtures_ever_reaches_a_finding() -> None:
    from leakline.detectors.secrets import Context, find_secrets

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
    for rule in ("LL003", "LL004", "LL005"):
        app = fixtures / rule / "vulnerable"
        secrets: set[str] = set()
        for path in app.rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                secrets.update(m.value(text) for m in find_secrets(text, Context.ENV))
        assert secrets, rule
        result = scan(app, rule_ids=["LL003", "LL004", "LL005", "LL018"])
        shown = json.dumps([f.to_dict() for f in result.findings])
        assert [s for s in secrets if s in shown] == []


def test_names_that_sound_secret_with_plainly_harmless_values_are_not_findings(tmp_path: Path) -> None:
    from leakline.scan.engine import scan

    (tmp_path / "package.json").write_text('{"dependencies": {"next": "15.2.4"}}')
    (tmp_path / ".env").write_text(
        "NEXT_PUBLIC_TOKEN_LIMIT=4096\n"
        "NEXT_PUBLIC_PASSWORD_MIN_LENGTH=12\n"
        "NEXT_PUBLIC_CSRF_TOKEN_HEADER=x-csrf-token\n"
        "NEXT_PUBLIC_SECRET_SANTA_ENABLED=true\n"
        "NEXT_PUBLIC_API_TOKEN=tok_4f8a2c6e1b9d3f7a5c0e8b2d\n"
    )
    assert [(f.rule, f.path, f.line) for f in scan(tmp_path, rule_ids=["LL003"]).findings] == [("LL003", ".env", 5)]


GOOGLE = "AIzaSyBwq1Vd3kYh7pN5x2LmQe8rTuZc0aFgHjK"


def test_a_google_key_is_publishable_only_when_the_name_says_maps(tmp_path: Path) -> None:
    """The reviewer's NEXT_PUBLIC_GOOGLE_MAPS_API_KEY=AIza… was reported critical; Maps JavaScript keys are browser
    keys by design. A bare GOOGLE_API_KEY may be a Gemini key and stays critical, with a hint."""
    env = (
        f"NEXT_PUBLIC_GOOGLE_MAPS_API_KEY={GOOGLE}\n"
        f"NEXT_PUBLIC_PLACES_KEY={GOOGLE}\n"
        f"NEXT_PUBLIC_googleGeocodingKey={GOOGLE}\n"
        f"NEXT_PUBLIC_GOOGLE_API_KEY={GOOGLE}\n"
        f"NEXT_PUBLIC_GOOGLE_MAPS_SERVER_KEY={GOOGLE}\n"
        f"NEXT_PUBLIC_GEMINI_API_KEY={GOOGLE}\n"
    )
    code = (
        "export default function Map() {\n"
        "  return <p>{process.env.NEXT_PUBLIC_GOOGLE_MAPS_KEY}{process.env.NEXT_PUBLIC_GOOGLE_KEY}</p>;\n"
        "}\n"
    )
    app = _app(tmp_path, {".env": env, "app/map/page.tsx": code})
    found = [(f.path, f.line, f.severity, f.message) for f in _findings(app)]
    hint = (
        "; a Google Maps Platform key restricted by HTTP referrer is a browser key: name it …_MAPS_API_KEY (or "
        "PLACES / GEOCODING) and it is not reported"
    )
    assert found == [
        (
            ".env",
            4,
            Severity.CRITICAL,
            f"NEXT_PUBLIC_GOOGLE_API_KEY is inlined into browser bundles (Google API key{hint})",
        ),
        (
            ".env",
            5,
            Severity.CRITICAL,
            f"NEXT_PUBLIC_GOOGLE_MAPS_SERVER_KEY is inlined into browser bundles (Google API key{hint})",
        ),
        (
            ".env",
            6,
            Severity.CRITICAL,
            f"NEXT_PUBLIC_GEMINI_API_KEY is inlined into browser bundles (Google API key{hint})",
        ),
        (
            "app/map/page.tsx",
            2,
            Severity.HIGH,
            "process.env.NEXT_PUBLIC_GOOGLE_KEY is inlined into browser bundles (name contains KEY)",
        ),
    ]


def test_prompt_names_end_in_prompt_or_say_system_prompt(tmp_path: Path) -> None:
    """The reviewer's NEXT_PUBLIC_PROMPT_SUGGESTIONS=Track my order|… was reported as a (system) prompt."""
    names = [
        ("SYSTEM_PROMPT", True),
        ("SUPPORT_BOT_SYSTEM_PROMPT", True),
        ("SYSTEM_PROMPT_EN", True),
        ("CHAT_PROMPT", True),
        ("CHAT_PROMPT_V2", True),
        ("PROMPT_DE", True),
        ("PROMPT_TEMPLATE", True),
        ("ASSISTANT_INSTRUCTIONS", True),
        ("systemPrompt", True),
        ("PROMPT_SUGGESTIONS", False),
        ("PROMPT_PLACEHOLDER", False),
        ("PROMPT_MAX_LENGTH", False),
        ("PROMPTS_ENABLED", False),
        ("INSTRUCTIONS_URL", False),
    ]
    env = "".join(f'NEXT_PUBLIC_{name}="Track my order|Return an item"\n' for name, _ in names)
    app = _app(tmp_path, {".env": env})
    expected = [
        (n, f"NEXT_PUBLIC_{name} is inlined into browser bundles (name says it holds a (system) prompt)")
        for n, (name, prompt) in enumerate(names, start=1)
        if prompt
    ]
    assert [(f.line, f.message) for f in _findings(app)] == expected
