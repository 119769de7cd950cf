"""LL007: LLM data (prompts, outputs, values derived from them) reaching a log or telemetry sink.

Also when the sink is one step away: LLM data passed to a project function (declared in the same module
or imported) that writes that parameter to a log is reported at the call, naming the function's sink.
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.llmdata import FileLlm, cannot_carry_llm_data, parameters, pattern_names
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.sinks import SINK_KEYWORDS, Sink, classify_sink, sentry_named_imports


def _sinks(ctx: ScanContext, f: SourceFile, within: Node) -> list[tuple[Node, Sink]]:
    if not any(keyword in f.data() for keyword in SINK_KEYWORDS):
        return []
    sentry = sentry_named_imports([(i.local, i.imported, i.source) for i in ctx.index.imports_of(f)])
    out = []
    for node in f.nodes_in(within, "call_expression"):
        sink = classify_sink(node, sentry)
        if sink is not None and not all(cannot_carry_llm_data(arg) for arg in sink.payload):
            out.append((node, sink))
    return out


def _rest_index(fn: Node) -> int | None:
    """Index of a trailing `...rest` parameter, which receives every argument from there on."""
    params = parameters(fn)
    if not params:
        return None
    last = params[-1]
    pattern = last.child_by_field_name("pattern") if last.type in ("required_parameter", "optional_parameter") else last
    return len(params) - 1 if pattern is not None and pattern.type == "rest_pattern" else None


class _LoggingHelpers:
    """Which parameters of a project function reach a log sink inside it: (sink name, path, line) by index."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self._cache: dict[tuple[str, int], dict[int, tuple[str, str, int]]] = {}

    def logged_params(self, f: SourceFile, fn: Node) -> dict[int, tuple[str, str, int]]:
        key = (f.rel, fn.id)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._logged_params(f, fn)
        return cached

    def _logged_params(self, f: SourceFile, fn: Node) -> dict[int, tuple[str, str, int]]:
        sinks = _sinks(self.ctx, f, fn)
        if not sinks:
            return {}
        own = self.ctx.llm.file(f)
        out: dict[int, tuple[str, str, int]] = {}
        for i, param in enumerate(parameters(fn)):
            probe = self.ctx.llm.probe(f, fn, frozenset(pattern_names(param)))
            if probe is None:
                continue
            for node, sink in sinks:
                # Only what the parameter brings: data the helper logs on its own is reported there.
                if any(probe.is_llm(arg) and not (own is not None and own.is_llm(arg)) for arg in sink.payload):
                    out[i] = (sink.name, f.rel, node.start_point[0] + 1)
                    break
        return out


class LlmDataLogged(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        helpers = _LoggingHelpers(ctx)
        for f in ctx.targets:
            if not ctx.llm.may_hold_llm_data(f) or f.root is None:
                continue
            llm: FileLlm | None = None
            for node, sink in _sinks(ctx, f, f.root):
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
            yield from self._passed_to_helpers(ctx, f, helpers)

    def _passed_to_helpers(self, ctx: ScanContext, f: SourceFile, helpers: _LoggingHelpers) -> Iterable[Hit]:
        llm = ctx.llm.file(f)
        if llm is None:
            return
        for call in llm.project_calls():
            targets = llm.callee_functions(call)
            if not targets:
                continue
            args = call.child_by_field_name("arguments")
            values = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            for target_file, fn in targets:
                logged = helpers.logged_params(target_file, fn)
                if not logged:
                    continue
                rest = _rest_index(fn)
                slots = [min(i, rest) if rest is not None else i for i in range(len(values))]
                hit = next(
                    (slot for slot, arg in zip(slots, values, strict=True) if slot in logged and llm.is_llm(arg)), None
                )
                if hit is None:
                    continue
                sink, path, sink_line = logged[hit]
                callee = ((call.child_by_field_name("function") or call).text or b"").decode(errors="replace")
                line, column = call.start_point
                yield Hit(
                    path=f.rel,
                    line=line + 1,
                    column=column + 1,
                    message=(
                        f"LLM data (prompt or model output) is passed to {callee}(), which writes it to "
                        f"{sink} ({path}:{sink_line})"
                    ),
                    evidence=f"{callee}(…) → {sink}(…)",
                    key=f"{callee}->{sink}",
                )
                break


RULE_CLASS = LlmDataLogged
