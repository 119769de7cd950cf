"""Byte-level prefilters: which source files the LLM-data analysis can rule out without parsing them.

Parsing is most of what a scan costs (tree-sitter takes ~1.3 ms for a 4 KB TypeScript file, the shared node query
another ~0.5 ms), and most modules of a shop never touch a model. Under the analysis in `leakline.scan.llmdata`, a
file can hold LLM data only if it calls a model itself (an OpenAI/AI SDK/ollama call, the Assistants API, openai
v3/openai-edge, a LangChain model or LangGraph client, an Anthropic, Google GenAI or Mistral SDK client, or an HTTP
client aimed at an LLM URL or at one of the app's own routes), uses an AI SDK hook, UI message stream or stream
helper, or imports a module that can (`import`, `export … from`, `import()` or a CommonJS `require()`: the
specifiers `index.import_specs` reads), or fetches the route of such a file behind a base URL (`${base}/api/ask`).
The tests here read bytes only and err towards "may": a file they keep may still hold nothing, but a file they drop
cannot hold LLM data, so rules that report only LLM data skip it unparsed. Parameter seeds (props a parent passes,
see `FileLlm.seed_props`) are the one source they cannot see; `LlmAnalysis.may_hold_llm_data` checks those
separately. A Pages Router page's props are not such a seed:
its data functions are in the page or in the modules it imports or re-exports them from (`export {
getServerSideProps } from`), so a page whose props can carry LLM data is kept with those modules.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakline.scan.llmdata import (
    AI_SDK_FUNCTIONS,
    AI_SDK_HOOKS,
    LEGACY_STREAM_HELPERS,
    LLM_ENV_MARKERS,
    LLM_URL_PATHS,
    OPENAI_SUFFIXES,
    OPENAI_V3_METHODS,
    SDK_CLIENT_CLASSES,
    TGI_URL_PATHS,
    UI_STREAM_FUNCTIONS,
)
from leakline.scan.sensitive import SEGMENT, is_sensitive_name

if TYPE_CHECKING:
    from threading import Thread

    from leakline.scan.hscache import CachedDatabase
    from leakline.scan.index import ProjectIndex, SourceFile

# Every OpenAI callee the analysis recognises ends in one of these words' paths (`chat.completions.create`).
_OPENAI_WORDS = tuple(sorted({suffix.split(".")[-2].encode() for suffix in OPENAI_SUFFIXES}))
_SDK_NAMES = tuple(
    name.encode() for name in sorted(AI_SDK_FUNCTIONS | AI_SDK_HOOKS | UI_STREAM_FUNCTIONS | LEGACY_STREAM_HELPERS)
)
# The other clients' calls: every Assistants API callee has `threads` in its path, openai v3/openai-edge methods
# are named alike, and a LangChain model or LangGraph client is built from an import whose specifier names
# `langchain` (a module using one built elsewhere imports that module, and is kept with it). So is a provider SDK's
# client (`new Anthropic()`, `new GoogleGenAI()`, `new Mistral()`): from the package's class, imported by name.
_CLIENT_WORDS = (
    b"threads",
    b"langchain",
    *sorted(name.encode() for name in OPENAI_V3_METHODS),
    *sorted(package.encode() for package in SDK_CLIENT_CLASSES),
)
_URL_PATHS = tuple(path.encode() for path in (*LLM_URL_PATHS, *TGI_URL_PATHS))
_ENV_MARKERS = tuple(marker.encode() for marker in LLM_ENV_MARKERS)
# The HTTP clients of `llmdata.HTTP_CLIENT_CALLEES`, as whole words (a leading `$` still counts: `$fetch`).
_HTTP_CLIENT_WORDS = (b"fetch", b"axios", b"ky", b"got")
_QUOTES = (b'"', b"'", b"`")


def _is_word_byte(b: bytes) -> bool:
    return bool(b) and (b.isalnum() or b == b"_")


def _has_word(data: bytes, word: bytes) -> bool:
    start = data.find(word)
    while start != -1:
        end = start + len(word)
        after = data[end : end + 1]
        if not _is_word_byte(data[start - 1 : start] if start else b"") and not (_is_word_byte(after) or after == b"$"):
            return True
        start = data.find(word, end)
    return False


def _has_own_path(data: bytes) -> bool:
    """A string or template literal starting with one slash: a path on the app's own origin."""
    for quote in _QUOTES:
        start = data.find(quote + b"/")
        while start != -1:
            if data[start + 2 : start + 3] != b"/":
                return True
            start = data.find(quote + b"/", start + 2)
    return False


