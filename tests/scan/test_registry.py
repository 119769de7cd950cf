"""The rule registry is data; this one test file checks that every rule is complete: a module, a doc page
with the five sections, a vulnerable and a safe fixture, and references in every framework."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from leakline.scan.rules import available_rule_ids, load_rule, registry
from leakline.scan.rules.base import Rule
from leakline.scan.rules.docs import rule_doc
from tests.conftest import REPO

RULE_IDS = sorted(registry())
SECTIONS = ("## What", "## Why", "## Example", "## Fix", "## References")


def test_ids_are_stable_and_contiguous() -> None:
    assert [f"LL{n:03d}" for n in range(1, 21)] == RULE_IDS
    names = [meta.name for meta in registry().values()]
    assert len(set(names)) == len(names)


def test_every_registered_rule_has_a_module() -> None:
    assert available_rule_ids() == RULE_IDS


def test_the_registry_schedules_each_rule_as_its_class_declares() -> None:
    """The engine reads `per_file` and `uses_llm_routes` from the registry, before importing rule modules."""
    scheduled = {rule_id: (meta.per_file, meta.uses_llm_routes) for rule_id, meta in registry().items()}
    declared = {rule_id: (rule.per_file, rule.uses_llm_routes) for rule_id in RULE_IDS for rule in [load_rule(rule_id)]}
    assert scheduled == declared
    assert sorted(rule_id for rule_id, (per_file, _) in scheduled.items() if per_file) == [
        "LL007",
        "LL008",
        "LL010",
        "LL011",
        "LL012",
        "LL014",
        "LL015",
    ]
    assert sorted(rule_id for rule_id, (_, routes) in scheduled.items() if routes) == ["LL006", "LL013"]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_is_complete(rule_id: str) -> None:
    rule = load_rule(rule_id)
    assert isinstance(rule, Rule) and rule.meta.id == rule_id
    doc = rule_doc(rule_id)
    assert doc is not None, f"docs/rules/{rule_id}.md is missing"
    assert doc.startswith(f"# {rule_id}: ")
    positions = [doc.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions), f"{rule_id} doc lacks one of {SECTIONS}"
    assert positions == sorted(positions), f"{rule_id} doc sections are out of order"
    references = doc[positions[-1] :]
    assert re.search(r"https?://", references), f"{rule_id} doc cites no URL"
    refs = rule.meta.references
    assert refs.owasp_llm and all(r.startswith("LLM") and ":2025 " in r for r in refs.owasp_llm)
    assert refs.cwe and all(re.fullmatch(r"CWE-\d+", c) for c in refs.cwe)
    assert refs.nist_ai_rmf and all(re.match(r"(GOVERN|MAP|MEASURE|MANAGE) \d+\.\d+", n) for n in refs.nist_ai_rmf)
    assert refs.iso27001 and all(re.match(r"A\.[5-8]\.\d+ ", i) for i in refs.iso27001)
    assert refs.urls
    fixtures = REPO / "tests" / "fixtures" / "rules" / rule_id
    assert (fixtures / "vulnerable").is_dir() and (fixtures / "safe").is_dir()


def test_docs_folder_points_at_the_packaged_pages() -> None:
    for rule_id in RULE_IDS:
        assert (REPO / "docs" / "rules" / f"{rule_id}.md").read_text(encoding="utf-8") == rule_doc(rule_id)


def test_rules_command_lists_and_documents(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli("rules")
    assert code == 0 and all(rule_id in out for rule_id in RULE_IDS)
    code, out, _ = cli("rules", "ll007")
    assert code == 0 and "LL007" in out and "Fix" in out
    code, _, err = cli("rules", "LL099")
    assert code == 2 and "unknown rule 'LL099'" in err
