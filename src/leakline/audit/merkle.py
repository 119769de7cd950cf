"""RFC 6962 / RFC 9162 Merkle tree hashing for the audit log: leaves, roots, inclusion proofs.

Leaves are hashed as SHA-256(0x00 || data) and interior nodes as SHA-256(0x01 || left || right), so a
leaf can never be passed off as a node (second-preimage resistance). The tree over n leaves splits at
the largest power of two below n. `Frontier` keeps the roots of the perfect subtrees seen so far, which
is all that is needed to append a leaf and to compute the root at any size in O(log n) memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_HASHER = hashlib.sha256(LEAF_PREFIX)


class InclusionProofError(ValueError):
    """An inclusion proof is malformed or does not lead to the expected root."""


def leaf_hash(data: bytes | memoryview) -> bytes:
    hasher = _LEAF_HASHER.copy()
    hasher.update(data)
    return hasher.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n >= 2): where RFC 6962 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The roots of the perfect subtrees of the leaves appended so far, largest first."""

    __slots__ = ("size", "stack")

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        node = leaf
        size = self.size
        stack = self.stack
        # Each trailing 1 bit of the old size is a complete subtree that merges with the new one.
        while size & 1:
            node = hashlib.sha256(NODE_PREFIX + stack.pop() + node).digest()
            size >>= 1
        stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        node = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over already hashed leaves, computed by the RFC's recursive definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _largest_power_of_two_below(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 section 2.1.1: the sibling hashes from leaf `index` up to the root."""
    if not 0 <= index < len(leaves):
        raise InclusionProofError(f"leaf {index} is outside a tree of {len(leaves)} leaves")
    if len(leaves) == 1:
        return []
    k = _largest_power_of_two_below(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root_of(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root_of(leaves[:k])]


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from `leaf` (RFC 9162 section 2.1.3.2); raises if malformed."""
    if not 0 <= index < size:
        raise InclusionProofError(f"leaf {index} is outside a tree of {size} leaves")
    fn, sn = index, size - 1
    node = leaf
    for sibling in proof:
        if len(sibling) != HASH_SIZE:
            raise InclusionProofError("proof element is not a SHA-256 hash")
        if sn == 0:
            raise InclusionProofError("proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofError("proof is shorter than the tree is high")
    return node


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raise `InclusionProofError` unless `proof` shows leaf `index` is in the tree with `root`."""
    if root_from_inclusion_proof(leaf, index, size, proof) != root:
        raise InclusionProofError("proof does not lead to the checkpoint's root")