# Hyperscan groups: a model/SDK name alone decides; an HTTP client decides together with an LLM hint.
_HS_DECIDES, _HS_CLIENT, _HS_HINT = 0, 1, 2


def _hs_patterns(hyperscan: Any) -> tuple[list[bytes], list[int], list[int]]:
    """Expressions, group ids and flags of the Hyperscan pass (what its cached database is keyed by)."""
    caseless = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
    exact = hyperscan.HS_FLAG_SINGLEMATCH
    patterns: list[tuple[bytes, int, int]] = []
    patterns += [(re.escape(word), _HS_DECIDES, exact) for word in (*_OPENAI_WORDS, *_SDK_NAMES, *_CLIENT_WORDS)]
    patterns.append((b"ollama", _HS_DECIDES, caseless))
    # Whole words; `$fetch` counts (a `$` before the word is not a word character for `\b`).
    patterns.append((rb"\b(?:fetch|axios|ky|got|ofetch)\b", _HS_CLIENT, exact))
    patterns += [(re.escape(path), _HS_HINT, exact) for path in _URL_PATHS]
    patterns.append((rb"[\"'`]/([^/]|$)", _HS_HINT, exact))
    patterns += [(re.escape(marker), _HS_HINT, caseless) for marker in _ENV_MARKERS]
    return [p for p, _, _ in patterns], [group for _, group, _ in patterns], [flags for _, _, flags in patterns]


class _LiteralScanner:
    """All of `calls_model_maybe`'s byte tests in one Hyperscan pass (the Python tests run ~30 substring
    searches per file, most of a 5,000-file scan's prefilter time)."""

    def __init__(self, hyperscan: Any, database: Any) -> None:
        self._db = database
        self._scratch = hyperscan.Scratch(database)
        self._terminated: type[BaseException] = hyperscan.ScanTerminated

    def decide(self, data: bytes) -> bool:
        seen = [False, False, False]

        def on_match(group: int, _start: int, _end: int, _flags: int, _context: object) -> bool | None:
            seen[group] = True
            # Returning True stops the scan: the answer cannot change any more.
            return True if seen[_HS_DECIDES] or (seen[_HS_CLIENT] and seen[_HS_HINT]) else None

        with contextlib.suppress(self._terminated):  # raised when on_match stops the scan early
            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        return seen[_HS_DECIDES] or (seen[_HS_CLIENT] and seen[_HS_HINT])


_CACHE_NAME = "prefilter"
"""The prefilter's database files in the cache folder are `prefilter-<key>.hsdb`."""


_SCANNERS: dict[Path | None, _LiteralScanner] = {}
"""Scanners made in this process, by cache folder (None: compiled without a cache)."""


def _cache_entry(hyperscan: Any, cache_dir: Path) -> CachedDatabase:
    from leakline.scan.hscache import CachedDatabase

    return CachedDatabase(hyperscan, cache_dir, _CACHE_NAME, *_hs_patterns(hyperscan), hyperscan.HS_MODE_BLOCK)


def _compile(hyperscan: Any, cache_dir: Path | None) -> _LiteralScanner:
    """Compile the pass's database, store it in `cache_dir` (if any) and keep its scanner for this process."""
    expressions, ids, flags = _hs_patterns(hyperscan)
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=expressions, ids=ids, flags=flags)
    if cache_dir is not None:
        _cache_entry(hyperscan, cache_dir).store(database)
    scanner = _SCANNERS[cache_dir] = _LiteralScanner(hyperscan, database)
    return scanner


def _cached_scanner(hyperscan: Any, cache_dir: Path) -> _LiteralScanner | None:
    """The pass with its database loaded from `cache_dir`, or None if no usable one is there."""
    scanner = _SCANNERS.get(cache_dir)
    if scanner is None:
        database = _cache_entry(hyperscan, cache_dir).load()
        if database is not None:
            scanner = _SCANNERS[cache_dir] = _LiteralScanner(hyperscan, database)
    return scanner


