"""Log and telemetry sinks: the calls through which data leaves the app for a log store or a vendor.

Shared by LL007 (LLM data logged) and LL008 (checkout data logged). A sink is recognised by its
callee: `console.*`, pino/winston/bunyan loggers (by name, or by a binding to their factory call) and their
`.child(…)` loggers, Sentry, PostHog,
Segment, Mixpanel, Amplitude, Datadog (incl. dd-trace span tags), GA/gtag, OpenTelemetry/Sentry span attributes and
`fetch` to analytics hosts.
One sink is an option rather than a call: the AI SDK's `experimental_telemetry` (see `ai_sdk_telemetry`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.index import ProjectIndex, SourceFile

CONSOLE_METHODS = frozenset({"log", "info", "warn", "error", "debug", "trace", "dir", "table"})
LOGGER_METHODS = frozenset(
    {"log", "info", "warn", "warning", "error", "debug", "trace", "fatal", "verbose", "silly", "http"}
)
SENTRY_FUNCTIONS = frozenset(
    {
        "captureMessage",
        "captureException",
        "captureEvent",
        "addBreadcrumb",
        "setContext",
        "setExtra",
        "setExtras",
        "setTag",
        "setTags",
        "setUser",
    }
)
ANALYTICS_METHODS = frozenset({"capture", "track", "identify", "page", "logEvent", "register", "alias", "group"})
ANALYTICS_OBJECTS = ("posthog", "analytics", "mixpanel", "amplitude", "segment", "heap", "rudderanalytics", "plausible")
DATADOG_METHODS = frozenset({"addAction", "addError", "setGlobalContextProperty", "setUser", "addTiming"})
OTEL_METHODS = frozenset({"setAttribute", "setAttributes", "addEvent", "recordException"})
# dd-trace spans: `span.setTag(key, value)` and `span.addTags({ … })` write tags the APM backend keeps.
DD_SPAN_METHODS = frozenset({"setTag", "addTags"})
# Calls that return a span (OpenTelemetry `trace.getActiveSpan()`, `tracer.startSpan()`, `trace.getSpan(ctx)`;
# Sentry `getActiveSpan()`, `startInactiveSpan()`, `getRootSpan()`).
SPAN_FACTORIES = frozenset({"getActiveSpan", "getSpan", "startSpan", "startInactiveSpan", "getRootSpan"})
# Calls that hand a span to their callback's first parameter (`tracer.startActiveSpan("chat", (s) => …)`,
# Sentry `startSpan(options, (span) => …)` and `startSpanManual`).
SPAN_CALLBACK_CALLS = frozenset({"startActiveSpan", "startSpan", "startSpanManual"})
_FUNCTION_TYPES = frozenset(
    {"function_declaration", "function_expression", "function", "arrow_function", "method_definition"}
)
ANALYTICS_HOSTS = (
    "google-analytics.com",
    "analytics.google.com",
    "googletagmanager.com",
    "api.segment.io",
    "segment.io",
    "api.mixpanel.com",
    "posthog.com",
    "api2.amplitude.com",
    "amplitude.com",
    "datadoghq.com",
    "datadoghq.eu",
    "browser-intake-datadoghq",
    "sentry.io",
    "logtail.com",
    "betterstack.com",
    "loggly.com",
    "papertrailapp.com",
)
SINK_KEYWORDS = (
    b"console.",
    b"log",
    b"Log",
    b"Sentry",
    b"capture",
    b"posthog",
    b"analytics",
    b"mixpanel",
    b"amplitude",
    b"datadog",
    b"DD_",
    b"gtag",
    b"setAttribute",
    b"addEvent",
    b"setTag",
    b"addTags",
    b"track",
    b"fetch",
)


class Sink(NamedTuple):
    call: Node
    name: str
    """The callee as written, e.g. "console.log", "Sentry.captureMessage", "span.setAttribute"."""
    payload: list[Node]
    """The arguments that carry data to the sink (event names and keys excluded where known)."""


def _is_loggerish(obj_path: str) -> bool:
    # A child logger (pino/winston/bunyan `logger.child({ requestId })`) writes where its parent does,
    # so `logger.child({…}).info(…)` and `logger.child({…}).child({…}).info(…)` are the parent's sinks.
    while obj_path.endswith(CHILD_CALL):
        obj_path = obj_path[: -len(CHILD_CALL)]
    last = obj_path.rsplit(".", 1)[-1].lower()
    return last in ("logger", "log", "pino", "winston", "bunyan", "consola", "signale") or last.endswith("logger")


CHILD_CALL = ".child()"
MAX_CHILD_BINDINGS = 4
"""How many `const a = logger.child(…); const b = a.child(…)` steps are followed back to a logger."""
LOGGER_PACKAGES = frozenset({"pino", "winston", "bunyan"})
"""Logger libraries whose loggers are made by a call (`pino()`, `winston.createLogger()`, `bunyan.createLogger()`)."""
_LOGGER_EXPORT_HINTS = (b"pino", b"createLogger")


class Loggers(NamedTuple):
    """What makes a logger in one file, besides a logger-like name (from its imports)."""

    factories: frozenset[str] = frozenset()
    """Callee paths that return a logger: the local names of `pino` (`import pino from "pino"`), of a
    `createLogger` imported from winston or bunyan, and `<winston or bunyan import>.createLogger`."""
    imported: frozenset[str] = frozenset()
    """Local names of loggers a project module exports (`export const log = pino()`)."""


NO_LOGGERS = Loggers()


def logger_factories(imports: list[tuple[str, str, str]]) -> frozenset[str]:
    """Callee paths that make a logger, from (local, imported, source) imports of a file."""
    out = set()
    for local, imported, source in imports:
        if source == "pino" and imported in ("default", "pino"):
            out.add(local)
        elif source in ("winston", "bunyan"):
            if imported in ("default", "*"):
                out.add(f"{local}.createLogger")
            elif imported == "createLogger":
                out.add(local)
    return frozenset(out)


def file_loggers(index: ProjectIndex, f: SourceFile) -> Loggers:
    """`f`'s logger factories and the loggers it imports from project modules, which are read only when
    they mention a logger factory (most imports are components and helpers)."""
    imports = index.imports_of(f)
    factories = logger_factories([(i.local, i.imported, i.source) for i in imports])
    imported = set()
    for imp in imports:
        if imp.resolved is None or imp.imported == "*" or imp.local in imported:
            continue
        other = index.get(imp.resolved)
        if other is None or not any(hint in other.data() for hint in _LOGGER_EXPORT_HINTS):
            continue
        if other.root is not None and _exports_logger(index, other, other.root, imp.imported):
            imported.add(imp.local)
    return Loggers(factories, frozenset(imported)) if factories or imported else NO_LOGGERS


def _exports_logger(index: ProjectIndex, f: SourceFile, root: Node, name: str) -> bool:
    """`f` exports, as `name`, a module-level `const` bound to a logger (`export const log = pino()`,
    `export default pino()`); re-exports are not followed."""
    own = Loggers(logger_factories([(i.local, i.imported, i.source) for i in index.imports_of(f)]))
    for statement in root.named_children:
        if statement.type != "export_statement":
            continue
        value = statement.child_by_field_name("value")
        if name == "default" and value is not None:
            return _is_logger_value(value, own, 0)
        declaration = statement.child_by_field_name("declaration")
        if declaration is not None and name != "default":
            declarator = _declarator_in(statement, name)
            if declarator is not None:
                bound = declarator.child_by_field_name("value")
                return bound is not None and _is_logger_value(bound, own, 0)
    return False


def _is_logger_value(value: Node, loggers: Loggers, depth: int) -> bool:
    """`value` makes a logger: a logger factory call (`pino()`, `winston.createLogger({…})`) whose name is the
    import, not a local that shadows it, or a `.child(…)` of a logger."""
    value = ts.unwrap(value)
    if value.type != "call_expression" or depth >= MAX_CHILD_BINDINGS:
        return False
    fn = value.child_by_field_name("function")
    if fn is None:
        return False
    path = ts.callee_path(fn)
    if path.endswith(".child") and fn.type == "member_expression":
        return _is_loggerish(path[: -len(".child")]) or _is_logger_ref(
            fn.child_by_field_name("object"), loggers, depth + 1
        )
    return path in loggers.factories and not _locally_bound(fn, path.split(".", 1)[0])


def _is_logger_ref(receiver: Node | None, loggers: Loggers, depth: int = 0) -> bool:
    """`receiver` is a logger by what it is bound to, whatever its name: a logger value written in place
    (`pino().child({…})`), a name imported from a project module that exports a logger, or a variable whose
    nearest plain `const`/`let` binding, in an enclosing scope, is a logger value. A name that is not plainly
    bound is not followed."""
    if receiver is None or depth >= MAX_CHILD_BINDINGS:
        return False
    receiver = ts.unwrap(receiver)
    if receiver.type == "call_expression":
        return _is_logger_value(receiver, loggers, depth)
    if receiver.type != "identifier":
        return False
    name = ts.text(receiver)
    scope = receiver.parent
    while scope is not None:
        declarator = _declarator_in(scope, name)
        if declarator is not None:
            value = declarator.child_by_field_name("value")
            return value is not None and _is_logger_value(value, loggers, depth + 1)
        if scope.type in _FUNCTION_TYPES and _has_parameter(scope, name):
            return False
        scope = scope.parent
    return name in loggers.imported


def _has_parameter(fn: Node, name: str) -> bool:
    params = fn.child_by_field_name("parameters")
    listed = list(params.named_children) if params is not None else []
    single = fn.child_by_field_name("parameter")  # `s => …`
    if single is not None:
        listed = [single]
    for param in listed:
        pattern = param.child_by_field_name("pattern") if param.type.endswith("_parameter") else param
        if pattern is not None and any(n.type == "identifier" and ts.text(n) == name for n in ts.walk(pattern)):
            return True
    return False


def _locally_bound(at: Node, name: str) -> bool:
    """`name` is declared in a scope around `at` (a `const`, a function or class, a parameter): it shadows an
    import of that name (`const pino = makeFake()`)."""
    scope = at.parent
    while scope is not None:
        if _declarator_in(scope, name) is not None:
            return True
        for child in scope.named_children:
            if child.type in ("function_declaration", "class_declaration") and (
                ts.text(child.child_by_field_name("name")) == name
            ):
                return True
        if scope.type in _FUNCTION_TYPES and _has_parameter(scope, name):
            return True
        scope = scope.parent
    return False


def _declarator_in(scope: Node, name: str) -> Node | None:
    """The first plain `const`/`let`/`var name = …` declarator among `scope`'s own statements (not a
    destructuring pattern)."""
    for child in scope.named_children:
        if child.type == "export_statement":  # `export const log = pino()`
            child = child.child_by_field_name("declaration") or child
        if child.type not in ("lexical_declaration", "variable_declaration"):
            continue
        for declarator in child.named_children:
            declared = declarator.child_by_field_name("name") if declarator.type == "variable_declarator" else None
            if declared is not None and declared.type == "identifier" and ts.text(declared) == name:
                return declarator
    return None


def _is_tracer(node: Node | None) -> bool:
    """A dd-trace tracer by name (`tracer`, `ddTracer`, `this.tracer`): `tracer.trace(…)` and
    `tracer.scope()` are read as dd-trace's only on such a receiver (`trace` and `scope` are common names)."""
    return node is not None and ts.callee_path(node).rsplit(".", 1)[-1].lower().endswith("tracer")


