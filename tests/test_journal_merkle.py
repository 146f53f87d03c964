"""The Merkle tree of RFC 9162: roots against the definition, inclusion and consistency proofs."""

from __future__ import annotations

import hashlib

import pytest

from proxy.audit import merkle


def _naive_root(leaves: list[bytes]) -> bytes:
    # MTH straight from RFC 9162 2.1.1, recursive, to compare the one-pass builder with.
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_root(leaves[:k]) + _naive_root(leaves[k:])).digest()


LEAVES = [f"leaf {n}".encode() for n in range(40)]


def test_known_vectors() -> None:
    # RFC 6962's reference test vectors (certificate-transparency's merkle_tree_test): the 8 leaves
    # "", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162636465666768696a6b6c6d6e6f.
    leaves = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.root(leaves[:1]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle.root(leaves[:2]).hex() == "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
    assert merkle.root(leaves[:3]).hex() == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"
    assert merkle.root(leaves[:7]).hex() == "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"
    assert merkle.root(leaves).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@pytest.mark.parametrize("n", range(0, 41))
def test_roots_match_the_definition(n: int) -> None:
    builder = merkle.TreeBuilder()
    for leaf in LEAVES[:n]:
        builder.append(leaf)
    assert builder.size == n
    assert builder.root() == merkle.root(LEAVES[:n]) == _naive_root(LEAVES[:n])


def test_inclusion_proofs_for_every_leaf() -> None:
    for n in range(1, 21):
        tree_root = merkle.root(LEAVES[:n])
        for index in range(n):
            proof = merkle.inclusion_proof(index, LEAVES[:n])
            hashed = merkle.leaf_hash(LEAVES[index])
            assert merkle.verify_inclusion(index, n, hashed, proof, tree_root)
            assert not merkle.verify_inclusion(index, n, merkle.leaf_hash(b"other"), proof, tree_root)
            if n > 1:
                assert not merkle.verify_inclusion((index + 1) % n, n, hashed, proof, tree_root)


def test_batch_inclusion_proofs_are_the_rfc_paths() -> None:
    for n in range(1, 34):
        hashed = [merkle.leaf_hash(leaf) for leaf in LEAVES[:n]]
        proofs = merkle.inclusion_proofs(hashed, range(n))
        assert proofs == {index: merkle.inclusion_proof(index, LEAVES[:n]) for index in range(n)}
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proofs(hashed, [40])


def test_consistency_proofs_for_every_pair_up_to_20() -> None:
    for n in range(1, 21):
        second_root = merkle.root(LEAVES[:n])
        for m in range(1, n + 1):
            first_root = merkle.root(LEAVES[:m])
            proof = merkle.consistency_proof(m, LEAVES[:n])
            assert merkle.verify_consistency(m, n, first_root, second_root, proof), (m, n)
            # A different earlier tree (one leaf changed) is not consistent with the later one.
            forged = [*LEAVES[: m - 1], b"forged"]
            assert not merkle.verify_consistency(m, n, merkle.root(forged), second_root, proof), (m, n)
            if m < n:
                assert not merkle.verify_consistency(m, n, first_root, merkle.root(LEAVES[1 : n + 1]), proof)
                if proof:
                    bent = [bytes(32), *proof[1:]]
                    assert not merkle.verify_consistency(m, n, first_root, second_root, bent), (m, n)


def test_proofs_refuse_sizes_outside_the_tree() -> None:
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(3, LEAVES[:3])
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(0, LEAVES[:3])
    assert not merkle.verify_consistency(4, 3, bytes(32), bytes(32), [])
