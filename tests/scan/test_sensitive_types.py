"""LL008: a whole object logged in a checkout flow is sensitive when its type declares a payment or contact
field, followed through property types, destructuring, inline parameter types, nesting, `extends`,
`Pick`/`Omit` and zod schemas (`z.infer<typeof schema>`)."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.findings import fingerprint
from leakline.scan.engine import scan
from tests.scan.apps import write_app

CUSTOMER = """export interface Customer {
  id: string;
  name: string;
  email: string;
  phone?: string;
}
"""
ORDER = """import type { Customer } from "./customer";
export type Sku = { id: string; code: string };
export type Line = { id: string; sku: Sku; quantity: number };
export type Order = { id: string; total: number; customer: Customer; lines: Line[] };
"""
ACTIONS = "app/checkout/actions.ts"
VULNERABLE = """'use server';
import { z } from "zod";
import type { Order } from "@/types/order";
import type { Customer } from "@/types/customer";

interface Contact { email: string; phone: string }
interface Buyer extends Contact { name: string }
const addressSchema = z.object({ line1: z.string(), email: z.string().email() }).strict();
type Address = z.infer<typeof addressSchema>;

export async function placeOrder(order: Order, buyer: Buyer, addr: Address, c: Pick<Customer, "email">) {
  console.log("customer", order.customer);
  const { customer: cust } = order;
  console.log("destructured", cust);
  console.log("order", order);
  console.log("buyer", buyer);
  console.log("address", addr);
  console.log("picked", c);
}
export async function confirmOrder(order: { customer: Customer }) {
  console.log("inline", order.customer);
  const copy = order.customer;
  console.log("copy", copy);
}
export async function pay({ customer }: Order) {
  console.log("param pattern", customer);
}
"""
SAFE = """'use server';
import { z } from "zod";
import type { Order, Line } from "@/types/order";
import type { Customer } from "@/types/customer";

const lineSchema = z.object({ sku: z.string(), quantity: z.number() });
type LineInput = z.infer<typeof lineSchema>;

export async function placeOrder(
  order: Order,
  p: Pick<Customer, "id" | "name">,
  o: Omit<Customer, "email" | "phone">,
  line: Line,
  input: LineInput,
) {
  console.log("picked", p);
  console.log("omitted", o);
  console.log("line", line);
  console.log("lines", order.lines);
  console.log("input", input);
  console.log("customer id", order.customer.id);
  console.log("total", order.total);
  const { lines, id } = order;
  console.log("destructured", lines, id);
}
"""


def _app(tmp_path: Path, actions: str) -> Path:
    return write_app(tmp_path, {ACTIONS: actions, "types/order.ts": ORDER, "types/customer.ts": CUSTOMER})


def test_objects_whose_type_declares_a_contact_field(tmp_path: Path) -> None:
    result = scan(_app(tmp_path, VULNERABLE), rule_ids=["LL008"], jobs=1)
    assert result.stats.rule_errors == []
    expected = [12, 14, 15, 16, 17, 18, 21, 23, 26]
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL008", ACTIONS, line) for line in expected]
    assert {f.message for f in result.findings} == {
        "payment or contact fields written in plaintext to console.log in a checkout/payment flow"
    }


def test_objects_whose_type_leaves_no_contact_field(tmp_path: Path) -> None:
    result = scan(_app(tmp_path, SAFE), rule_ids=["LL008"], jobs=1)
    assert result.stats.rule_errors == []
    assert result.findings == []


def test_recursive_types_end(tmp_path: Path) -> None:
    """A type that names itself (a tree of categories) is followed a bounded number of steps."""
    actions = """'use server';
type Category = { id: string; parent: Category; children: Category[]; owner: Owner };
interface Owner extends Owner2 { id: string }
interface Owner2 extends Owner { name: string }
export async function placeOrder(category: Category) {
  console.log("category", category);
  console.log("parent", category.parent.parent.parent.parent.parent.parent.parent);
}
"""
    result = scan(_app(tmp_path, actions), rule_ids=["LL008"], jobs=1)
    assert result.stats.rule_errors == []
    assert result.findings == []


def test_a_finding_found_through_types_now_does_not_take_an_older_baselines_entry(tmp_path: Path) -> None:
    """An older leakline keyed LL008 findings by sink and rank in the file; it did not see `order.customer`. The
    accepted `console.log(email)` keeps its entry, and the finding seen only now is not taken for it."""
    actions = """'use server';
import type { Order } from "@/types/order";
export async function placeOrder(order: Order, email: string) {
  console.log("customer", order.customer);
  console.log("mail", email);
}
"""
    app = _app(tmp_path, actions)
    old = fingerprint("LL008", ACTIONS, "console.log:payment or contact fields", 0)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps({"version": 1, "findings": [{"rule": "LL008", "path": ACTIONS, "fingerprint": old}]})
    )
    result = scan(app, rule_ids=["LL008"], jobs=1, baseline_path=baseline)
    assert [(f.rule, f.path, f.line, f.suppressed) for f in result.findings] == [
        ("LL008", ACTIONS, 4, None),
        ("LL008", ACTIONS, 5, "baseline"),
    ]


def test_a_value_annotated_with_a_plain_type_is_read_through_its_initial_value(tmp_path: Path) -> None:
    actions = """'use server';
import type { Order } from "@/types/order";
export async function placeOrder(order: Order) {
  const to: string = order.customer.email;
  console.log("mail to", to);
  const count: number = order.lines.length;
  console.log("lines", count);
}
"""
    result = scan(_app(tmp_path, actions), rule_ids=["LL008"], jobs=1)
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL008", ACTIONS, 5)]


def test_the_field_may_be_declared_two_imports_away(tmp_path: Path) -> None:
    """The checkout module names no field; Order (types/order.ts) names none either: Customer, imported there,
    declares email."""
    actions = """'use server';
import type { Order } from "@/types/order";
export async function placeOrder(order: Order) {
  console.log("customer", order.customer);
  console.log("order", order.id, order.total);
}
"""
    result = scan(_app(tmp_path, actions), rule_ids=["LL008"], jobs=1)
    assert result.stats.rule_errors == []
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL008", ACTIONS, 4)]


def test_a_long_union_type_is_read_without_deep_recursion(tmp_path: Path) -> None:
    """`type Country = "C0" | "C1" | …` nests one level per member; the last member declares email."""
    members = " | ".join(f'"C{i}"' for i in range(3000))
    actions = f"""'use server';
type Country = {members} | {{ email: string }};
export async function placeOrder(country: Country) {{
  console.log("country", country);
}}
"""
    result = scan(_app(tmp_path, actions), rule_ids=["LL008"], jobs=1)
    assert result.stats.rule_errors == []
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL008", ACTIONS, 4)]
