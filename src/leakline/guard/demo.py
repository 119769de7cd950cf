"""`leakline serve --demo`: the gateway on embedded defaults, in front of a scripted upstream that leaks.

Everything lives in a fresh directory under the system temp dir: a leakline.toml, an audit key and
per-region audit logs, a SQLite database for incidents, the protected corpus (the demo system
prompt), a generated client key and a generated incident API token (each written to a 0600 file,
never printed). The configuration names a fictitious shop with an EU establishment (`[organisation]`),
so that the incidents the demo opens are assessed: who must be told, by when. The scripted upstream
(`leakline.guard.upstream`) runs on 127.0.0.1 in the same process. The banner says, in capitals,
that this is a demo, shows the requests that make it redact, block, and refuse on residency, how to
read the incidents over the API, and that reading the audit log prints what was leaked in clear.
"""

from __future__ import annotations

import hashlib
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
    api_token_file: Path
    upstream: UpstreamThread


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _upstream_not_on(port: int | None) -> UpstreamThread:
    """The scripted upstream on a port the system picks, never `port` (which the gateway is about to bind:
    a port the system hands out is free until bound, and may be the one the gateway was given)."""
    upstream = UpstreamThread().start()
    while upstream.port == port:
        replacement = UpstreamThread().start()
        upstream.stop()
        upstream = replacement
    return upstream


def prepare(directory: Path | None = None, *, gateway_port: int | None = None) -> DemoSetup:
    """Write the demo's files and start the scripted upstream; return where everything is."""
    from leakline.audit.keys import generate_key_file

    root = directory or Path(tempfile.mkdtemp(prefix="leakline-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    upstream = _upstream_not_on(gateway_port)
    generate_key_file(root / "audit.key")
    (root / "system-prompt.txt").write_text(PROTECTED_PARAGRAPH + "\n", encoding="utf-8")
    client_key = "sk-demo-" + secrets.token_urlsafe(24)
    key_file = _private_file(root / "client.key", client_key)
    api_token = secrets.token_urlsafe(32)
    api_token_file = _private_file(root / "api.token", api_token)
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

# A fictitious shop: with an establishment, each incident is assessed (who must be told, by when).
[organisation]
name = "Demo Shop GmbH (fictitious)"
establishments = ["DE"]
sector = "online-marketplace"
size = "small"

# The incident API's token (in api.token beside this file): its SHA-256 only.
[api]
tokens_sha256 = ["{hashlib.sha256(api_token.encode()).hexdigest()}"]
""",
        encoding="utf-8",
    )
    return DemoSetup(root, config, key_file, api_token_file, upstream)


def _private_file(path: Path, secret: str) -> Path:
    """`secret` in a new file only its owner can read (created with the mode, not chmod-ed after)."""
    path.touch(mode=KEY_FILE_MODE)
    path.write_text(secret + "\n", encoding="utf-8")
    return path


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
        f"       leakline incident show ID --config {setup.config}   (who must be told, by when)",
        f" Incident API, token in {setup.api_token_file} (mode 0600):",
        f'   curl -s {base}/api/v1/incidents -H "authorization: Bearer $(cat {setup.api_token_file})"',
        " Audit log:",
        f"   leakline audit show {setup.directory / 'audit-eu'} --key {setup.directory / 'audit.key'}",
        "   CAUTION: audit show DECRYPTS the log and prints the prompts and the model's output UNREDACTED",
        "   (the demo's card numbers, its PEM private key): what the gateway kept from the client, in clear.",
        "=" * 78,
    ]
    return "\n".join(lines)


def start_demo(host: str, port: int) -> Path:
    """Prepare the demo, print its banner on stderr, and return the leakline.toml to serve."""
    import sys

    setup = prepare(gateway_port=port)
    sys.stderr.write(banner(setup, host, port) + "\n")
    return setup.config
