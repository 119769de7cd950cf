"""LL001: no Content-Security-Policy is set anywhere in the app (Report-Only does not enforce one)."""

from __future__ import annotations

from collections.abc import Iterable

from leakline.scan.context import ScanContext
from leakline.scan.headers import CSP, CSP_REPORT_ONLY, config_anchor
from leakline.scan.routes import locate_middleware
from leakline.scan.rules.base import Hit, Rule


class MissingCsp(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        headers = ctx.headers
        if headers.enforced_csp:
            return
        anchor = config_anchor(ctx.index)
        if anchor is None:
            return
        message = (
            "no Content-Security-Policy is set (next.config headers(), middleware/proxy, vercel.json, "
            "<meta http-equiv> and security-header helpers were checked)"
        )
        report_only = headers.named(CSP_REPORT_ONLY)
        if report_only:
            first = report_only[0]
            message += f"; only Content-Security-Policy-Report-Only ({first.path}:{first.line}), which blocks nothing"
        unused = next((s for s in headers.ignored if s.name == CSP), None)
        if unused is not None:
            skipped = next(m for m in locate_middleware(ctx.index).ignored if m.file.rel == unused.path)
            message += f"; {unused.path}:{unused.line} sets one, but {skipped.hint()}"
        yield Hit(path=anchor, line=1, column=1, message=message, evidence="", key="no-csp")


RULE_CLASS = MissingCsp
