"""The text report's summary table: one row per rule, with the severities its findings carry."""

from __future__ import annotations

from pathlib import Path

from leakline.reports import text as text_report
from leakline.scan.engine import scan


def _row(report: str, rule: str) -> str:
    [row] = [line for line in report.splitlines() if line.startswith(f"│ {rule} ")]
    return row


def test_a_rule_row_shows_its_findings_severity_not_the_rules_default(tmp_path: Path) -> None:
    """LL016 defaults to high; the App Router advisory it reports for next 15.0.0 is critical."""
    (tmp_path / "package.json").write_text('{"dependencies":{"next":"15.0.0"}}', encoding="utf-8")
    (tmp_path / "app").mkdir()
    (tmp_path / "app/page.tsx").write_text("export default function Page() { return null }\n", encoding="utf-8")
    result = scan(tmp_path, rule_ids=["LL016"])
    assert [(f.rule, f.severity.value) for f in result.active] == [("LL016", "critical")]
    cells = [cell.strip() for cell in _row(text_report.render(result), "LL016").split("│")]
    assert cells[3:5] == ["critical", "1"]


def test_several_severities_are_listed_highest_first(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"dependencies":{"next":"15.5.16"}}', encoding="utf-8")
    (tmp_path / ".env").write_text(
        "NEXT_PUBLIC_OPENAI_API_KEY=sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs\n"
        "NEXT_PUBLIC_SIGNING_SECRET=your-secret-here\n",
        encoding="utf-8",
    )
    result = scan(tmp_path, rule_ids=["LL003"])
    assert sorted(f.severity.value for f in result.active) == ["critical", "high"]
    cells = [cell.strip() for cell in _row(text_report.render(result), "LL003").split("│")]
    assert cells[3:5] == ["critical, high", "2"]