def _dd_active_span(call: Node) -> bool:
    """`tracer.scope().active()`: dd-trace's active span."""
    fn = call.child_by_field_name("function")
    if fn is None or fn.type != "member_expression" or ts.text(fn.child_by_field_name("property")) != "active":
        return False
    scope = ts.unwrap(fn.child_by_field_name("object") or fn)
    scope_fn = scope.child_by_field_name("function") if scope.type == "call_expression" else None
    return (
        scope_fn is not None
        and scope_fn.type == "member_expression"
        and ts.text(scope_fn.child_by_field_name("property")) == "scope"
        and _is_tracer(scope_fn.child_by_field_name("object"))
    )


def _is_span(receiver: Node | None) -> bool:
    """`receiver` is a tracing span: named like one (`span`, `this.rootSpan`), returned by a span factory
    (`trace.getActiveSpan()?.setAttribute`), or a variable or parameter bound to one (`const s =
    tracer.startSpan(…)`, the callback parameter of `startActiveSpan`, a parameter typed `Span`). Other
    receivers of `setAttribute` are DOM elements and the like."""
    if receiver is None:
        return False
    node = ts.unwrap(receiver)
    if node.type == "call_expression":
        fn = node.child_by_field_name("function")
        return fn is not None and (ts.last_name(fn) in SPAN_FACTORIES or _dd_active_span(node))
    if node.type == "member_expression":
        return ts.text(node.child_by_field_name("property")).lower().endswith("span")
    if node.type != "identifier":
        return False
    name = ts.text(node)
    return name.lower().endswith("span") or _bound_to_span(node, name)


