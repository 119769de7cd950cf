"""LL019: browser source maps are published (`productionBrowserSourceMaps`, `.map` files or inline maps
in `.next/static`, or in a static export's `out/_next/static`), handing the app's original source, comments and
prompt templates to any visitor. The option is not reported when Sentry's `withSentryConfig` deletes the maps after
uploading them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from leakline.findings import Severity
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.headers import Evaluator, ImportRef, Obj, StaticString, Value
from leakline.scan.index import ProjectIndex, SourceFile
from leakline.scan.rules.base import Hit, Rule

OPTION = "productionBrowserSourceMaps"
STATIC_PREFIX = ".next/static/"
EXPORT_STATIC_PREFIX = "out/_next/static/"
"""A static export's copy of the browser chunks (and their maps), served by whatever hosts `out/`."""
STATIC_PREFIXES = (STATIC_PREFIX, EXPORT_STATIC_PREFIX)
MAP_SUFFIX = ".map"
INLINE_MAP_MARKER = b"sourceMappingURL=data:"
_CHUNK_SUFFIXES = (".js", ".mjs", ".css")


SENTRY_WRAPPER = "withSentryConfig"
# A browser chunk's map as `next build` writes it: what Sentry's `filesToDeleteAfterUpload` globs must cover.
SAMPLE_CLIENT_MAP = ".next/static/chunks/app/page-0123456789abcdef.js.map"


def _glob_covers(glob: str, path: str) -> bool:
    # Imported here: ll013 (and its JSON reader) is needed only for a config wrapped by withSentryConfig.
    from leakline.scan.rules.ll013 import glob_to_regex

    pattern = glob[2:] if glob.startswith("./") else glob
    return glob_to_regex(pattern).match(path) is not None


def _deletes_client_maps(options: Value) -> bool:
    """Sentry's options delete the browser maps from `.next/static` once uploaded:
    `sourcemaps: { deleteSourcemapsAfterUpload: true }` (SDK 8+), or `filesToDeleteAfterUpload` globs that
    cover them; not when `sourcemaps.disable` is true (nothing is uploaded, nothing deleted). `hideSourceMaps`
    (SDK 7) only drops the `sourceMappingURL` comment: the `.map` files are still served."""
    if not isinstance(options, Obj):
        return False
    sourcemaps = options.get("sourcemaps")
    if not isinstance(sourcemaps, Obj) or sourcemaps.get("disable") is True:
        return False
    if sourcemaps.get("deleteSourcemapsAfterUpload") is True:
        return True
    globs = sourcemaps.get("filesToDeleteAfterUpload")
    if isinstance(globs, StaticString):
        globs = [globs]
    return isinstance(globs, list) and any(
        isinstance(g, StaticString) and g.is_fully_static and _glob_covers(g.value, SAMPLE_CLIENT_MAP) for g in globs
    )


def sentry_deletes_maps(index: ProjectIndex, config: SourceFile) -> bool:
    """next.config wraps its config in Sentry's `withSentryConfig(config, options)` with options that delete the
    browser source maps after uploading them."""
    if SENTRY_WRAPPER.encode() not in config.data() or config.root is None:
        return False
    ev = Evaluator(index, config, config.root)
    for node in ts.walk(config.root):
        if node.type != "call_expression":
            continue
        callee = ts.callee_path(node.child_by_field_name("function") or node)
        if callee.rsplit(".", 1)[-1] != SENTRY_WRAPPER:
            continue
        args = node.child_by_field_name("arguments")
        options = [a for a in args.named_children if a.type != "comment"][1:] if args is not None else []
        if any(_deletes_client_maps(ev.eval(option)) for option in options):
            return True
    return False


def _option_hits(index: ProjectIndex, f: SourceFile) -> Iterator[Hit]:
    if OPTION.encode() not in f.data() or f.root is None:
        return
    ev = Evaluator(index, f, f.root)
    for node in ts.walk(f.root):
        if node.type == "pair":
            key = node.child_by_field_name("key")
            if key is None or ts.text(key).strip("'\"") != OPTION:
                continue
            value = ev.eval(node.child_by_field_name("value"))
        elif node.type == "shorthand_property_identifier" and ts.text(node) == OPTION:
            value = ev.eval_name(OPTION)
        else:
            continue
        # Only a value known to be true: `process.env.X === '1'` may be off in production builds.
        if value is not True:
            continue
        line, column = node.start_point
        yield Hit(
            path=f.rel,
            line=line + 1,
            column=column + 1,
            message=f"{OPTION}: true publishes the original browser source (.map files) with every build",
            evidence=f"{OPTION}: true",
            key=OPTION,
        )


def _config_modules(index: ProjectIndex, config: SourceFile) -> list[SourceFile]:
    """next.config and the project modules it imports that mention the option (shared base configs)."""
    out = [config]
    if config.root is None:
        return out
    for bound in Evaluator(index, config, config.root).bindings.values():
        other = index.get(bound.resolved) if isinstance(bound, ImportRef) and bound.resolved else None
        if other is not None and all(o.rel != other.rel for o in out) and OPTION.encode() in other.data():
            out.append(other)
    return out


def _inline_map_line(f: SourceFile) -> int | None:
    data = f.data()
    pos = data.find(INLINE_MAP_MARKER)
    if pos < 0:
        return None
    return data.count(b"\n", 0, pos) + 1


class BrowserSourceMaps(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        index = ctx.index
        # Maps that Sentry deletes after upload never reach the deployment; any left in .next/static by a build
        # are still reported below, file by file.
        if index.next_config is not None and not sentry_deletes_maps(index, index.next_config):
            for f in _config_modules(index, index.next_config):
                yield from _option_hits(index, f)
        for rel, f in index.files.items():
            # The same map in .next/static and out/_next/static is reported in each: they are deployed apart.
            if not rel.startswith(STATIC_PREFIXES):
                continue
            if rel.endswith(MAP_SUFFIX):
                # A stylesheet's map exposes styles, not code, prompts or endpoints.
                css = rel.endswith(".css" + MAP_SUFFIX)
                yield Hit(
                    path=rel,
                    line=1,
                    column=1,
                    message=(
                        "CSS source map served from /_next/static: the original stylesheets are public"
                        if css
                        else "source map served from /_next/static: the original source is public"
                    ),
                    evidence=f.name,
                    key="map-file",
                    severity=Severity.LOW if css else None,
                )
            elif rel.endswith(_CHUNK_SUFFIXES):
                line = _inline_map_line(f)
                if line is not None:
                    yield Hit(
                        path=rel,
                        line=line,
                        column=1,
                        message="inline source map (sourceMappingURL=data:) in a browser chunk: the source is public",
                        evidence="sourceMappingURL=data:…",
                        key="inline-map",
                    )


RULE_CLASS = BrowserSourceMaps
