"""LL008: in checkout, payment, cart and order flows, LLM data or payment/contact fields written to a log.

A flow is recognised by its path (a folder or file named checkout, payment, cart, basket, order, billing,
purchase) or by the name of the enclosing function (`handleCheckout`, `createOrder`). This rule takes
precedence over LL007 on the same line (registry: `supersedes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.keywords import Keywords
from leakline.scan.llmdata import FUNCTION_TYPES
from leakline.scan.prefilter import names_sensitive_field_maybe, project_imports
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.sensitive import SensitiveFields
from leakline.scan.sinks import SINK_KEYWORDS, classify_sink, file_loggers, sentry_named_imports, sink_key

FLOW_WORDS = ("checkout", "payment", "pay", "cart", "basket", "order", "billing", "purchase")
_PATH_SEGMENT = re.compile(r"[a-z0-9]+")
_FUNCTION_WORD = re.compile(r"(?i)(checkout|payment|cart|basket|order|billing|purchase)")


def path_is_checkout_flow(rel: str) -> bool:
    lowered = rel.lower()
    # A segment word that counts is a flow word, or one with trailing s's: the flow word stands in the path as
    # written. Most paths have none and are decided without a regex per segment (~20 us a file in the workers).
    if not any(word in lowered for word in FLOW_WORDS):
        return False
    for segment in lowered.split("/"):
        stem = segment.split(".", 1)[0]
        words = _PATH_SEGMENT.findall(stem)
        if any(word in FLOW_WORDS or word.rstrip("s") in FLOW_WORDS for word in words):
            return True
    return False


_FLOW_WORDS_BYTES = tuple(word.encode() for word in FLOW_WORDS if word != "pay")
_FLOW_WORD_SET = Keywords(_FLOW_WORDS_BYTES, caseless=True)


def _mentions_flow_word(data: bytes) -> bool:
    """Byte-level prefilter: a case-insensitive regex over every file costs more than lowering it once."""
    return _FLOW_WORD_SET.in_bytes(data)


def _enclosing_function_names(node: Node) -> Iterable[str]:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            name = current.child_by_field_name("name")
            if name is not None:
                yield ts.text(name)
            elif current.parent is not None and current.parent.type == "variable_declarator":
                yield ts.text(current.parent.child_by_field_name("name"))
        current = current.parent


IMPORT_HOPS = 2
"""How many imports away a type that declares a sensitive field may be: `Order` imported from types/order.ts,
whose `customer: Customer` is imported there from types/customer.ts."""


def _may_name_sensitive_field(ctx: ScanContext, f: SourceFile) -> bool:
    """Bytes test: `f`, or a project module it imports, or one those import (types come from there), names a
    sensitive field."""
    if names_sensitive_field_maybe(f.data()):
        return True
    seen = {f.rel}
    frontier = [f]
    for _ in range(IMPORT_HOPS):
        following = []
        for module in frontier:
            for rel in project_imports(ctx.index, module):
                other = ctx.index.get(rel) if rel not in seen else None
                seen.add(rel)
                if other is None:
                    continue
                if names_sensitive_field_maybe(other.data()):
                    return True
                following.append(other)
        frontier = following
    return False


class CheckoutDataLogged(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        for f in ctx.targets:
            data = f.data()
            if not any(keyword in data for keyword in SINK_KEYWORDS):
                continue
            in_flow_by_path = path_is_checkout_flow(f.rel)
            if not in_flow_by_path and not _mentions_flow_word(data):
                continue
            if not ctx.llm.may_hold_llm_data(f) and not _may_name_sensitive_field(ctx, f):
                continue
            if f.root is None:
                continue
            imports = [(i.local, i.imported, i.source) for i in ctx.index.imports_of(f)]
            sentry = sentry_named_imports(imports)
            loggers = file_loggers(ctx.index, f)
            sensitive = SensitiveFields(ctx.index, f)
            shallow: SensitiveFields | None = None
            last_names = f.call_last_names
            for node in f.nodes("call_expression"):
                sink = classify_sink(node, sentry, last_names, loggers)
                if sink is None or not sink.payload:
                    continue
                if not in_flow_by_path and not any(_FUNCTION_WORD.search(n) for n in _enclosing_function_names(node)):
                    continue
                llm = ctx.llm.file(f)
                what = None
                legacy: str | None = None
                if llm is not None and any(llm.is_llm(arg) for arg in sink.payload):
                    what = "LLM data"
                    legacy = f"{sink.name}:{what}"
                elif any(sensitive.carries_sensitive(arg) for arg in sink.payload):
                    what = "payment or contact fields"
                    # Only a finding the previous leakline reported takes its baseline key: one found through
                    # nested types now would otherwise take the rank, and the entry, of an accepted one.
                    shallow = shallow or SensitiveFields(ctx.index, f, deep=False)
                    if any(shallow.carries_sensitive(arg) for arg in sink.payload):
                        legacy = f"{sink.name}:{what}"
                if what is None:
                    continue
                line, column = node.start_point
                yield Hit(
                    path=f.rel,
                    line=line + 1,
                    column=column + 1,
                    message=f"{what} written in plaintext to {sink.name} in a checkout/payment flow",
                    evidence=sink.name + "(…)",
                    key=f"{what}: {sink_key(node, sink.name, sink.payload)}",
                    legacy_key=legacy,
                )


RULE_CLASS = CheckoutDataLogged
