"""LL020: baseline security headers (HSTS, nosniff, Referrer-Policy, frame protection) are not all set."""

from __future__ import annotations

import re
from collections.abc import Iterable

from leakline.scan.context import ScanContext
from leakline.scan.headers import (
    CSP,
    FRAME_OPTIONS,
    HSTS,
    NOSNIFF,
    REFERRER,
    AppHeaders,
    HeaderOrigin,
    HeaderSetting,
    config_anchor,
    has_frame_ancestors,
)
from leakline.scan.rules.base import Hit, Rule

_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def _hsts_effective(setting: HeaderSetting) -> bool:
    """HSTS with max-age=0 tells browsers to forget the host: no protection."""
    if setting.value is None or not setting.value.is_fully_static:
        return True
    match = _MAX_AGE.search(setting.value.value)
    return match is None or int(match.group(1)) > 0


def _nosniff_effective(setting: HeaderSetting) -> bool:
    if setting.value is None or not setting.value.is_fully_static:
        return True
    return setting.value.value.strip().lower() == "nosniff"


def _header_set(setting: HeaderSetting) -> bool:
    # Browsers ignore <meta http-equiv> for everything but CSP; <meta name="referrer"> is a real policy.
    return setting.origin is not HeaderOrigin.META


def missing_baseline(headers: AppHeaders) -> list[str]:
    missing: list[str] = []
    if not any(_header_set(s) and _hsts_effective(s) for s in headers.named(HSTS)):
        missing.append("Strict-Transport-Security")
    if not any(_header_set(s) and _nosniff_effective(s) for s in headers.named(NOSNIFF)):
        missing.append("X-Content-Type-Options: nosniff")
    if not headers.named(REFERRER):
        missing.append("Referrer-Policy")
    framed = any(_header_set(s) for s in headers.named(FRAME_OPTIONS)) or any(
        s.origin is not HeaderOrigin.META and (s.value is None or has_frame_ancestors(s.value.value))
        for s in headers.named(CSP)
    )
    if not framed:
        missing.append("frame protection (X-Frame-Options or CSP frame-ancestors)")
    return missing


class MissingSecurityHeaders(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        missing = missing_baseline(ctx.headers)
        anchor = config_anchor(ctx.index)
        if not missing or anchor is None:
            return
        yield Hit(
            path=anchor,
            line=1,
            column=1,
            message="missing baseline security headers: " + ", ".join(missing),
            evidence=", ".join(missing),
            # Stable while headers get added one by one: a baselined finding must not turn "new" as it improves.
            key="missing-security-headers",
        )


RULE_CLASS = MissingSecurityHeaders
