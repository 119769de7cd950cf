"""LL007: LLM data (prompts, outputs, values derived from them) reaching a log or telemetry sink.

Also the AI SDK's own telemetry: an AI SDK call whose `experimental_telemetry` is enabled records its prompt
and output into OpenTelemetry spans unless told not to; it is reported at the option.

Also when the sink is in a project function: LLM data passed to a function (declared in the same module or
imported) that writes that parameter to a log, itself or through the functions it passes it to, is reported
at the call, naming the sink it reaches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tree_sitter import Node

from leakline.scan.chains import ChainCache
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.llmdata import FileLlm, cannot_carry_llm_data, parameters, pattern_names
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.sinks import (
    SINK_KEYWORDS,
    SINK_LAST_NAMES,
    TELEMETRY_OPTION,
    Loggers,
    Sink,
    ai_sdk_telemetry,
    argument_shape,
    classify_sink,
    enclosing_function_name,
    file_loggers,
    sentry_named_imports,
    sink_key,
)


def _sinks(
    ctx: ScanContext, f: SourceFile, within: Node, loggers_of: Callable[[SourceFile], Loggers]
) -> list[tuple[Node, Sink]]:
    if not any(keyword in f.data() for keyword in SINK_KEYWORDS):
        return []
    loggers = loggers_of(f)  # (reads the modules `f` imports: not for files without a sink keyword)
    sentry = sentry_named_imports([(i.local, i.imported, i.source) for i in ctx.index.imports_of(f)])
    out = []
    last_names = f.call_last_names
    for node in f.nodes_in(within, "call_expression"):
        # `classify_sink`'s first test, without a call per call of the file (most are no sink).
        if node.id in last_names:
            last = last_names[node.id]
            if last is None or (last not in SINK_LAST_NAMES and last not in sentry):
                continue
        sink = classify_sink(node, sentry, last_names, loggers)
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


MAX_HELPER_DEPTH = 4
"""How many project functions deep a parameter is followed to a log sink (`audit(x)` → `log(x)` → console)."""


SinkSite = tuple[str, str, int]
"""(sink name, path, line) of the log call a parameter reaches."""


def _arguments(call: Node) -> list[Node]:
    args = call.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type != "comment"] if args is not None else []


def _logged_slot(
    fn: Node, values: list[Node], logged: dict[int, SinkSite], carries: Callable[[Node], bool]
) -> int | None:
    """The first argument position whose value `carries` LLM data into a logged parameter of `fn`."""
    rest = _rest_index(fn)
    for i, arg in enumerate(values):
        slot = min(i, rest) if rest is not None else i
        if slot in logged and carries(arg):
            return slot
    return None


class _LoggingHelpers:
    """Which parameters of a project function reach a log sink, inside it or through the project functions
    it passes them to (up to `MAX_HELPER_DEPTH` deep): the sink reached, by parameter index."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self._chain: ChainCache[dict[int, SinkSite]] = ChainCache(MAX_HELPER_DEPTH, {})
        self._loggers: dict[str, Loggers] = {}

    def loggers(self, f: SourceFile) -> Loggers:
        found = self._loggers.get(f.rel)
        if found is None:
            found = self._loggers[f.rel] = file_loggers(self.ctx.index, f)
        return found

    def logged_params(self, f: SourceFile, fn: Node, depth: int = 0) -> dict[int, SinkSite]:
        return self._chain.get((f.rel, fn.id), depth, lambda: self._logged_params(f, fn, depth))

    def _logged_params(self, f: SourceFile, fn: Node, depth: int) -> dict[int, SinkSite]:
        sinks = _sinks(self.ctx, f, fn, self.loggers)
        own = self.ctx.llm.file(f)
        calls = self._calls_within(own, fn) if own is not None else []
        if not sinks and not calls:
            return {}
        out: dict[int, SinkSite] = {}
        for i, param in enumerate(parameters(fn)):
            probe = self.ctx.llm.probe(f, fn, frozenset(pattern_names(param)))
            if probe is None:
                continue

            def brought(arg: Node, probe: FileLlm = probe) -> bool:
                # Only what the parameter brings: data the helper logs on its own is reported there.
                return probe.is_llm(arg) and not (own is not None and own.is_llm(arg))

            site = next(
                (
                    (sink.name, f.rel, node.start_point[0] + 1)
                    for node, sink in sinks
                    if any(map(brought, sink.payload))
                ),
                None,
            )
            if site is None and own is not None:
                site = self._through_calls(own, calls, brought, depth)
            if site is not None:
                out[i] = site
        return out

    @staticmethod
    def _calls_within(llm: FileLlm, fn: Node) -> list[Node]:
        return [c for c in llm.project_calls() if fn.start_byte <= c.start_byte and c.end_byte <= fn.end_byte]

    def _through_calls(
        self, llm: FileLlm, calls: list[Node], carries: Callable[[Node], bool], depth: int
    ) -> SinkSite | None:
        for call in calls:
            values = _arguments(call)
            for target_file, target in llm.callee_functions(call):
                logged = self.logged_params(target_file, target, depth + 1)
                slot = _logged_slot(target, values, logged, carries) if logged else None
                if slot is not None:
                    return logged[slot]
        return None