def _is_span_value(value: Node) -> bool:
    value = ts.unwrap(value)
    if value.type == "binary_expression":  # `trace.getActiveSpan() ?? fallback`
        return any(_is_span(side) for side in value.named_children)
    return value.type == "call_expression" and _is_span(value)


def _annotated_span(annotation: Node | None) -> bool:
    """A type annotation naming `Span` (`: Span`, `: api.Span`, `: Span | undefined`)."""
    return annotation is not None and any(
        n.type == "type_identifier" and ts.text(n) == "Span" for n in ts.walk(annotation)
    )


def _hands_a_span(fn: Node) -> bool:
    """`fn` is the callback of a call that passes it a span (the last argument of `startActiveSpan`)."""
    args = fn.parent
    call = args.parent if args is not None and args.type == "arguments" else None
    if call is None or call.type != "call_expression" or args is None:
        return False
    callee = call.child_by_field_name("function")
    named = [a for a in args.named_children if a.type != "comment"]
    if callee is None or named[-1].id != fn.id:
        return False
    last = ts.last_name(callee)
    # dd-trace's `tracer.trace(name, [options,] (span) => …)`.
    dd_trace = (
        last == "trace" and callee.type == "member_expression" and _is_tracer(callee.child_by_field_name("object"))
    )
    return last in SPAN_CALLBACK_CALLS or dd_trace


