"""LL008: which files are part of a checkout flow by where they live, which names are payment or contact
fields, and the findings they give."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from leakline.scan.engine import scan
from leakline.scan.rules.ll008 import _PATH_SEGMENT, FLOW_WORDS, path_is_checkout_flow
from leakline.scan.sensitive import is_sensitive_name
from tests.scan.apps import write_app


def _by_segment_words(rel: str) -> bool:
    """The test without its shortcut: every path segment's words checked."""
    for segment in rel.lower().split("/"):
        words = _PATH_SEGMENT.findall(segment.split(".", 1)[0])
        if any(word in FLOW_WORDS or word.rstrip("s") in FLOW_WORDS for word in words):
            return True
    return False


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("app/checkout/page.tsx", True),
        ("app/(shop)/Orders/[id]/route.ts", True),
        ("lib/payments.ts", True),
        ("app/api/cart-items/route.ts", True),
        ("components/display/Banner.tsx", False),  # "pay" inside a word is no flow word
        ("app/api/chat/route.ts", False),
        ("lib/checkout.test.ts", True),
        ("lib/notes.checkout.ts", False),  # only the stem before the first dot counts
    ],
)
def test_paths_in_a_checkout_flow(rel: str, expected: bool) -> None:
    assert path_is_checkout_flow(rel) is expected


def test_the_shortcut_decides_as_the_segment_words_do() -> None:
    parts = ["app", "api", "lib", "components", "(shop)", "[id]", "route.ts", "page.tsx", "s", "-", "_", ".", "x1"]
    parts += [*FLOW_WORDS, *(word.upper() for word in FLOW_WORDS), *(word[:-1] for word in FLOW_WORDS)]
    rng = random.Random(8)
    verdicts = []
    for _ in range(5_000):
        rel = "/".join("".join(rng.choice(parts) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 4)))
        verdicts.append(path_is_checkout_flow(rel))
        assert verdicts[-1] == _by_segment_words(rel), rel
    assert 500 < sum(verdicts) < 4_500


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # whole names in any spelling
        ("email", True),
        ("e-mail", True),
        ("CARD_NUMBER", True),
        ("mobile", True),
        # the field word last, after a qualifier (camelCase, snake_case, ALLCAPS, plurals, compounds)
        ("customerEmail", True),
        ("receipt_email", True),
        ("customer_email", True),
        ("billingPhone", True),
        ("shippingAddresses", True),
        ("customerIBAN", True),
        ("customerCardNumber", True),
        ("customerDateOfBirth", True),
        ("addressLine1", True),
        ('"customer email"', True),  # an object key with a space: its last part
        ("order.billing_address", True),
        # the field word not last: about the field, not the field
        ("emailSent", False),
        ("addressValidated", False),
        ("emailTemplate", False),
        ("phoneCountryCode", False),
        ("addressId", False),
        ("emailCount", False),
        ("cardBrand", False),
        # flags, counts and hooks
        ("hasPhone", False),
        ("isEmailVerified", False),
        ("isMobile", False),
        ("numEmails", False),
        ("useAddress", False),
        # last words that name other things, and technical or the shop's own values
        ("giftCard", False),
        ("ProductCard", False),
        ("ipAddress", False),
        ("remoteAddress", False),
        ("supportEmail", False),
        ("noreplyEmail", False),
        ("iPhone", False),
    ],
)
def test_sensitive_names(name: str, expected: bool) -> None:
    assert is_sensitive_name(name) is expected


CONTACT = """'use server';
import pino from "pino";
const logger = pino();
export async function createOrder(cartId: string, email: string, customerEmail: string, receipt_email: string) {
  logger.info({ cartId, email }, 'a');
  logger.info({ cartId, customerEmail }, 'b');
  logger.info({ cartId, receipt_email }, 'e');
  console.log(`mail to ${customerEmail}`);
  logger.info({ cartId, customerEmailSent: true, hasCustomerPhone: false }, 'f');
  return { ok: true };
}
"""


def test_qualified_contact_fields_in_an_order_flow(tmp_path: Path) -> None:
    app = write_app(tmp_path, {"lib/orders.ts": CONTACT})
    result = scan(app, rule_ids=["LL008"], jobs=1)
    assert result.stats.rule_errors == []
    assert [(f.rule, f.path, f.line) for f in result.findings] == [
        ("LL008", "lib/orders.ts", 5),
        ("LL008", "lib/orders.ts", 6),
        ("LL008", "lib/orders.ts", 7),
        ("LL008", "lib/orders.ts", 8),
    ]
