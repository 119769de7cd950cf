"""ChainCache: recursion and depth are cut, and answers computed under a cut are never reused."""

from __future__ import annotations

from leakline.scan.chains import ChainCache


def test_recursion_is_cut_and_an_answer_under_the_cut_is_not_cached() -> None:
    calls: list[str] = []
    chain: ChainCache[frozenset[str]] = ChainCache(4, frozenset())
    graph = {"a": ["b"], "b": ["a", "c"], "c": []}

    def reach(node: str, depth: int) -> frozenset[str]:
        def compute() -> frozenset[str]:
            calls.append(node)
            out = {node}
            for nxt in graph[node]:
                out |= reach(nxt, depth + 1)
            return frozenset(out)

        return chain.get(node, depth, compute)

    assert reach("a", 0) == {"a", "b", "c"}
    # b was evaluated while a was under way: its answer ({b, c}) lacked a, so b is computed again; a's
    # evaluation contained that cut too, so it is not reused either (conservative: cycles are recomputed).
    assert reach("b", 0) == {"a", "b", "c"}
    assert calls == ["a", "b", "c", "b", "a"]
    # An answer reached without any cut (c) is computed once.
    assert reach("c", 0) == {"c"}
    assert calls.count("c") == 1


def test_the_depth_limit_answers_nothing() -> None:
    chain: ChainCache[int] = ChainCache(2, 0)

    def length(n: int, depth: int) -> int:
        return chain.get(n, depth, lambda: 1 + length(n + 1, depth + 1))

    assert length(0, 0) == 2  # 0 and 1 are evaluated, 2 is past the limit