def _bound_to_span(at: Node, name: str) -> bool:
    """The nearest binding of `name` visible from `at` holds a span. Only plain bindings count: a
    destructured or reassigned variable is not followed (a missed span, never a DOM element taken for one)."""
    scope = at.parent
    while scope is not None:
        declarator = _declarator_in(scope, name)
        if declarator is not None:
            value = declarator.child_by_field_name("value")
            return _annotated_span(declarator.child_by_field_name("type")) or (
                value is not None and _is_span_value(value)
            )
        if scope.type in _FUNCTION_TYPES:
            params = scope.child_by_field_name("parameters")
            listed = list(params.named_children) if params is not None else []
            single = scope.child_by_field_name("parameter")  # `s => …`
            if single is not None:
                listed = [single]
            for i, param in enumerate(listed):
                pattern = param.child_by_field_name("pattern") if param.type.endswith("_parameter") else param
                if pattern is not None and pattern.type == "identifier" and ts.text(pattern) == name:
                    return _annotated_span(param.child_by_field_name("type")) or (i == 0 and _hands_a_span(scope))
        scope = scope.parent
    return False


SHAPE_TOKENS = 40
"""Tokens of a sink call's arguments kept in its fingerprint key: enough to tell log lines apart, bounded on a
huge object literal."""
_LITERAL_TOKENS = {"string": '"…"', "number": "#", "regex": "/…/"}
_CLOSERS = frozenset({")", "]", "}"})


def argument_shape(args: list[Node]) -> str:
    """The arguments of a sink call as a redacted token string, for fingerprint keys: names, property paths and
    punctuation as written; every literal's value replaced (`"…"`, `#`, a template string keeps only its `${…}`
    expressions), since a logged literal may be a key or an address and its hash in a committed baseline could
    be brute-forced. Whitespace, comments and trailing commas do not count, so reformatting keeps the key."""
    tokens: list[str] = []
    for i, arg in enumerate(args):
        if i:
            tokens.append(",")
        _shape_tokens(arg, tokens)
        if len(tokens) > SHAPE_TOKENS:
            break
    kept = [
        t
        for i, t in enumerate(tokens[:SHAPE_TOKENS])
        if not (t == "," and i + 1 < len(tokens) and tokens[i + 1] in _CLOSERS)
    ]
    joined = "".join(
        (" " + t if i and _WORDISH.match(t) and _WORDISH.match(kept[i - 1][-1]) else t) for i, t in enumerate(kept)
    )
    return joined + ("…" if len(tokens) > SHAPE_TOKENS else "")


_WORDISH = re.compile(r"[\w$#]")


def _shape_tokens(node: Node, out: list[str]) -> None:
    # A stack, not recursion: a long `a + b + c + …` nests as deep as it is long.
    stack: list[Node | str] = [node]
    while stack and len(out) <= SHAPE_TOKENS:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        if item.type == "comment":
            continue
        literal = _LITERAL_TOKENS.get(item.type)
        if literal is not None:
            out.append(literal)
        elif item.type == "template_string":
            parts: list[Node | str] = ["`"]
            for child in item.named_children:
                if child.type == "template_substitution":
                    parts += ["${", *child.named_children, "}"]
                elif parts[-1] != "…":
                    parts.append("…")
            parts.append("`")
            stack.extend(reversed(parts))
        elif item.child_count == 0:
            out.append(ts.text(item))
        else:
            stack.extend(reversed(item.children))


