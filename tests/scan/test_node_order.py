"""`parse.nodes_of_types` lists nodes in document order, parents first, as a walk of the tree does: the
analysis and the rules rely on that order, and the query's matches are taken as they come, unsorted."""

from __future__ import annotations

from pathlib import Path

from leakline.scan import parse as ts
from leakline.scan.index import INDEXED_NODE_TYPES
from leakline.scan.llmdata import FUNCTION_TYPES
from tests.conftest import REPO

KIND_SETS = (
    INDEXED_NODE_TYPES,
    tuple(sorted(FUNCTION_TYPES)),
    ("call_expression",),
    ("identifier", "member_expression", "string", "template_string"),
    ("statement_block", "expression_statement", "parenthesized_expression", "arguments"),
)


def _sources() -> list[Path]:
    """The fixture apps' and the example shop's own sources (their node_modules and build output left out)."""
    roots = (REPO / "tests" / "fixtures", REPO / "examples")
    return sorted(
        p
        for root in roots
        for p in root.rglob("*")
        if p.suffix in ts.SOURCE_SUFFIXES and p.is_file() and not {"node_modules", ".next"} & set(p.parts)
    )


def test_nodes_of_types_come_in_the_order_a_walk_of_the_tree_visits_them() -> None:
    files = _sources()
    assert len(files) > 150
    for path in files:
        language = ts.language_for(path.suffix)
        assert language is not None
        root = ts.parse(path.read_bytes(), language).root_node
        for start in [root, *root.named_children[len(root.named_children) // 2 :][:1]]:
            walked = [(n.id, n.type) for n in ts.walk(start)]
            for kinds in KIND_SETS:
                expected = [node_id for node_id, kind in walked if kind in kinds]
                assert [n.id for n in ts.nodes_of_types(language, kinds, start)] == expected, (path, kinds)
