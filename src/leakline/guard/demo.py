"""`leakline serve --demo`: the gateway on embedded defaults, in front of a scripted upstream that leaks.

Everything lives in a fresh directory under the system temp dir: a leakline.toml, an audit key and
per-region audit logs, a SQLite database for incidents, the protected corpus (the demo system
prompt) and a generated client key (written to a 0600 file, never printed). The scripted upstream
(`leakline.guard.upstream`) runs on 127.0.0.1 in the same process. The banner says, in capitals,
that this is a demo and shows the requests that make it redact, block, and refuse on residency.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from leakline.guard.auth import key_digest
from leakline.guard.upstream import DEMO_CANARY, PROTECTED_PARAGRAPH, UpstreamThread

KEY_FILE_MODE = 0o600


@dataclass(frozen=True)
class DemoSetup:
    directory: Path
    config: Path
    key_file: Path
    upstream: UpstreamThread


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def prepare(directory: Path | None = None) -> DemoSetup:
    """Write the demo's files and start the scripted upstream; return where everything is."""
    from leakline.audit.keys import generate_key_file

    root = directory or Path(tempfile.mkdtemp(prefix="leakline-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    upstream = UpstreamThread().start()
    generate_key_file(root / "audit.key")
    (root / "system-prompt.txt").write_text(PROTECTED_PARAGRAPH + "\n", encoding="utf-8")
    client_key = "sk-demo-" + secrets.token_urlsafe(24)
    key_file = root / "client.key"
    key_file.touch(mode=KEY_FILE_MODE)
    key_file.write_text(client_key + "\n", encoding="utf-8")
    config = root / "leakline.toml"
    config.write_text(
        f"""# leakline DEMO configuration (generated; the upstream is scripted and leaks on purpose)
[gateway]
country_header = "x-vercel-ip-country"
trusted_proxies = ["127.0.0.1/32", "::1/128"]
on_missing_country = "eu"

[regions.eu]
upstream = {_toml_string(upstream.upstream_url)}
countries = ["DE", "FR", "NL", "AT", "BE", "ES", "IT"]
models = ["llama3.1:8b"]

[regions.us]
upstream = {_toml_string(upstream.upstream_url)}
countries = ["US", "CA"]

[[clients]]
name = "demo-storefront"
key_sha256 = "{key_digest(client_key)}"

[sanitize]
canaries = [{_toml_string(DEMO_CANARY)}]
protected_corpus = ["system-prompt.txt"]

[audit]
path = "audit"
key = "audit.key"

[audit.sinks.eu]
path = "audit-eu"

[audit.sinks.us]
path = "audit-us"

[database]
url = "sqlite:///leakline.db"
""",
        encoding="utf-8",
    )
    return DemoSetup(root, config, key_file, upstream)


def banner(setup: DemoSetup, host: str, port: int) -> str:
    base = f"http://{host}:{port}"
    curl = (
        f'curl -s {base}/v1/chat/completions -H "authorization: Bearer $(cat {setup.key_file})" '
        '-H "x-vercel-ip-country: DE" -H "content-type: application/json" '
        '-d \'{"model": "llama3.1:8b", "stream": true, "messages": [{"role": "user", "content": "WORD"}]}\''
    )
    lines = [
        "=" * 78,
        " LEAKLINE DEMO - NOT FOR PRODUCTION. The upstream model is a script that leaks on purpose.",
        "=" * 78,
        f" files (config, audit logs, incidents DB): {setup.directory}",
        f" client API key: in {setup.key_file} (mode 0600)",
        f" scripted upstream: {setup.upstream.upstream_url}",
        "",
        " Try (replace WORD):",
        f"   {curl}",
        "   WORD=email  -> the email split across three chunks comes back [REDACTED:EMAIL]",
        "   WORD=card   -> the card number split mid-group comes back [REDACTED:PAYMENT_CARD]",
        "   WORD=canary -> a base64 canary: the stream ends with finish_reason content_filter",
        "   WORD=corpus -> the system prompt verbatim: blocked",
        "   WORD=pem    -> a PEM private key: [REDACTED:SECRET]",
        "   x-vercel-ip-country: JP -> 451, residency refused",
        f" Then: leakline incident list --config {setup.config}",
        f"       leakline audit show {setup.directory / 'audit-eu'} --key {setup.directory / 'audit.key'}",
        "=" * 78,
    ]
    return "\n".join(lines)


def start_demo(host: str, port: int) -> Path:
    """Prepare the demo, print its banner on stderr, and return the leakline.toml to serve."""
    import sys

    setup = prepare()
    sys.stderr.write(banner(setup, host, port) + "\n")
    return setup.config
