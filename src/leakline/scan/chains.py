"""Answers about project functions that depend on the functions they call, followed a bounded depth.

Rules that follow data through helpers (LL007: which parameters reach a log; LL012: which parameters'
error details are returned) ask the same question of each function they meet. `ChainCache` answers it
once per function, cuts recursion (a function already being evaluated answers "nothing" to itself) and
stops at a depth limit. An answer computed below such a cut may lack what the cut hid, so it is only
returned, never cached; complete answers are cached for the whole scan.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ChainCache(Generic[V]):
    """One rule's answers per function for one scan; `nothing` is the answer a cut gives."""

    def __init__(self, max_depth: int, nothing: V) -> None:
        self.max_depth = max_depth
        self._nothing = nothing
        self._cache: dict[Hashable, V] = {}
        self._active: set[Hashable] = set()
        self._cut = False
        """Set when the evaluation under way met recursion or the depth limit."""

    def get(self, key: Hashable, depth: int, compute: Callable[[], V]) -> V:
        """The answer for `key` (a function), computing it with `compute` unless known, at `depth` calls deep."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if key in self._active or depth >= self.max_depth:
            self._cut = True
            return self._nothing
        outer_cut, self._cut = self._cut, False
        self._active.add(key)
        try:
            found = compute()
        finally:
            self._active.discard(key)
        if not self._cut:
            self._cache[key] = found
        self._cut = self._cut or outer_cut
        return found
