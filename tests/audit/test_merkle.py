"""RFC 6962 hashing: the certificate-transparency test vectors, and proofs for every leaf."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    InclusionProofError,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of,
    verify_inclusion,
)

# The leaves and roots used by certificate-transparency's merkle tree tests (RFC 6962).
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert Frontier().root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_leaf_and_node_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()


def test_certificate_transparency_vectors() -> None:
    leaves = [leaf_hash(bytes.fromhex(x)) for x in CT_LEAVES]
    frontier = Frontier()
    for size, expected in enumerate(CT_ROOTS, start=1):
        frontier.append(leaves[size - 1])
        assert frontier.root().hex() == expected
        assert root_of(leaves[:size]).hex() == expected


leaf_lists = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_frontier_matches_recursive_definition(leaves: list[bytes]) -> None:
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == root_of(leaves)
    assert frontier.size == len(leaves)


@settings(max_examples=60, deadline=None)
@given(leaf_lists, st.data())
def test_inclusion_proof_round_trip(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    root = root_of(leaves)
    proof = inclusion_proof(leaves, index)
    verify_inclusion(leaves[index], index, len(leaves), proof, root)
    # Wrong leaf, wrong index or a changed path never verifies.
    with pytest.raises(InclusionProofError):
        verify_inclusion(hashlib.sha256(leaves[index]).digest(), index, len(leaves), proof, root)
    if len(leaves) > 1:
        other = (index + 1) % len(leaves)
        if leaves[other] != leaves[index]:
            with pytest.raises(InclusionProofError):
                verify_inclusion(leaves[other], index, len(leaves), proof, root)
        bad = [bytes(32), *proof[1:]] if proof[0] != bytes(32) else [b"\x01" * 32, *proof[1:]]
        with pytest.raises(InclusionProofError):
            verify_inclusion(leaves[index], index, len(leaves), bad, root)


def test_proof_length_must_match_tree() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(5)]
    proof = inclusion_proof(leaves, 2)
    assert len(proof) == 3
    with pytest.raises(InclusionProofError, match="shorter"):
        root_from_inclusion_proof(leaves[2], 2, 5, proof[:-1])
    with pytest.raises(InclusionProofError, match="longer"):
        root_from_inclusion_proof(leaves[2], 2, 5, [*proof, bytes(32)])
    with pytest.raises(InclusionProofError, match="outside"):
        root_from_inclusion_proof(leaves[2], 5, 5, proof)
