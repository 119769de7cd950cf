"""Sensitive fields: property and variable names that denote payment or contact data.

Used by LL008. A value is sensitive when it is read through such a name (`order.cardNumber`,
`{ email }`, `customerEmail`, `receipt_email`), or when it is an object whose declared TypeScript type (an
interface or type alias in the same module or an imported one) declares such a property, itself or in the
types of its properties. Types are followed from annotated variables and parameters, through destructuring
and property reads (`order.customer`), `extends`, `Pick`/`Omit` and other generics, and zod schemas
(`z.infer<typeof schema>`), a bounded number of steps.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.index import ProjectIndex, SourceFile

SENSITIVE_NAMES = frozenset(
    {
        "card",
        "cardnumber",
        "cardno",
        "ccnumber",
        "creditcard",
        "creditcardnumber",
        "pan",
        "cvv",
        "cvc",
        "cvv2",
        "securitycode",
        "iban",
        "address",
        "billingaddress",
        "shippingaddress",
        "streetaddress",
        "addressline1",
        "addressline2",
        "email",
        "emailaddress",
        "phone",
        "phonenumber",
        "mobile",
        "telephone",
        "dob",
        "dateofbirth",
        "birthdate",
        "birthday",
        "addressline",
        "mobilenumber",
    }
)
# The last word of a longer name that makes it a contact or payment field (`customerEmail`, `receipt_email`,
# `billingPhone`, `shippingAddresses`, `payoutIban`). Words that name other things as the last word too
# (`giftCard`, `ProductCard`, `isMobile`, `timeSpan`) count only as whole names or in the compounds above
# (`creditCard`, `cardNumber`, `mobileNumber`).
SENSITIVE_LAST_WORDS = frozenset(
    {"email", "phone", "telephone", "address", "iban", "cvv", "cvc", "cvv2", "dob", "birthdate", "birthday"}
)
# A first word that makes the name a flag, a count or a hook, not the field (`hasPhone`, `isEmail`,
# `useAddress`, `needsShippingAddress`).
FLAG_FIRST_WORDS = frozenset(
    {
        "is", "has", "have", "had", "should", "can", "could", "did", "does", "do", "was", "were", "will",
        "needs", "need", "must", "show", "hide", "allow", "enable", "disable", "require", "requires", "use",
        "no", "missing", "skip", "num", "count", "total",
    }
)  # fmt: skip
# The word before the last that makes it a technical or the shop's own value, not a customer's: network
# addresses (`ipAddress`, `remoteAddress`; a customer's `walletAddress` stays sensitive) and the shop's own
# mailboxes and lines (`supportEmail`, `noreplyEmail`, `fromEmail`, `storeAddress`), or an Apple device
# (`iPhone`).
NOT_PERSONAL_QUALIFIERS = frozenset(
    {
        "ip", "ipv4", "ipv6", "mac", "server", "remote", "local", "host", "base", "contract", "listen", "bind",
        "memory", "socket", "network", "proxy", "gateway", "url", "web", "node", "peer", "broadcast",
        "support", "noreply", "reply", "sender", "from", "admin", "system", "sales", "shop", "store",
        "merchant", "example", "placeholder", "i",
    }
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z0-9]+")
"""Words of a name: camelCase humps, ALLCAPS runs (`customerIBAN`), snake_case and kebab-case parts; digits
stay with the word they follow (`addressLine1`, `cvv2`, `ipv4Address`)."""
SEGMENT = re.compile(r"[A-Za-z0-9_$-]+")
"""A name is judged by its last run of these (`"billing.address"` by `address`)."""
_ALNUM = re.compile(r"[^a-z0-9]")
_STEMS = re.compile("|".join(sorted(SENSITIVE_NAMES | SENSITIVE_LAST_WORDS, key=len, reverse=True)))
"""Every sensitive verdict has one of these inside the lowered name: most names are rejected by this test."""
_PASS_THROUGH = frozenset({"JSON.stringify", "String", "encodeURIComponent"})
_TYPE_DECLS = ("interface_declaration", "type_alias_declaration")
MAX_TYPE_DEPTH = 6
"""Resolution steps followed from a value to the properties of its type (an alias, an import, `extends`, a
property's type, a zod schema's field): `order.customer` → Order → `customer: Customer` → Customer → email."""
ZOD_INFER = frozenset({"infer", "input", "output"})
_SCOPE_ENDS = frozenset({"function_declaration", "arrow_function", "method_definition", "function_expression"})


class Typed(NamedTuple):
    node: Node
    """A type (annotation, type expression, declaration) or a zod schema expression."""
    file: SourceFile
    """Where it is written: the names in it are looked up there."""


@lru_cache(maxsize=16384)
def is_sensitive_name(name: str) -> bool:
    """`name` (an identifier, a property or an object key) denotes a payment or contact field.

    A whole name from `SENSITIVE_NAMES` in any spelling (`e-mail`, `CARD_NUMBER`), or a name whose last words
    are one (`customerEmail`, `receipt_email`, `shippingPhoneNumber`, `payoutIBAN`, plurals too), unless its
    first word makes it a flag (`hasPhone`, `isEmailVerified`) or the word before is a technical or the shop's
    own qualifier (`ipAddress`, `supportEmail`). Names in which the field word is not last are about the
    field, not the field (`emailSent`, `addressValidated`, `phoneCountryCode`, `addressId`). A key with
    spaces or dots is judged by its last part (`"customer email"`, `"billing.address"`)."""
    segments = SEGMENT.findall(name)
    if not segments:
        return False
    last = segments[-1]
    compact = _ALNUM.sub("", last.lower())
    if not _STEMS.search(compact):
        return False
    if compact in SENSITIVE_NAMES or _singular(compact) in SENSITIVE_LAST_WORDS:
        return True
    words = [word.lower() for word in _WORD.findall(last)]
    if len(words) < 2 or words[0] in FLAG_FIRST_WORDS:
        return False
    for size in range(len(words) - 1, 0, -1):  # longest compound first: `customerCardNumber` → cardnumber
        tail = words[-size:]
        joined = "".join(tail)
        if size > 1 and joined in SENSITIVE_NAMES:
            return words[-size - 1] not in NOT_PERSONAL_QUALIFIERS
        if size == 1 and _singular(joined) in SENSITIVE_LAST_WORDS:
            return words[-2] not in NOT_PERSONAL_QUALIFIERS
    return False


def _singular(word: str) -> str:
    if word.endswith("sses"):  # addresses
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


class SensitiveFields:
    """Answers "does this expression carry a sensitive field?" for one source file."""

    def __init__(self, index: ProjectIndex, f: SourceFile, *, deep: bool = True) -> None:
        self.index = index
        self.file = f
        self.deep = deep
        """Follow types through properties, destructuring, `extends`, `Pick`/`Omit`, zod schemas and nesting.
        False: only a variable or parameter annotated with a type that declares a sensitive property, as
        leakline did before (LL008 keeps the fingerprints of those findings matching older baselines)."""
        self._types: dict[str, bool] | None = None
        self._following: set[int] = set()
        """Initial values being followed (guards `const a = b, b = a` chains)."""
        self._declarations: dict[str, dict[str, Node]] = {}
        """Per file: type and interface declarations by name."""
        self._verdicts: dict[tuple[str, int, int], bool] = {}

    def _declared_types(self, f: SourceFile) -> dict[str, bool]:
        out: dict[str, bool] = {}
        if f.root is None:
            return out
        for node in ts.walk(f.root):
            if node.type in _TYPE_DECLS:
                name = ts.text(node.child_by_field_name("name"))
                out[name] = any(
                    child.type == "property_signature" and is_sensitive_name(ts.text(child.child_by_field_name("name")))
                    for child in ts.walk(node)
                )
        return out

    def type_is_sensitive(self, type_name: str) -> bool:
        if self._types is None:
            self._types = self._declared_types(self.file)
        if type_name in self._types:
            return self._types[type_name]
        for imp in self.index.imports_of(self.file):
            if imp.local == type_name and imp.resolved:
                other = self.index.get(imp.resolved)
                if other is not None:
                    return self._declared_types(other).get(imp.imported, False)
        return False

    def _annotated_type(self, ident: Node) -> str | None:
        """The type name a variable or parameter named like `ident` is declared with in an enclosing scope."""
        name = ts.text(ident)
        scope = ident.parent
        while scope is not None:
            for node in ts.walk(scope):
                if node.type in ("required_parameter", "optional_parameter"):
                    pattern = node.child_by_field_name("pattern")
                    annotation = node.child_by_field_name("type")
                    if pattern is not None and ts.text(pattern) == name and annotation is not None:
                        return _type_name(annotation)
                elif node.type == "variable_declarator":
                    declared = node.child_by_field_name("name")
                    annotation = node.child_by_field_name("type")
                    if declared is not None and ts.text(declared) == name and annotation is not None:
                        return _type_name(annotation)
            if scope.type in ("function_declaration", "arrow_function", "method_definition", "function_expression"):
                break
            scope = scope.parent
        return None

    # Types, followed when `deep`: a type is a type node or a zod schema expression, with the file it is
    # written in (names in it are looked up there).

    def _declared(self, f: SourceFile) -> dict[str, Node]:
        found = self._declarations.get(f.rel)
        if found is None:
            found = self._declarations[f.rel] = {}
            if f.root is not None:
                for node in ts.walk(f.root):
                    if node.type in _TYPE_DECLS:
                        found.setdefault(ts.text(node.child_by_field_name("name")), node)
        return found

    def _lookup(self, name: str, f: SourceFile, namespace: str | None = None) -> Typed | None:
        """The declaration of type `name` seen from `f`: declared there or imported (by name, or through the
        namespace `namespace`: `ns.Customer`)."""
        if namespace is None:
            own = self._declared(f).get(name)
            if own is not None:
                return Typed(own, f)
        for imp in self.index.imports_of(f):
            if imp.resolved is None:
                continue
            if namespace is None and imp.local == name and imp.imported != "*":
                wanted = imp.imported
            elif namespace is not None and imp.local == namespace and imp.imported == "*":
                wanted = name
            else:
                continue
            other = self.index.get(imp.resolved)
            declared = self._declared(other).get(wanted) if other is not None else None
            return Typed(declared, other) if declared is not None and other is not None else None
        return None

    def _type_sensitive(self, typed: Typed, depth: int) -> bool:
        """The type declares a sensitive property, itself or in the types of its properties (nested up to
        `MAX_TYPE_DEPTH` steps: aliases, `extends`, property types)."""
        memo = (typed.file.rel, typed.node.start_byte, typed.node.end_byte) if depth == 0 else None
        if memo is not None and memo in self._verdicts:
            return self._verdicts[memo]
        verdict = False
        for name, prop_type in self._properties(typed, depth):
            if is_sensitive_name(name) or (
                prop_type is not None and depth + 1 < MAX_TYPE_DEPTH and self._type_sensitive(prop_type, depth + 1)
            ):
                verdict = True
                break
        if memo is not None:
            self._verdicts[memo] = verdict
        return verdict

    def _property_type(self, typed: Typed, prop: str, depth: int) -> Typed | None:
        for name, prop_type in self._properties(typed, depth):
            if name == prop:
                return prop_type
        return None

    def _properties(self, typed: Typed, depth: int) -> list[tuple[str, Typed | None]]:
        """The properties a type declares, each with its type when written (arrays, unions and intersections
        are seen through: the properties of their members)."""
        if depth >= MAX_TYPE_DEPTH:
            return []
        node, f = ts.unwrap(typed.node), typed.file
        kind = node.type
        if kind in ("type_annotation", "parenthesized_type", "array_type", "readonly_type"):
            inner = node.named_children[0] if node.named_children else None
            return self._properties(Typed(inner, f), depth) if inner is not None else []
        if kind in ("object_type", "interface_body"):
            out: list[tuple[str, Typed | None]] = []
            for member in node.named_children:
                if member.type == "property_signature":
                    annotation = member.child_by_field_name("type")
                    out.append(
                        (
                            ts.text(member.child_by_field_name("name")).strip("\"'"),
                            Typed(annotation, f) if annotation is not None else None,
                        )
                    )
            return out
        if kind in ("union_type", "intersection_type"):
            return [p for member in _members(node) for p in self._properties(Typed(member, f), depth)]
        if kind == "type_identifier":
            declared = self._lookup(ts.text(node), f)
            return self._properties(declared, depth + 1) if declared is not None else []
        if kind == "nested_type_identifier":
            module, name = node.child_by_field_name("module"), node.child_by_field_name("name")
            declared = self._lookup(ts.text(name), f, ts.text(module)) if module is not None else None
            return self._properties(declared, depth + 1) if declared is not None else []
        if kind == "interface_declaration":
            body = node.child_by_field_name("body")
            out = self._properties(Typed(body, f), depth) if body is not None else []
            for clause in node.named_children:
                if clause.type == "extends_type_clause":  # `interface Buyer extends Contact`
                    for base in clause.named_children:
                        out += self._properties(Typed(base, f), depth + 1)
            return out
        if kind == "type_alias_declaration":
            value = node.child_by_field_name("value")
            return self._properties(Typed(value, f), depth) if value is not None else []
        if kind == "generic_type":
            return self._generic_properties(node, f, depth)
        if kind in ("call_expression", "identifier", "member_expression"):
            return self._schema_properties(node, f, depth)
        return []

    def _generic_properties(self, node: Node, f: SourceFile, depth: int) -> list[tuple[str, Typed | None]]:
        name_node = node.child_by_field_name("name")
        args_node = node.child_by_field_name("type_arguments")
        args = [a for a in args_node.named_children if a.type != "comment"] if args_node is not None else []
        name = ts.text(name_node)
        if name in ("Pick", "Omit") and len(args) == 2:
            # `Pick<Customer, "email">` keeps the named keys, `Omit<Customer, "email">` the others.
            keys = {ts.text(n) for n in ts.walk(args[1]) if n.type == "string_fragment"}
            base = self._properties(Typed(args[0], f), depth + 1)
            return [(k, t) for k, t in base if (k in keys) == (name == "Pick")]
        if name_node is not None and name_node.type == "nested_type_identifier" and args:
            last = ts.text(name_node.child_by_field_name("name"))
            if last in ZOD_INFER and args[0].type == "type_query":  # `z.infer<typeof schema>`
                schema = args[0].named_children[0] if args[0].named_children else None
                return self._properties(Typed(schema, f), depth + 1) if schema is not None else []
        declared = self._lookup(name, f) if name_node is not None and name_node.type == "type_identifier" else None
        if declared is not None:
            return self._properties(declared, depth + 1)
        # `Partial<Customer>`, `Array<Customer>`, `Promise<Customer>`, `Record<string, Customer>`: the
        # properties of what it wraps.
        return [p for arg in args for p in self._properties(Typed(arg, f), depth + 1)]

    def _schema_properties(self, node: Node, f: SourceFile, depth: int) -> list[tuple[str, Typed | None]]:
        """The properties of a zod schema: `z.object({ email: z.string().email() })`, through `.extend({…})`,
        refinements and modifiers (`.strict()`, `.optional()`), `z.array(…)` and `const`s holding schemas."""
        node = ts.unwrap(node)
        if node.type == "identifier":
            value = ts.declared_value(node, ts.text(node))
            return self._properties(Typed(value, f), depth + 1) if value is not None else []
        if node.type != "call_expression":
            return []
        fn = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        args = [a for a in args_node.named_children if a.type != "comment"] if args_node is not None else []
        if fn is None or fn.type != "member_expression":
            return []
        method = ts.text(fn.child_by_field_name("property"))
        receiver = fn.child_by_field_name("object")
        chained = receiver is not None and ts.unwrap(receiver).type in ("call_expression", "identifier")
        if method in ("object", "strictObject", "looseObject") and args and ts.unwrap(args[0]).type == "object":
            return _shape(ts.unwrap(args[0]), f)
        base = self._schema_properties(receiver, f, depth + 1) if chained and receiver is not None else []
        if method in ("extend", "merge", "safeExtend") and args:
            wrapped = ts.unwrap(args[0])
            extra = _shape(wrapped, f) if wrapped.type == "object" else self._schema_properties(wrapped, f, depth + 1)
            return base + extra
        if method in ("array", "lazy") and not chained and args:
            return self._schema_properties(args[0], f, depth + 1)
        return base

    def _expression_type(self, node: Node, depth: int) -> Typed | None:
        """The declared type of an expression: a variable or parameter annotated with one (also destructured:
        `const { customer: c } = order`, `({ customer }: Order)`), or a property of such a value."""
        node = ts.unwrap(node)
        if depth >= MAX_TYPE_DEPTH:
            return None
        if node.type == "member_expression":
            obj = node.child_by_field_name("object")
            base = self._value_type(obj, depth + 1) if obj is not None else None
            prop = ts.text(node.child_by_field_name("property"))
            return self._property_type(base, prop, depth) if base is not None else None
        if node.type not in ("identifier", "shorthand_property_identifier"):
            return None
        name = ts.text(node)
        scope = node.parent
        while scope is not None:
            for candidate in ts.walk(scope):
                found = self._declares(candidate, name, depth)
                if found is not None:
                    return found or None
            if scope.type in _SCOPE_ENDS:
                break
            scope = scope.parent
        return None

    def _value_type(self, node: Node, depth: int) -> Typed | None:
        """`_expression_type`, or for an untyped `const x = …` the type of its initial value."""
        typed = self._expression_type(node, depth)
        node = ts.unwrap(node)
        if typed is None and node.type == "identifier":
            value = ts.declared_value(node, ts.text(node))
            if value is not None and depth + 1 < MAX_TYPE_DEPTH:
                return self._expression_type(value, depth + 1)
        return typed

    def _declares(self, node: Node, name: str, depth: int) -> Typed | Literal[False] | None:
        """What the declaration `node` gives `name`: its type, False when it declares `name` without a type
        known, None when it does not declare `name`."""
        if node.type in ("required_parameter", "optional_parameter"):
            pattern, annotation = node.child_by_field_name("pattern"), node.child_by_field_name("type")
        elif node.type == "variable_declarator":
            pattern, annotation = node.child_by_field_name("name"), node.child_by_field_name("type")
        else:
            return None
        if pattern is None:
            return None
        if pattern.type == "identifier":
            if ts.text(pattern) != name:
                return None
            return Typed(annotation, self.file) if annotation is not None else False
        if pattern.type != "object_pattern":
            return None
        key = ts.pattern_key(pattern, name)
        if key is None:
            return None
        if annotation is not None:
            whole: Typed | None = Typed(annotation, self.file)
        else:
            value = node.child_by_field_name("value") if node.type == "variable_declarator" else None
            whole = self._value_type(value, depth + 1) if value is not None else None
        return (self._property_type(whole, key, depth) if whole is not None else None) or False

    def carries_sensitive(self, node: Node) -> bool:
        node = ts.unwrap(node)
        kind = node.type
        if kind == "member_expression":
            prop = ts.text(node.child_by_field_name("property"))
            if prop in ("length", "size", "id"):
                return False
            if is_sensitive_name(prop):
                return True
            # `order.customer`, where Order declares `customer: Customer` and Customer declares email.
            typed = self._expression_type(node, 0) if self.deep else None
            return typed is not None and self._type_sensitive(typed, 0)
        if kind in ("identifier", "shorthand_property_identifier"):
            if is_sensitive_name(ts.text(node)):
                return True
            if self.deep:
                # A type without such a field (`const line: string = customer.email`) still lets the value
                # below be read.
                typed = self._expression_type(node, 0)
                if typed is not None and self._type_sensitive(typed, 0):
                    return True
            else:
                type_name = self._annotated_type(node)
                if type_name is not None:
                    return self.type_is_sensitive(type_name)
            # `const copy = { ...order, at }`: an untyped variable carries what its initial value carries.
            value = ts.declared_value(node, ts.text(node))
            if value is None or value.id in self._following:
                return False
            self._following.add(value.id)
            try:
                return self.carries_sensitive(value)
            finally:
                self._following.discard(value.id)
        if kind == "object":
            for member in node.named_children:
                if member.type == "pair":
                    key = ts.text(member.child_by_field_name("key")).strip("\"'")
                    value = member.child_by_field_name("value")
                    if is_sensitive_name(key) or (value is not None and self.carries_sensitive(value)):
                        return True
                elif member.type in ("shorthand_property_identifier", "spread_element"):
                    target = member if member.type == "shorthand_property_identifier" else member.named_children[0]
                    if self.carries_sensitive(target):
                        return True
            return False
        if kind == "template_string":
            return any(
                self.carries_sensitive(sub.named_children[0])
                for sub in node.named_children
                if sub.type == "template_substitution" and sub.named_children
            )
        if kind == "binary_expression":
            return any(self.carries_sensitive(side) for side in node.named_children)
        if kind == "array":
            return any(self.carries_sensitive(el) for el in node.named_children)
        if kind == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is not None and ts.callee_path(fn) in _PASS_THROUGH and args is not None and args.named_children:
                return self.carries_sensitive(args.named_children[0])
        return False


def _members(node: Node) -> list[Node]:
    """The members of a union or intersection type, without recursion: `"AD" | "AE" | …` nests one level per
    member."""
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == node.type:
            stack.extend(reversed(current.named_children))
        else:
            out.append(current)
    return out


def _shape(obj: Node, f: SourceFile) -> list[tuple[str, Typed | None]]:
    """The fields of a zod shape (`{ email: z.string().email(), line1 }`), each with its schema."""
    out: list[tuple[str, Typed | None]] = []
    for member in obj.named_children:
        if member.type == "pair":
            key = ts.text(member.child_by_field_name("key")).strip("\"'`")
            value = member.child_by_field_name("value")
            out.append((key, Typed(value, f) if value is not None else None))
        elif member.type == "shorthand_property_identifier":
            out.append((ts.text(member), None))
    return out


def _type_name(annotation: Node) -> str | None:
    for node in ts.walk(annotation):
        if node.type == "type_identifier":
            return ts.text(node)
    return None
