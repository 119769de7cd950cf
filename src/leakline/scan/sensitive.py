"""Sensitive fields: property and variable names that denote payment or contact data.

Used by LL008. A value is sensitive when it is read through such a name (`order.cardNumber`,
`{ email }`, `customerEmail`, `receipt_email`), or when it is an object whose declared TypeScript type (an
interface or type alias in the same module or an imported one) declares such a property.
"""

from __future__ import annotations

import re
from functools import lru_cache

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

    def __init__(self, index: ProjectIndex, f: SourceFile) -> None:
        self.index = index
        self.file = f
        self._types: dict[str, bool] | None = None
        self._following: set[int] = set()
        """Initial values being followed (guards `const a = b, b = a` chains)."""

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

    def carries_sensitive(self, node: Node) -> bool:
        node = ts.unwrap(node)
        kind = node.type
        if kind == "member_expression":
            prop = ts.text(node.child_by_field_name("property"))
            if prop in ("length", "size", "id"):
                return False
            return is_sensitive_name(prop)
        if kind in ("identifier", "shorthand_property_identifier"):
            if is_sensitive_name(ts.text(node)):
                return True
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


def _type_name(annotation: Node) -> str | None:
    for node in ts.walk(annotation):
        if node.type == "type_identifier":
            return ts.text(node)
    return None