def _literal_scanner(cache_dir: Path | None = None) -> _LiteralScanner | None:
    """The Hyperscan pass, its database loaded from `cache_dir` when a usable one is there, else compiled (and
    stored there); None without Hyperscan."""
    try:
        import hyperscan
    except ImportError:
        return None
    scanner = _SCANNERS.get(cache_dir) if cache_dir is None else _cached_scanner(hyperscan, cache_dir)
    return scanner if scanner is not None else _compile(hyperscan, cache_dir)


def _fill_cache(hyperscan: Any, cache_dir: Path) -> None:
    """`_compile` for a background thread: a failure is a debug line, never a traceback on stderr."""
    try:
        _compile(hyperscan, cache_dir)
    except Exception as exc:
        from leakline.scan.hscache import debug

        debug("hyperscan cache %s: could not compile the prefilter: %s", cache_dir, exc)


HYPERSCAN_MIN_FILES = 500
"""From this many files a scan uses Hyperscan even if it must compile the database: ~50-67 us a file for the
Python tests against ~6-7.5 us, but importing Hyperscan and compiling its database takes 20-45 ms (4 KB
TypeScript files, 2 vCPU)."""
HYPERSCAN_CACHED_MIN_FILES = 100
"""From this many files a database in the cache pays: importing Hyperscan and loading it takes ~4 ms."""


def _prefilter_for(files: int, cache_dir: Path | None) -> tuple[_LiteralScanner | None, Thread | None]:
    """How `files` source files are tested: the Hyperscan pass (None: the Python tests), and a thread compiling
    its database into the cache meanwhile, to be joined before the workers fork (a plain pair: a NamedTuple
    class costs this module's import ~0.5 ms). A mid-sized app whose database is not cached yet is tested in
    Python, as without a cache, while the thread compiles the database for the next scans: the compile lets go
    of the GIL, so it runs on a core that is idle until the workers are forked."""
    if files >= HYPERSCAN_MIN_FILES:
        return _literal_scanner(cache_dir), None
    if cache_dir is None or files < HYPERSCAN_CACHED_MIN_FILES:
        return None, None
    try:
        import hyperscan
    except ImportError:
        return None, None
    scanner = _cached_scanner(hyperscan, cache_dir)
    if scanner is not None:
        return scanner, None
    from threading import Thread

    filling = Thread(target=_fill_cache, args=(hyperscan, cache_dir), name="leakline-prefilter-compile")
    filling.start()
    return None, filling


def calls_model_maybe(data: bytes) -> bool:
    """The file may call a model itself or use an AI SDK hook (judged on its bytes)."""
    scanner = _literal_scanner()
    if scanner is not None:
        return scanner.decide(data)
    return calls_model_maybe_python(data)


def _needed(needles: tuple[bytes, ...], searched_before: tuple[bytes, ...] = ()) -> tuple[bytes, ...]:
    """`needles` without those that contain another of them, or one of `searched_before` (whose search came
    first and found nothing): wherever such a needle occurs, the one inside it does too, so searching for it
    cannot change the answer (`experimental_useObject` holds `useObject`, `/v1/completions` holds
    `completions`, `VLLM` holds `LLM`). Each search reads the whole file; this drops 6 of ~30."""
    return tuple(
        needle
        for needle in needles
        if not any(other != needle and other in needle for other in (*needles, *searched_before))
    )


_DECIDING_WORDS = _needed((*_OPENAI_WORDS, *_SDK_NAMES, *_CLIENT_WORDS))
_URL_PATHS_LEFT = _needed(_URL_PATHS, searched_before=_DECIDING_WORDS)
# Markers are searched in the upper-cased bytes, after `ollama` was not found in the lower-cased ones.
_ENV_MARKERS_LEFT = _needed(_ENV_MARKERS, searched_before=(b"OLLAMA",))


def calls_model_maybe_python(data: bytes) -> bool:
    """`calls_model_maybe` without Hyperscan (and the reference its Hyperscan pass is tested against)."""
    if any(word in data for word in _DECIDING_WORDS):
        return True
    if b"ollama" in data.lower():
        return True
    if not any(_has_word(data, word) for word in _HTTP_CLIENT_WORDS):
        return False
    if any(path in data for path in _URL_PATHS_LEFT) or _has_own_path(data):
        return True
    upper = data.upper()
    return any(marker in upper for marker in _ENV_MARKERS_LEFT)


