"""Writing small Next.js apps for scan tests: package.json, a tsconfig with the `@/*` alias, and files."""

from __future__ import annotations

import json
from pathlib import Path

PACKAGE = {"dependencies": {"next": "15.2.4", "openai": "4.77.0"}}
TSCONFIG = {"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}


def write_app(root: Path, files: dict[str, str], *, package: dict[str, object] | None = None) -> Path:
    (root / "package.json").write_text(json.dumps(PACKAGE if package is None else package))
    (root / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
