"""The rule registry: metadata from `registry.toml`, one module per rule (`ll0NN.py` defining `RULE_CLASS`).

The registry is data. A rule module exists for every id in the registry; tests check that every
rule also has a doc page, a vulnerable and a safe fixture, and references.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from functools import cache
from importlib import resources

from leakline.findings import Confidence, References, Severity
from leakline.scan.errors import UnknownRuleError
from leakline.scan.rules.base import Rule, RuleMeta


@cache
def registry() -> dict[str, RuleMeta]:
    raw = tomllib.loads(resources.files(__package__).joinpath("registry.toml").read_text(encoding="utf-8"))
    out: dict[str, RuleMeta] = {}
    for rule_id, entry in raw.items():
        out[rule_id] = RuleMeta(
            id=rule_id,
            name=entry["name"],
            title=entry["title"],
            severity=Severity(entry["severity"]),
            common_severity=Severity(entry.get("common_severity", entry["severity"])),
            confidence=Confidence(entry["confidence"]),
            references=References(
                owasp_llm=tuple(entry.get("owasp_llm", ())),
                cwe=tuple(entry.get("cwe", ())),
                nist_ai_rmf=tuple(entry.get("nist_ai_rmf", ())),
                iso27001=tuple(entry.get("iso27001", ())),
                urls=tuple(entry.get("urls", ())),
            ),
            supersedes=tuple(entry.get("supersedes", ())),
            per_file=bool(entry.get("per_file", False)),
            uses_llm_routes=bool(entry.get("uses_llm_routes", False)),
        )
    return out


def module_name(rule_id: str) -> str:
    return f"leakline.scan.rules.{rule_id.lower()}"


def rule_meta(rule_id: str) -> RuleMeta:
    metas = registry()
    if rule_id not in metas:
        raise UnknownRuleError(f"unknown rule {rule_id!r}", hint=f"known rules: {', '.join(sorted(metas))}")
    return metas[rule_id]


def load_rule(rule_id: str) -> Rule:
    meta = rule_meta(rule_id)
    module = importlib.import_module(module_name(rule_id))
    rule_class: type[Rule] = module.RULE_CLASS
    return rule_class(meta)


def available_rule_ids() -> list[str]:
    """Ids whose module exists (all of them in a finished checkout), found without importing any: a rule's
    module is imported by `load_rule`, in the process that runs the rule."""
    return [rule_id for rule_id in sorted(registry()) if importlib.util.find_spec(module_name(rule_id)) is not None]