def _scoped(node: Node) -> str:
    scope = enclosing_function_name(node)
    return f"{scope}: " if scope else ""


class LlmDataLogged(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        helpers = _LoggingHelpers(ctx)
        for f in ctx.targets:
            if not ctx.llm.may_hold_llm_data(f) or f.root is None:
                continue
            llm: FileLlm | None = None
            for node, sink in _sinks(ctx, f, f.root, helpers.loggers):
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
                        key=sink_key(node, sink.name, sink.payload),
                        # Keys of leakline 0.x: the sink's name, told apart only by its rank in the file.
                        legacy_key=sink.name,
                    )
            yield from self._passed_to_helpers(ctx, f, helpers)
            yield from self._telemetry(ctx, f)

    @staticmethod
    def _telemetry(ctx: ScanContext, f: SourceFile) -> Iterable[Hit]:
        """AI SDK calls whose `experimental_telemetry` records their prompts or outputs into OpenTelemetry spans."""
        if TELEMETRY_OPTION.encode() not in f.data():
            return
        llm = ctx.llm.file(f)
        if llm is None:
            return
        for call in llm.direct_calls:
            if llm.direct_call_family(call) != "ai-sdk":
                continue
            args = _arguments(call)
            option = ai_sdk_telemetry(args[0], llm.bound_value) if args else None
            if option is None:
                continue
            callee = ((call.child_by_field_name("function") or call).text or b"").decode(errors="replace")
            line, column = option.pair.start_point
            yield Hit(
                path=f.rel,
                line=line + 1,
                column=column + 1,
                message=(
                    f"{callee}() has the AI SDK's {TELEMETRY_OPTION} enabled, which records its {option.records} "
                    "into OpenTelemetry span attributes (recordInputs and recordOutputs default to true)"
                ),
                evidence=f"{TELEMETRY_OPTION}: {{…}}",
                key=f"{_scoped(call)}{callee}->{TELEMETRY_OPTION}",
                legacy_key=f"{callee}->{TELEMETRY_OPTION}",
            )

    def _passed_to_helpers(self, ctx: ScanContext, f: SourceFile, helpers: _LoggingHelpers) -> Iterable[Hit]:
        llm = ctx.llm.file(f)
        if llm is None:
            return
        for call in llm.project_calls():
            targets = llm.callee_functions(call)
            if not targets:
                continue
            values = _arguments(call)
            for target_file, fn in targets:
                logged = helpers.logged_params(target_file, fn)
                hit = _logged_slot(fn, values, logged, llm.is_llm) if logged else None
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
                    key=f"{_scoped(call)}{callee}({argument_shape(values)})->{sink}",
                    legacy_key=f"{callee}->{sink}",
                )
                break


RULE_CLASS = LlmDataLogged
