"""LL018 edge cases beyond the fixture pair: IPv6, 0.0.0.0, uppercase schemes, axios and AI SDK providers,
property assignments, URLs with credentials (never shown), run-time hosts."""

from __future__ import annotations

from pathlib import Path

from leakline.findings import Finding
from leakline.scan.engine import scan

PACKAGE = '{"dependencies":{"next":"15.3.2"}}'


def _app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in {"package.json": PACKAGE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _findings(app: Path) -> list[Finding]:
    result = scan(app, rule_ids=["LL018"])
    assert result.stats.rule_errors == []
    return [f for f in result.findings if f.suppressed is None]


def test_env_values_ipv6_unspecified_and_credentials(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            ".env.production": (
                "OLLAMA_HOST=http://[fd00::5]:11434\n"
                "LLM_URL=http://0.0.0.0:8000/v1\n"
                "VLLM_URL=HTTP://proxy:S3cret-pw@gpu.lan:8000/v1\n"
            ),
        },
    )
    assert [(f.path, f.line, f.evidence) for f in _findings(app)] == [
        (".env.production", 1, "OLLAMA_HOST=http://[fd00::5]:11434"),
        (".env.production", 3, "VLLM_URL=http://gpu.lan:8000"),
    ]


def test_code_clients_and_http_calls(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "lib/ai.ts": (
                "import axios from 'axios';\n"
                "import { createOpenAI } from '@ai-sdk/openai';\n"
                "export const local = createOpenAI({ baseURL: 'http://10.1.2.3:8000/v1' });\n"
                "export const cfg: { llmEndpoint?: string } = {};\n"
                "cfg.llmEndpoint = 'http://inference-7.lan';\n"
                "export const post = (q: string) => axios.post('HTTP://10.1.2.4:8000/v1/chat/completions', { q });\n"
                "export const dynamic = (h: string) => fetch(`http://${h}:11434/api/generate`);\n"
                "export const loop = createOpenAI({ baseURL: 'http://127.0.0.1:8000/v1' });\n"
                "export const store = createOpenAI({ baseURL: 'https://10.1.2.3/v1' });\n"
                "export const other = new URL('http://10.1.2.3:8000/v1', 'x');\n"
            ),
        },
    )
    assert [(f.line, f.column, f.evidence) for f in _findings(app)] == [
        (3, 46, "http://10.1.2.3:8000"),
        (5, 19, "http://inference-7.lan"),
        (6, 47, "http://10.1.2.4:8000"),
    ]