def enclosing_function_name(node: Node) -> str:
    """The name of the nearest named function around `node` (a declaration, a method, a `const f = () => …`, an
    object member `onFinish() {…}`), "" at module level: a fingerprint key's scope, so identical log lines in
    two handlers are told apart."""
    current = node.parent
    while current is not None:
        if current.type in _FUNCTION_TYPES:
            name = current.child_by_field_name("name")
            if name is None and current.parent is not None and current.parent.type in ("variable_declarator", "pair"):
                field = "name" if current.parent.type == "variable_declarator" else "key"
                name = current.parent.child_by_field_name(field)
            if name is not None:
                return ts.text(name)
        current = current.parent
    return ""


def sink_key(call: Node, name: str, payload: list[Node]) -> str:
    """A fingerprint key for a finding at the sink call `call`: the enclosing function, the sink and the redacted
    shape of what it logs. A new log line elsewhere in the file does not take over an accepted one's key."""
    scope = enclosing_function_name(call)
    return f"{scope + ': ' if scope else ''}{name}({argument_shape(payload)})"


def _fetch_to_analytics(args: list[Node]) -> bool:
    if not args:
        return False
    first = ts.unwrap(args[0])
    literal = ts.string_value(first)
    if literal is None and first.type == "template_string":
        literal = "".join(ts.text(c) for c in first.named_children if c.type == "string_fragment")
    return literal is not None and any(host in literal for host in ANALYTICS_HOSTS)


def classify_sink(
    call: Node,
    sentry_imports: frozenset[str] = frozenset(),
    last_names: Mapping[int, str | None] | None = None,
    loggers: Loggers = NO_LOGGERS,
) -> Sink | None:
    """The sink `call` writes to, if any. `last_names`: the file's callee last names by call id
    (`SourceFile.call_last_names`), read once per file instead of once per rule asking. `loggers`: the
    file's logger factories and imported loggers (`file_loggers`)."""
    known = False
    if last_names is not None and call.id in last_names:
        last = last_names[call.id]
        if last is None or (last not in SINK_LAST_NAMES and last not in sentry_imports):
            return None
        known = True
    fn = call.child_by_field_name("function")
    if fn is None:
        return None
    if not known:  # (a known last name was read from this same callee)
        last = ts.last_name(fn)
        if last is None or (last not in SINK_LAST_NAMES and last not in sentry_imports):
            return None  # most calls of a file: decided without building their dotted path or reading arguments
    args_node = call.child_by_field_name("arguments")
    if args_node is None:
        return None
    args = [a for a in args_node.named_children if a.type != "comment"]
    path = ts.callee_path(fn)
    if not path:
        return None
    obj, _, method = path.rpartition(".")
    if obj in ("console", "window.console", "globalThis.console") and method in CONSOLE_METHODS:
        return Sink(call, path, args)
    if obj and method in LOGGER_METHODS and _is_loggerish(obj):
        return Sink(call, path, args)
    if method == "child" and obj and _is_loggerish(obj):
        # A child logger's bindings are written into every line it logs (pino, winston, bunyan).
        return Sink(call, path, args)
    if (method in LOGGER_METHODS or method == "child") and _is_logger_ref(fn.child_by_field_name("object"), loggers):
        # Named anything (`const audit = pino().child({…})`, `const w = createLogger({})`): known by its binding.
        return Sink(call, path, args)
    if obj.rsplit(".", 1)[-1] == "Sentry" and method in SENTRY_FUNCTIONS:
        return Sink(call, path, args)
    if not obj and path in sentry_imports:
        return Sink(call, path, args)
    if obj and method in ANALYTICS_METHODS and any(o in obj.lower() for o in ANALYTICS_OBJECTS):
        # The first argument of track/capture is an event name; data travels in the rest.
        payload = args[1:] if method in ("track", "capture", "logEvent", "page") and len(args) > 1 else args
        return Sink(call, path, payload)
    if obj and method in DATADOG_METHODS and ("datadog" in obj.lower() or "DD_" in obj):
        return Sink(call, path, args)
    if path in (
        "gtag",
        "window.gtag",
        "ga",
        "window.ga",
        "sendGAEvent",
        "sendGTMEvent",
        "window.dataLayer.push",
        "dataLayer.push",
    ):
        return Sink(call, path, args[1:] if path.endswith("gtag") and len(args) > 1 else args)
    if obj and method in OTEL_METHODS | DD_SPAN_METHODS and _is_span(fn.child_by_field_name("object")):
        # The first argument of setAttribute/addEvent/setTag is a key or an event name.
        payload = args[1:] if method in ("setAttribute", "addEvent", "setTag") and len(args) > 1 else args
        return Sink(call, path, payload)
    if path in ("fetch", "navigator.sendBeacon", "axios.post") and _fetch_to_analytics(args):
        return Sink(call, path, args[1:])
    return None


