"""`leakline assess` and `leakline regimes` end to end: formats, stdin, --explain, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from leakline.obligations.cli_assess import app as assess_app
from leakline.obligations.cli_regimes import app as regimes_app
from leakline.obligations.regimes import REGIME_IDS
from tests.obligations.helpers import BASE

FACTS = {
    **BASE,
    "data": {
        "categories": ["identity", "payment-card"],
        "subjects": 600,
        "subjects_by_jurisdiction": {"DE": 100, "US-CA": 500},
    },
}
runner = CliRunner()


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FACTS))
    return path


def test_json_output_has_exactly_the_obligation_fields(tmp_path: Path) -> None:
    result = runner.invoke(assess_app, [str(_write(tmp_path)), "--format", "json", "--now", "2025-06-03T10:00:00Z"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["risk"] == "high"
    assert out["assessed_at"] == "2025-06-03T10:00:00Z"
    first = out["obligations"][0]
    assert set(first) == {
        "regime", "jurisdiction", "recipient", "authority", "required", "why", "due_at", "deadline", "basis", "content",
    }
    assert first["regime"] == "gdpr-33"
    assert first["due_at"] == "2025-06-05T10:00:00Z"
    dues = [o["due_at"] for o in out["obligations"] if o["due_at"]]
    assert dues == sorted(dues)
    assert {o["regime"] for o in out["obligations"]} <= set(REGIME_IDS)


def test_text_table_sorted_by_due_time_and_explain(tmp_path: Path) -> None:
    result = runner.invoke(assess_app, [str(_write(tmp_path)), "--now", "2025-06-03T10:00:00Z", "--explain"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "GDPR risk level: high" in text
    assert text.index("gdpr-33") < text.index("us-ca-1798-82")
    assert "in 48h" in text
    assert "source: https://eur-lex.europa.eu/eli/reg/2016/679/oj" in text
    assert "Did not apply" in text
    assert "sec-8k-1-05: not an SEC registrant" in text


def test_text_without_explain_hides_duties_that_do_not_arise(tmp_path: Path) -> None:
    result = runner.invoke(assess_app, [str(_write(tmp_path)), "--now", "2025-06-03T10:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "duties considered but not required; --explain shows why." in result.output


def test_regimes_lists_every_regime_with_sources_and_review_date() -> None:
    result = runner.invoke(regimes_app, ["--format", "json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert {rule["id"] for regime in listing for rule in regime["rules"]} == set(REGIME_IDS)
    assert all(regime["last_reviewed"] == "2026-11-26" for regime in listing)
    assert all(rule["source"].startswith("https://") for regime in listing for rule in regime["rules"])


def test_the_real_cli_reads_stdin_and_reports_bad_fields_with_exit_2() -> None:
    good = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "assess", "-", "--format", "json"],
        input=json.dumps(FACTS), capture_output=True, text=True, check=False, timeout=60,
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["risk"] == "high"
    bad = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "assess", "-"],
        input=json.dumps({**FACTS, "data": {**FACTS["data"], "subjects": "many"}}),
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: <stdin>: data.subjects: expected an integer, got 'many'"
    assert "Traceback" not in bad.stderr


def test_the_real_cli_lists_regimes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "regimes", "--format", "json"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 21


def test_toml_facts_and_a_bad_now(tmp_path: Path) -> None:
    path = tmp_path / "facts.toml"
    path.write_text(
        'aware_at = 2025-06-02T10:00:00Z\n[controller]\nestablishments = ["FR"]\n'
        '[breach]\ntypes = ["availability"]\n[data]\ncategories = ["identity"]\nsubjects = 2\n'
    )
    result = runner.invoke(assess_app, [str(path), "--format", "json", "--now", "2025-06-02T11:00:00Z"])
    assert result.exit_code == 0, result.output
    # Availability never restored (the default) is a permanent loss: limited severity x high likelihood.
    assert json.loads(result.output)["risk"] == "risk"
    naive = runner.invoke(assess_app, [str(path), "--now", "2025-06-02T11:00:00"])
    assert naive.exit_code != 0
    assert str(naive.exception) == "--now: expected a UTC offset (e.g. 2025-06-02T11:00:00+00:00)"


def test_a_directory_is_not_a_facts_file(tmp_path: Path) -> None:
    result = runner.invoke(assess_app, [str(tmp_path)])
    assert result.exit_code != 0
    assert str(result.exception).startswith(f"{tmp_path}: cannot read: ")


def test_explain_cites_the_processor_hop_source(tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps({**FACTS, "controller": {**FACTS["controller"], "role": "processor"}}))
    result = runner.invoke(assess_app, [str(path), "--explain", "--now", "2025-06-03T10:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "gdpr-33 EU → controller: required under GDPR Art. 33(2)" in result.output
    assert "source: https://leginfo.legislature.ca.gov/" in result.output
