"""Writing small Next.js apps for scan tests: package.json, a tsconfig with the `@/*` alias, and files."""

from __future__ import annotations

import json
from pathlib import Path

PACKAGE = {"dependencies": {"next": "15.2.4", "openai": "4.77.0"}}
TSCONFIG = {"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}


def write_app(root: Path, files: dict[str, str], *, package: dict[str, object] | None = None) -> Path:
    (root / "package.json").write_text(json.dumps(PACKAGE if package is None else package))
    (root / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    return write_files(root, files)


def write_files(root: Path, files: dict[str, str] | dict[str, object]) -> Path:
    """Each file under `root` (folders made): a string as it is, anything else as JSON."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return root