# The last name of every callee `classify_sink` accepts (besides Sentry functions imported under any name).
SINK_LAST_NAMES = (
    CONSOLE_METHODS
    | LOGGER_METHODS
    | SENTRY_FUNCTIONS
    | ANALYTICS_METHODS
    | DATADOG_METHODS
    | OTEL_METHODS
    | DD_SPAN_METHODS
    | {"gtag", "ga", "sendGAEvent", "sendGTMEvent", "push", "fetch", "sendBeacon", "post", "child"}
)


def sentry_named_imports(imports: list[tuple[str, str, str]]) -> frozenset[str]:
    """Local names of Sentry functions imported by name (`import { captureMessage } from "@sentry/nextjs"`)."""
    return frozenset(
        local for local, imported, source in imports if source.startswith("@sentry/") and imported in SENTRY_FUNCTIONS
    )


TELEMETRY_OPTION = "experimental_telemetry"
"""The AI SDK's telemetry option (`generateText({ ..., experimental_telemetry: { isEnabled: true } })`): once
enabled it records the prompt and the output into OpenTelemetry span attributes (`ai.prompt`,
`ai.response.text`, ...) unless `recordInputs` / `recordOutputs` are false; both default to true."""


def _literal_false(node: Node | None) -> bool:
    return node is not None and ts.unwrap(node).type == "false"


def _telemetry_settings(value: Node, resolve: Callable[[Node], Node | None]) -> Node | None:
    """The object literal of a telemetry setting: written in place or bound to a `const` in the module."""
    value = ts.unwrap(value)
    if value.type == "identifier":
        bound = resolve(value)
        value = ts.unwrap(bound) if bound is not None else value
    return value if value.type == "object" else None


class TelemetryOption(NamedTuple):
    pair: Node
    """The `experimental_telemetry: ...` pair (where a finding is reported)."""
    records: str
    """What it records: "prompts and outputs", "prompts" or "outputs"."""


def ai_sdk_telemetry(options: Node, resolve: Callable[[Node], Node | None]) -> TelemetryOption | None:
    """The telemetry option of an AI SDK call's `options` object, if it records prompt or output content.

    Enabled unless `isEnabled` is missing (telemetry is off by default) or literally `false`; a setting that cannot
    be read (a parameter, a spread that may carry `isEnabled`) counts as enabled. Records inputs unless
    `recordInputs` is literally `false`, outputs likewise. `resolve`: the value a module-level name is bound to."""
    options = ts.unwrap(options)
    if options.type != "object":
        return None
    for member in options.named_children:
        if member.type != "pair" or ts.text(member.child_by_field_name("key")) != TELEMETRY_OPTION:
            continue
        value = member.child_by_field_name("value")
        if value is None or ts.unwrap(value).type in ("false", "undefined", "null"):
            return None
        settings = _telemetry_settings(value, resolve)
        if settings is None:
            return TelemetryOption(member, "prompts and outputs")
        keys: dict[str, Node | None] = {}
        opaque = False
        for item in settings.named_children:
            if item.type == "pair":
                keys[ts.text(item.child_by_field_name("key"))] = item.child_by_field_name("value")
            elif item.type == "shorthand_property_identifier":
                keys[ts.text(item)] = item
            elif item.type == "spread_element":
                opaque = True
        if "isEnabled" not in keys and not opaque:
            return None
        if _literal_false(keys.get("isEnabled")):
            return None
        inputs = not _literal_false(keys.get("recordInputs"))
        outputs = not _literal_false(keys.get("recordOutputs"))
        if not (inputs or outputs):
            return None
        records = "prompts and outputs" if inputs and outputs else "prompts" if inputs else "outputs"
        return TelemetryOption(member, records)
    return None