def project_imports(index: ProjectIndex, f: SourceFile) -> set[str]:
    """Project files `f` may import, from its bytes (a superset of what the parsed imports resolve to)."""
    out: set[str] = set()
    for spec in index.import_specs_of(f):
        resolved = index.resolve_import(f.rel, spec)
        if resolved is not None and resolved != f.rel:
            out.add(resolved)
    return out


def llm_candidates(index: ProjectIndex, sources: Iterable[SourceFile], cache_dir: Path | None = None) -> frozenset[str]:
    """Files that may hold LLM data: those that may call a model, and every file importing one of them.
    `cache_dir`: where compiled Hyperscan databases are kept (`leakline.scan.hscache`), None for no cache."""
    files = list(sources)
    scanner, filling = _prefilter_for(len(files), cache_dir)
    try:
        return _reach(index, files, scanner.decide if scanner is not None else calls_model_maybe_python)
    finally:
        if filling is not None:
            # Before scan workers are forked: a thread still running in the parent at a fork could leave them
            # locks it held.
            filling.join()


def _reach(index: ProjectIndex, files: list[SourceFile], calls_model: Callable[[bytes], bool]) -> frozenset[str]:
    importers: dict[str, set[str]] = {}
    todo: list[str] = []
    for f in files:
        if f.language is None:
            continue
        if calls_model(f.data()):
            todo.append(f.rel)
        for target in project_imports(index, f):
            importers.setdefault(target, set()).add(f.rel)
    reach: set[str] = set()
    while todo:
        while todo:
            rel = todo.pop()
            if rel in reach:
                continue
            reach.add(rel)
            todo.extend(importers.get(rel, set()) - reach)
        # A file added here may be a route itself, fetched the same way elsewhere: until nothing is added.
        todo = _fetching_own_routes(index, files, reach)
    return frozenset(reach)


# A path after a template substitution: `${process.env.NEXT_PUBLIC_APP_URL}/api/assistant`.
_PATH_AFTER_BASE = re.compile(rb"\}(/[A-Za-z0-9_\-./]*)")


def _fetching_own_routes(index: ProjectIndex, files: list[SourceFile], reach: set[str]) -> list[str]:
    """Files left out of `reach` that fetch one of its routes behind a base URL (`${base}/api/assistant`): the
    analysis resolves such a URL to the route (`FileLlm._is_llm_url`), and a route whose answer is LLM data is in
    `reach`. Only paths written after a `}` are read, and only compared with those routes' URLs."""
    urls = {url for url, route in index.routes_by_url.items() if route.rel in reach}
    if not urls:
        return []
    dynamic = [url.strip("/").split("/") for url in urls if "[" in url]
    verdicts: dict[bytes, bool] = {}
    out = []
    for f in files:
        if f.rel in reach or f.language is None or b"}/" not in f.data():
            continue
        for raw in _PATH_AFTER_BASE.findall(f.data()):
            verdict = verdicts.get(raw)
            if verdict is None:
                path = raw.decode("utf-8", errors="replace").rstrip("/") or "/"
                actual = path.strip("/").split("/")
                verdict = verdicts[raw] = path in urls or any(
                    len(pattern) == len(actual)
                    and all(
                        p == a or (p.startswith("[") and p.endswith("]")) for p, a in zip(pattern, actual, strict=True)
                    )
                    for pattern in dynamic
                )
            if verdict:
                out.append(f.rel)
                break
    return out


def names_sensitive_field_maybe(data: bytes) -> bool:
    """The file has a name that `leakline.scan.sensitive.is_sensitive_name` accepts (identifier or key).

    That function judges a name by its last run of `[A-Za-z0-9_$-]` (`sensitive.SEGMENT`), and every such
    run of a name the analysis reads is a whole run of the file's text, or a hyphen-separated part of one
    (`total-customerEmail`): testing both is sound."""
    text = data.decode("utf-8", errors="replace")
    for run in set(SEGMENT.findall(text)):
        if is_sensitive_name(run) or ("-" in run and any(is_sensitive_name(part) for part in run.split("-"))):
            return True
    return False
