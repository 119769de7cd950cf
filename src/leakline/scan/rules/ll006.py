"""LL006: an LLM-calling route with no data-residency check in front of it.

A route handler, API route or server action that calls an LLM (directly or through project
wrappers), or a middleware that itself rewrites to an LLM upstream, must sit behind a middleware
(Next 16: proxy) that reads the visitor's country and branches on it. Reported on the middleware
when it never checks a country (its export line), when its `config.matcher` misses LLM routes
(the matcher line), when a path test lets them through before the check (the export line) or when the
check itself only runs for other paths (its `if` line); on each LLM route when the app has no middleware.
Every reason a route goes unchecked is reported at once: a middleware without a country check whose matcher
also misses LLM routes is one finding naming both, and the matcher, early-exit and path-guard findings each
judge every LLM route, not only those an earlier reason left over. Fixing one reason must not reveal another
in the next CI run.

Without `[residency] allowed_regions` (no residency obligation declared) each message ends by saying how to
switch the rule off for an app that has none: `[scan] disable_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.middleware import MiddlewareFacts, analyse_middleware, export_entry
from leakline.scan.routes import IgnoredMiddleware, LlmRoute, Position, llm_routes, locate_middleware
from leakline.scan.rules.base import Hit, Rule

REWRITE_CALLEES = frozenset({"NextResponse.rewrite"})
MAX_LISTED = 3
OFF_HINT = (
    " (if this app has no data-residency obligation, switch LL006 off in leakline.toml:"
    ' [scan] disable_rules = ["LL006"])'
)


def _listing(routes: list[LlmRoute]) -> str:
    shown = ", ".join(route.file.rel for route in routes[:MAX_LISTED])
    more = len(routes) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _llm_rewrite(ctx: ScanContext) -> Position | None:
    """Where the middleware rewrites to (or fetches) an LLM upstream itself."""
    mw = locate_middleware(ctx.index).active
    if mw is None or mw.root is None:
        return None
    llm = ctx.llm.file(mw)
    if llm is None:
        return None
    for node in ts.walk(mw.root):
        if node.type != "call_expression":
            continue
        fn = node.child_by_field_name("function")
        if fn is not None and ts.callee_path(fn) in REWRITE_CALLEES:
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            if first is not None and _is_llm_destination(llm.is_llm_url, first):
                return Position(node.start_point[0] + 1, node.start_point[1] + 1)
    calls = llm.llm_call_nodes()
    if calls:
        first_call = min(calls, key=lambda n: n.start_byte)
        return Position(first_call.start_point[0] + 1, first_call.start_point[1] + 1)
    return None


def _is_llm_destination(is_llm_url: Callable[[Node], bool], node: Node) -> bool:
    """`new URL(path, process.env.OLLAMA_URL)` goes to the LLM when any of its parts names it."""
    node = ts.unwrap(node)
    if node.type == "new_expression":
        args = node.child_by_field_name("arguments")
        return args is not None and any(is_llm_url(arg) for arg in args.named_children)
    return is_llm_url(node)


def _describe_miss(url: str, facts: MiddlewareFacts) -> str:
    example = facts.matcher.uncovered(url) if facts.matcher is not None else None
    return url if example in (None, url) else f"{url} (e.g. {example})"


def _matcher_misses(facts: MiddlewareFacts, routes: list[LlmRoute]) -> tuple[list[LlmRoute], list[str]]:
    """The LLM routes `config.matcher` leaves out, and their URLs it misses (described, sorted)."""
    missed = [route for route in routes if route.urls and not all(facts.covers(url) for url in route.urls)]
    urls = sorted({_describe_miss(url, facts) for route in missed for url in route.urls if not facts.covers(url)})
    return missed, urls


class LlmRouteWithoutResidencyCheck(Rule):
    uses_llm_routes = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        # An app that declares allowed regions has a residency obligation: telling it how to switch the rule off
        # would be bad advice.
        hint = "" if ctx.index.settings.residency.allowed_regions else OFF_HINT
        for hit in self._hits(ctx):
            yield hit._replace(message=hit.message + hint)

    def _hits(self, ctx: ScanContext) -> Iterable[Hit]:
        routes = llm_routes(ctx)
        location = locate_middleware(ctx.index)
        facts = analyse_middleware(ctx.index)
        if facts is None:
            if location.ignored:
                yield from self._ignored_middleware(location.ignored, routes)
            else:
                yield from self._no_middleware(routes)
            return
        rewrite = _llm_rewrite(ctx)
        if not routes and rewrite is None:
            return
        if not facts.country_check:
            yield self._never_checks(facts, routes, rewrite, location.ignored)
            return
        missed, urls = _matcher_misses(facts, routes)
        if missed and facts.matcher is not None:
            yield Hit(
                path=facts.rel,
                line=facts.matcher.line,
                column=facts.matcher.column,
                message=(
                    f"the middleware's config.matcher does not cover LLM route(s) {', '.join(urls)} "
                    f"({_listing(missed)}): their requests skip the country check"
                ),
                evidence="matcher misses " + ", ".join(urls),
                key="matcher misses " + ", ".join(urls),
            )
        # Judged on every LLM route, the ones the matcher misses too: once the matcher is fixed, an early exit or a
        # path guard would leave them unchecked all the same, and that must show now, not in the next run.
        bypassed = [route for route in routes if any(facts.exit_before_check(url) for url in route.urls)]
        yield from self._early_exits(facts, bypassed)
        yield from self._guarded_check(facts, routes)

    def _guarded_check(self, facts: MiddlewareFacts, routes: list[LlmRoute]) -> Iterable[Hit]:
        """Routes the matcher covers whose requests the country check's own path conditions leave out."""
        guard = facts.guard
        if guard is None:
            return
        skipped = [route for route in routes if any(facts.check_skips(url) for url in route.urls)]
        if not skipped:
            return
        urls = sorted({url for route in skipped for url in route.urls if facts.check_skips(url)})
        named = ", ".join(
            f"{url} ({', '.join(sorted({r.file.rel for r in skipped if url in r.urls}))})" for url in urls
        )
        yield Hit(
            path=facts.rel,
            line=guard.line,
            column=guard.column,
            message=f"the middleware's country check only runs for some paths: LLM route(s) {named} skip it",
            evidence="country check skips " + ", ".join(urls),
            key="country check skips " + ", ".join(urls),
        )

    def _early_exits(self, facts: MiddlewareFacts, routes: list[LlmRoute]) -> Iterable[Hit]:
        """Routes the matcher covers but a path test returns for before the country check."""
        bypassed: dict[int, list[str]] = {}
        exits = {}
        for route in routes:
            for url in route.urls:
                early = facts.exit_before_check(url)
                if early is not None:
                    bypassed.setdefault(early.line, []).append(url)
                    exits[early.line] = early
        if not bypassed:
            return
        described = "; ".join(
            f"line {line} lets {exits[line].describe()} through ({', '.join(sorted(set(urls)))})"
            for line, urls in sorted(bypassed.items())
        )
        yield Hit(
            path=facts.rel,
            line=facts.entry.line,
            column=facts.entry.column,
            message=f"the middleware returns before its country check for LLM routes: {described}",
            evidence="early return before the country check",
            key="early return " + ", ".join(sorted({u for urls in bypassed.values() for u in urls})),
        )

    def _no_middleware(self, routes: list[LlmRoute]) -> Iterable[Hit]:
        for route in routes:
            yield Hit(
                path=route.file.rel,
                line=route.handler.line,
                column=route.handler.column,
                message=(
                    f"this {route.kind} calls an LLM and the app has no middleware/proxy: no data-residency "
                    "(visitor country) check runs before it"
                ),
                evidence=route.kind,
                key="no middleware",
            )

    def _ignored_middleware(self, ignored: tuple[IgnoredMiddleware, ...], routes: list[LlmRoute]) -> Iterable[Hit]:
        """A middleware/proxy exists but where Next.js never runs it: whatever it checks, nothing is checked."""
        if not routes:
            return
        for skipped in ignored:
            entry = export_entry(skipped.file)
            yield Hit(
                path=skipped.file.rel,
                line=entry.line,
                column=entry.column,
                message=(
                    f"{skipped.hint()}. Until then no data-residency (visitor country) check runs before the "
                    f"LLM route(s) {_listing(routes)}"
                ),
                evidence=f"{skipped.file.rel} is not run; expected {skipped.should_be}",
                key=f"ignored middleware {skipped.file.rel}",
            )

    def _never_checks(
        self,
        facts: MiddlewareFacts,
        routes: list[LlmRoute],
        rewrite: Position | None,
        ignored: tuple[IgnoredMiddleware, ...] = (),
    ) -> Hit:
        if facts.removed_geo is not None:
            why = f"it reads request.geo (line {facts.removed_geo.line}), which Next.js 15 removed: always undefined"
        else:
            why = "it never branches on a country signal (x-vercel-ip-country, cf-ipcountry, geolocation())"
        if ignored:
            why += "; " + "; ".join(f"{skipped.file.rel} is not run instead ({skipped.why})" for skipped in ignored)
        evidence = "no country check"
        missed, urls = _matcher_misses(facts, routes)
        if missed and facts.matcher is not None:
            # Both reasons in one finding: a check added without widening the matcher would still miss them.
            why += (
                f"; and its config.matcher (line {facts.matcher.line}) does not cover LLM route(s) {', '.join(urls)},"
                " so a country check added to it would not run for them either"
            )
            evidence += "; matcher misses " + ", ".join(urls)
        guarded = _listing(routes) if routes else ""
        if rewrite is not None:
            guarded = "its own rewrite to an LLM upstream" + (f" and {guarded}" if guarded else "")
        return Hit(
            path=facts.rel,
            line=facts.entry.line,
            column=facts.entry.column,
            message=f"the middleware does no data-residency check for LLM traffic ({guarded}): {why}",
            evidence=evidence,
            key="no country check",
        )


RULE_CLASS = LlmRouteWithoutResidencyCheck
