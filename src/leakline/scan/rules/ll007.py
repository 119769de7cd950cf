"""LL007: LLM data (prompts, outputs, values derived from them) reaching a log or telemetry sink."""

from __future__ import annotations

from collections.abc import Iterable

from leakline.scan.context import ScanContext
from leakline.scan.llmdata import cannot_carry_llm_data
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.sinks import SINK_KEYWORDS, classify_sink, sentry_named_imports


class LlmDataLogged(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        for f in ctx.targets:
            data = f.data()
            if not any(keyword in data for keyword in SINK_KEYWORDS) or not ctx.llm.may_hold_llm_data(f):
                continue
            if f.root is None:
                continue
            imports = [(i.local, i.imported, i.source) for i in ctx.index.imports_of(f)]
            sentry = sentry_named_imports(imports)
            llm = None
            for node in f.nodes("call_expression"):
                sink = classify_sink(node, sentry)
                if sink is None or all(cannot_carry_llm_data(arg) for arg in sink.payload):
                    continue
                if llm is None:
                    llm = ctx.llm.file(f)
                    if llm is None:
                        break
                if any(llm.is_llm(arg) for arg in sink.payload):
                    line, column = node.start_point
                    yield Hit(
                        path=f.rel,
                        line=line + 1,
                        column=column + 1,
                        message=f"LLM data (prompt or model output) is written to {sink.name}",
                        evidence=sink.name + "(…)",
                        key=sink.name,
                    )


RULE_CLASS = LlmDataLogged
