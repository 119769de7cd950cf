"""LL002: a Content-Security-Policy that still lets injected scripts run or lets a page send data anywhere."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from leakline.scan.context import ScanContext
from leakline.scan.headers import CSP, header_weaknesses
from leakline.scan.rules.base import Hit, Rule


class WeakCsp(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        by_place: dict[tuple[str, int], list[str]] = defaultdict(list)
        columns: dict[tuple[str, int], int] = {}
        directives: dict[tuple[str, int], set[str]] = defaultdict(set)
        for setting in ctx.headers.named(CSP):
            if setting.value is None:
                continue  # set at run time: nothing to judge statically
            for weakness in header_weaknesses(setting.value.value):
                path, line, column = setting.value.location_at(weakness.offset)
                if line <= 0:
                    path, line, column = setting.path, setting.line, setting.column
                # The policy text may live in another module than the one that sets the header.
                place = (path or setting.path, line)
                text = f"{weakness.directive}: {weakness.detail}"
                if text not in by_place[place]:
                    by_place[place].append(text)
                columns.setdefault(place, column)
                directives[place].add(weakness.directive)
        for (path, line), problems in sorted(by_place.items()):
            yield Hit(
                path=path,
                line=line,
                column=columns[(path, line)],
                message="weak Content-Security-Policy: " + "; ".join(problems),
                evidence="; ".join(problems),
                # The directives, not the list of problems: fixing one of two problems keeps the fingerprint.
                key="weak-csp:" + ",".join(sorted(directives[(path, line)])),
            )


RULE_CLASS = WeakCsp
