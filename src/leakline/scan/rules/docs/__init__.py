"""Rule documentation pages (one Markdown file per rule; also reachable as docs/rules/ in the repository)."""

from __future__ import annotations

from importlib import resources


def rule_doc(rule_id: str) -> str | None:
    page = resources.files(__package__).joinpath(f"{rule_id}.md")
    if not page.is_file():
        return None
    return page.read_text(encoding="utf-8")
