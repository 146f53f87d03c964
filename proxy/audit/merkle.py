"""Merkle trees over a list of leaves as in RFC 9162 (Certificate Transparency 2.0), section 2.1.

Leaf hash = SHA-256(0x00 || leaf), interior node = SHA-256(0x01 || left || right); the root of n leaves
splits them at the largest power of two below n. Pure functions, no database: the journal's leaves are
the entries' hashes (proxy/audit/checkpoints.py). `TreeBuilder` computes roots in one pass over the
leaves in O(log n) memory, which is what checkpointing and verifying a long journal need.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof was asked for sizes or indexes the tree does not have."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]): the root hash of these leaves (raw leaves, not yet hashed)."""
    return _root([leaf_hash(leaf) for leaf in leaves])


def _root(hashes: Sequence[bytes]) -> bytes:
    builder = TreeBuilder()
    for h in hashes:
        builder.append_hash(h)
    return builder.root()


class TreeBuilder:
    """Append leaves one by one; the root of everything appended so far at any time.

    Keeps the roots of the perfect subtrees the leaves so far fall into (at most one per bit of the
    size), so memory is O(log n) however long the journal is.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (leaf count, hash), counts strictly decreasing

    @classmethod
    def of_hashes(cls, hashed_leaves: Sequence[bytes]) -> TreeBuilder:
        builder = cls()
        for h in hashed_leaves:
            builder.append_hash(h)
        return builder

    def append(self, leaf: bytes) -> None:
        self.append_hash(leaf_hash(leaf))

    def append_hash(self, hashed_leaf: bytes) -> None:
        count, h = 1, hashed_leaf
        while self._stack and self._stack[-1][0] == count:
            left_count, left = self._stack.pop()
            count, h = left_count + count, node_hash(left, h)
        self._stack.append((count, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path proving leaf `index` is in the tree of these leaves."""
    if not 0 <= index < len(leaves):
        raise ProofError(f"leaf {index} is not in a tree of {len(leaves)}")
    return _path(index, [leaf_hash(leaf) for leaf in leaves])


def _path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return _path(m, hashes[:k]) + [_root(hashes[k:])]
    return _path(m - k, hashes[k:]) + [_root(hashes[:k])]


def inclusion_proofs(hashed_leaves: Sequence[bytes], indexes: Sequence[int]) -> dict[int, list[bytes]]:
    """The audit paths of several leaves at once, from the leaf hashes: O(n) time and memory in all.

    The tree is built level by level, pairing nodes left to right and carrying a last odd node up
    unchanged, which gives the same tree as RFC 9162's split at the largest power of two.
    """
    size = len(hashed_leaves)
    for index in indexes:
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of {size}")
    proofs: dict[int, list[bytes]] = {index: [] for index in indexes}
    positions = {index: index for index in indexes}
    level = list(hashed_leaves)
    while len(level) > 1:
        for index, position in positions.items():
            sibling = position ^ 1
            if sibling < len(level):
                proofs[index].append(level[sibling])
            positions[index] = position >> 1
        level = [node_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return proofs


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): proves the tree of the first `first` leaves is a prefix of the tree of all."""
    if not 0 < first <= len(leaves):
        raise ProofError(f"no consistency proof from size {first} to {len(leaves)}")
    return _subproof(first, [leaf_hash(leaf) for leaf in leaves], True)


def _subproof(m: int, hashes: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [_root(hashes)]
    k = _split(n)
    if m <= k:
        return _subproof(m, hashes[:k], whole) + [_root(hashes[k:])]
    return _subproof(m - k, hashes[k:], False) + [_root(hashes[:k])]


def verify_inclusion(
    index: int, size: int, hashed_leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` put the leaf (already leaf-hashed) at `index` under `expected_root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, hashed_leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does `proof` show the tree of size `first` is a prefix of the one of `second`?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first tree is a whole subtree
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
