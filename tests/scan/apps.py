"""Writing small Next.js apps for scan tests: package.json, a tsconfig with the `@/*` alias, and files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakline.scan.index import ProjectIndex

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


def assert_dropped_files_hold_no_llm_data(index: ProjectIndex) -> None:
    """The byte prefilter's soundness: a file it drops is never analysed by the LLM-data rules, so none of its
    arguments or returned values may be LLM data."""
    from leakline.scan import parse as ts
    from leakline.scan.context import ScanContext

    ctx = ScanContext(index)
    for f in index.sources:
        if f.root is None or f.language is None or f.rel in index.llm_candidates:
            continue
        llm = ctx.llm.file(f)
        assert llm is not None
        for node in ts.nodes_of_types(f.language, ("call_expression", "return_statement"), f.root):
            for child in node.named_children:
                for arg in child.named_children if child.type == "arguments" else [child]:
                    assert not llm.is_llm(arg), (f.rel, arg.start_point)


def app_index(app: Path) -> ProjectIndex:
    from leakline.configfile import ScanAppSettings
    from leakline.scan.engine import build_index
    from leakline.scan.walker import WalkStats

    return build_index(app, ScanAppSettings(), WalkStats(), set())


def rule_lines(app: Path, rule: str = "LL007") -> list[tuple[str, int]]:
    """(path, line) of each finding of `rule` in `app`, sorted, once the prefilter has been checked sound there."""
    from leakline.scan.engine import scan

    assert_dropped_files_hold_no_llm_data(app_index(app))
    result = scan(app, rule_ids=[rule], jobs=1)
    assert result.stats.rule_errors == []
    return sorted((f.path, f.line) for f in result.findings if f.rule == rule)
