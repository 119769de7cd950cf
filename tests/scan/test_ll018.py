"""LL018 edge cases beyond the fixture pair: IPv6, 0.0.0.0, uppercase schemes, axios and AI SDK providers,
property assignments, URLs with credentials (never shown), run-time hosts; and what a finding shows of the
endpoint: scheme, the kind of host and the port, never the internal address."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.findings import Finding, fingerprint
from leakline.scan.baseline import write_baseline
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
        (".env.production", 1, "OLLAMA_HOST=http://[fd00:…]:11434"),
        (".env.production", 3, "VLLM_URL=http://….lan:8000"),
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
        (3, 46, "http://10.…:8000"),
        (5, 19, "http://….lan"),
        (6, 47, "http://10.…:8000"),
    ]


def test_message_and_evidence_show_the_kind_of_host_not_the_address(tmp_path: Path) -> None:
    """The scheme is the finding; the first octet (the private range), an IPv6 prefix or a host name's last label
    (`.lan`, `.internal`: the kind of network) and the port (which server: 11434 is Ollama) say what it is.
    The rest of the address, which says where the model server is, is never shown."""
    app = _app(
        tmp_path,
        {
            ".env": (
                "OLLAMA_HOST=http://10.77.31.9:11434\n"
                "LLM_BASE_URL=http://a100-node-7.corp.internal:8000/v1\n"
                "VLLM_URL=http://vllm-node:8000\n"
                "INFERENCE_URL=http://[fd12:3456::9]/v1/chat/completions\n"
                "MODEL_URL=http://[::ffff:192.168.44.20]:8080\n"
            ),
            "lib/llm.ts": "export const llmHost = 'http://172.18.9.41:11434';\n",
        },
    )
    plaintext = "is reached over plaintext HTTP; prompts and outputs travel unencrypted"
    assert [(f.path, f.line, f.message, f.evidence) for f in _findings(app)] == [
        (".env", 1, f"LLM endpoint http://10.…:11434 {plaintext}", "OLLAMA_HOST=http://10.…:11434"),
        (".env", 2, f"LLM endpoint http://….internal:8000 {plaintext}", "LLM_BASE_URL=http://….internal:8000"),
        (".env", 3, f"LLM endpoint http://…:8000 {plaintext}", "VLLM_URL=http://…:8000"),
        (".env", 4, f"LLM endpoint http://[fd12:…] {plaintext}", "INFERENCE_URL=http://[fd12:…]"),
        (".env", 5, f"LLM endpoint http://[::ffff:192.…]:8080 {plaintext}", "MODEL_URL=http://[::ffff:192.…]:8080"),
        ("lib/llm.ts", 1, f"LLM endpoint http://172.…:11434 {plaintext}", "http://172.…:11434"),
    ]
    from leakline.reports import json as json_report
    from leakline.reports import sarif as sarif_report
    from leakline.reports import text as text_report

    result = scan(app, rule_ids=["LL018"])
    for renderer in (json_report, sarif_report, text_report):
        shown = renderer.render(result)
        for address in ("77.31.9", "a100-node", "corp.internal", "vllm-node", "fd12:3456", "168.44", "18.9.41"):
            assert address not in shown, (renderer.__name__, address)


def test_fingerprints_hash_only_what_is_shown_and_old_baselines_still_match(tmp_path: Path) -> None:
    """A committed baseline holds fingerprints: one of the whole address (10.x.x.x times a few ports) could be
    brute-forced. The key is what the finding shows; a baseline written with the old key still suppresses it,
    and rewriting the baseline drops the old hash."""
    app = _app(
        tmp_path,
        {
            ".env": "OLLAMA_HOST=http://10.77.31.9:11434\n",
            "lib/llm.ts": 'export const base = "http://10.77.31.9:11434/v1/chat/completions";\n',
        },
    )
    findings = _findings(app)
    assert [(f.path, f.fingerprint) for f in findings] == [
        (".env", fingerprint("LL018", ".env", "OLLAMA_HOST http://10.…:11434")),
        ("lib/llm.ts", fingerprint("LL018", "lib/llm.ts", "http://10.…:11434")),
    ]
    old = [
        (".env", fingerprint("LL018", ".env", "OLLAMA_HOST http://10.77.31.9:11434")),
        ("lib/llm.ts", fingerprint("LL018", "lib/llm.ts", "http://10.77.31.9:11434")),
    ]
    baseline = tmp_path / "old-baseline.json"
    entries = [{"rule": "LL018", "path": path, "fingerprint": fp} for path, fp in old]
    baseline.write_text(json.dumps({"version": 1, "findings": entries}), encoding="utf-8")
    result = scan(app, rule_ids=["LL018"], baseline_path=baseline)
    assert [(f.path, f.suppressed) for f in result.findings] == [(".env", "baseline"), ("lib/llm.ts", "baseline")]

    write_baseline(baseline, result.findings, None)
    written = json.loads(baseline.read_text(encoding="utf-8"))["findings"]
    assert sorted(e["fingerprint"] for e in written) == sorted(f.fingerprint for f in findings)
    assert scan(app, rule_ids=["LL018"], baseline_path=baseline).active == []
