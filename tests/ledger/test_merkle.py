"""hub.ledger.merkle against the naive reference: exhaustively to 64 leaves, randomly to 5,000."""

from __future__ import annotations

import functools
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.ledger import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    RootMismatchError,
    append,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger import reference
from tests.ledger.helpers import NodeStore, leaf
from tests.ledger.make_vectors import consistency_tampers, flip, inclusion_tampers

SMALL = 64
BIG = 5_000
DATA = [leaf(i) for i in range(SMALL)]


@functools.cache
def small() -> NodeStore:
    return NodeStore(DATA)


@functools.cache
def big() -> NodeStore:
    return NodeStore([f"entry {i}".encode() for i in range(BIG)])


def ceil_log2(n: int) -> int:
    return (n - 1).bit_length()


def outcome(fn: object, *args: object) -> str:
    """Run a verifier; name its outcome as the reference does."""
    assert callable(fn)
    try:
        fn(*args)
    except RootMismatchError:
        return "mismatch"
    except ProofError:
        return "malformed"
    return "ok"


# --- hashing ------------------------------------------------------------------------------


def test_hashing_is_rfc9162_2_1_1() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == reference.mth([])
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash(b"") != EMPTY_ROOT


@pytest.mark.parametrize("n", range(SMALL + 1))
def test_root_from_leaf_hashes_matches_reference(n: int) -> None:
    assert root_from_leaf_hashes([leaf_hash(d) for d in DATA[:n]]) == reference.mth(DATA[:n])


def test_root_from_leaf_hashes_refuses_bad_hashes() -> None:
    with pytest.raises(ValueError):
        root_from_leaf_hashes([leaf_hash(b"x"), b"short"])


# --- frontier -----------------------------------------------------------------------------


def test_frontier_root_equals_root_from_leaf_hashes_up_to_300() -> None:
    store = NodeStore([f"leaf {i}".encode() for i in range(300)])
    for n in range(301):
        assert store.roots[n] == root_from_leaf_hashes(store.leaf_hashes[:n]), n
        assert store.frontiers[n].size == n


def test_append_emits_every_perfect_subtree_once_with_its_hash() -> None:
    nodes = small().nodes
    expected = {
        (level, index)
        for level in range(7)
        for index in range(SMALL >> level)  # 64 leaves: every perfect subtree fits
    }
    assert set(nodes) == expected
    for (level, index), h in nodes.items():
        assert h == reference.mth(DATA[index << level : (index + 1) << level]), (level, index)


def test_append_returns_the_leaf_then_the_parents_it_completes() -> None:
    frontier = Frontier()
    for i in range(7):
        frontier, _ = append(frontier, leaf_hash(leaf(i)))
    frontier, completed = append(frontier, leaf_hash(leaf(7)))
    assert [(n.level, n.index) for n in completed] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert frontier.nodes == ((3, completed[-1].hash),)
    _, completed = append(frontier, leaf_hash(leaf(8)))
    assert [(n.level, n.index) for n in completed] == [(0, 8)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 13, 63, 64])
def test_frontier_load_rebuilds_it_from_stored_nodes(n: int) -> None:
    store = small()
    assert Frontier.load(n, store.getter(n)) == store.frontiers[n]


def test_frontier_validates_its_shape() -> None:
    h = leaf_hash(b"x")
    with pytest.raises(ValueError):
        Frontier(3, ((1, h),))  # size 3 needs levels (1, 0)
    with pytest.raises(ValueError):
        Frontier(1, ((0, b"short"),))
    with pytest.raises(ValueError):
        Frontier(-1, ())
    with pytest.raises(ValueError):
        append(Frontier(), b"\x00" * 31)
    assert Frontier(3, ((1, h), (0, h))).size == 3


# --- proofs: exhaustive to 64 leaves ------------------------------------------------------


@pytest.mark.parametrize("size", range(1, SMALL + 1))
def test_inclusion_proofs_equal_reference_and_verify(size: int) -> None:
    store = small()
    root = store.roots[size]
    assert root == reference.mth(DATA[:size])
    for index in range(size):
        store.lookups = 0
        proof = inclusion_proof(index, size, store.getter(size))
        assert proof == reference.path(index, DATA[:size]), index
        assert len(proof) <= ceil_log2(size)
        assert store.lookups <= 2 * ceil_log2(size)
        lh = store.leaf_hashes[index]
        assert root_from_inclusion_proof(index, size, lh, proof) == root
        verify_inclusion(index, size, lh, proof, root)


@pytest.mark.parametrize("size2", range(1, SMALL + 1))
def test_consistency_proofs_equal_reference_and_verify(size2: int) -> None:
    store = small()
    for size1 in range(size2 + 1):
        store.lookups = 0
        proof = consistency_proof(size1, size2, store.getter(size2))
        expected = reference.proof(size1, DATA[:size2]) if 0 < size1 < size2 else []
        assert proof == expected, size1
        assert len(proof) <= ceil_log2(size2) + 1
        assert store.lookups <= 2 * ceil_log2(size2) + 1
        verify_consistency(size1, size2, store.roots[size1], store.roots[size2], proof)
        if size1:
            got = root_from_consistency_proof(size1, size2, store.roots[size1], proof)
            assert got == store.roots[size2]


@pytest.mark.parametrize("size", range(1, SMALL + 1))
def test_every_inclusion_tamper_is_classified_as_the_rfc_algorithm_does(size: int) -> None:
    store = small()
    for index in range(size):
        proof = reference.path(index, DATA[:size])
        lh, root = store.leaf_hashes[index], store.roots[size]
        for name, i, s, lh2, r, p in inclusion_tampers(index, size, lh, root, proof):
            want = reference.verify_inclusion(i, s, lh2, p, r)
            assert outcome(verify_inclusion, i, s, lh2, p, r) == want, (index, size, name)


@pytest.mark.parametrize("size2", range(1, SMALL + 1))
def test_every_consistency_tamper_is_classified_as_the_rfc_algorithm_does(size2: int) -> None:
    store = small()
    for size1 in range(size2 + 1):
        proof = consistency_proof(size1, size2, store.getter(size2))
        r1, r2 = store.roots[size1], store.roots[size2]
        for name, s1, s2, t1, t2, p in consistency_tampers(size1, size2, r1, r2, proof):
            want = reference.verify_consistency(s1, s2, t1, t2, p)
            assert outcome(verify_consistency, s1, s2, t1, t2, p) == want, (size1, size2, name)


def test_every_bit_of_every_proof_hash_matters() -> None:
    store = small()
    for index, size in [(0, 64), (37, 64), (62, 63), (12, 13)]:
        proof = inclusion_proof(index, size, store.getter(size))
        lh, root = store.leaf_hashes[index], store.roots[size]
        for i in range(len(proof)):
            for bit in range(256):
                tampered = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
                with pytest.raises(RootMismatchError):
                    verify_inclusion(index, size, lh, tampered, root)
    for size1, size2 in [(1, 64), (37, 64), (6, 7), (32, 33)]:
        proof = consistency_proof(size1, size2, store.getter(size2))
        r1, r2 = store.roots[size1], store.roots[size2]
        for i in range(len(proof)):
            for bit in range(256):
                tampered = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
                with pytest.raises(RootMismatchError):
                    verify_consistency(size1, size2, r1, r2, tampered)


# --- edge cases, as transparency-dev --------------------------------------------------------


def test_generation_refuses_out_of_range_arguments() -> None:
    get = small().getter(SMALL)
    for index, size in [(0, 0), (1, 1), (-1, 4), (5, 4)]:
        with pytest.raises(ValueError):
            inclusion_proof(index, size, get)
    for size1, size2 in [(2, 1), (-1, 3)]:
        with pytest.raises(ValueError):
            consistency_proof(size1, size2, get)


def test_get_node_must_return_a_hash() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(0, 2, lambda level, index: b"short")


def test_inclusion_edge_cases() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(0, 1, h, [], h)  # a 1-leaf tree: root = leaf hash, empty proof
    for index, size in [(0, 0), (1, 1), (2, 1), (-1, 1)]:
        with pytest.raises(ProofError) as err:
            verify_inclusion(index, size, h, [], h)
        assert not isinstance(err.value, RootMismatchError)
    with pytest.raises(RootMismatchError) as mismatch:
        verify_inclusion(0, 1, h, [], EMPTY_ROOT)
    assert mismatch.value.expected == EMPTY_ROOT and mismatch.value.computed == h
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, b"", [], h)
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, h, [], b"")


def test_consistency_edge_cases() -> None:
    store = small()
    r1, r5 = store.roots[1], store.roots[5]
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, r5, [])  # every tree extends the empty one
    verify_consistency(5, 5, r5, r5, [])
    cases: list[tuple[int, int, bytes, bytes, list[bytes], type[Exception]]] = [
        (5, 5, r5, r1, [], RootMismatchError),
        (5, 5, r5, r5, [r5], ProofError),  # size1 == size2 but a proof given
        (0, 5, EMPTY_ROOT, r5, [r5], ProofError),
        (0, 5, r1, r5, [], RootMismatchError),  # stricter than transparency-dev
        (0, 0, EMPTY_ROOT, r1, [], RootMismatchError),
        (1, 5, r1, r5, [], ProofError),  # empty proof
        (5, 1, r5, r1, [], ProofError),  # time travel
        (-1, 5, r1, r5, [], ProofError),
        (1, 1, r1, r1[:31], [], ProofError),
    ]
    for size1, size2, root1, root2, proof, error in cases:
        with pytest.raises(error) as err:
            verify_consistency(size1, size2, root1, root2, proof)
        if error is ProofError:
            assert not isinstance(err.value, RootMismatchError), (size1, size2)
    with pytest.raises(ProofError):
        root_from_consistency_proof(0, 5, EMPTY_ROOT, [])  # meaningless: says nothing of root2
    assert root_from_consistency_proof(5, 5, r5, []) == r5


# --- random trees up to 5,000 leaves -----------------------------------------------------


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, BIG))
    return draw(st.integers(0, size - 1)), size


@settings(max_examples=200, deadline=None)
@given(index_and_size(), st.data())
def test_random_inclusion_proofs_verify_and_any_bit_flip_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    store = big()
    store.lookups = 0
    proof = inclusion_proof(index, size, store.getter(size))
    assert len(proof) <= ceil_log2(size)
    assert store.lookups <= 2 * ceil_log2(size)
    lh, root = store.leaf_hashes[index], store.roots[size]
    verify_inclusion(index, size, lh, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="proof element")
        bit = data.draw(st.integers(0, 255), label="bit")
        tampered = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        with pytest.raises(RootMismatchError):
            verify_inclusion(index, size, lh, tampered, root)
    with pytest.raises(RootMismatchError):
        verify_inclusion(index, size, flip(lh, data.draw(st.integers(0, 255))), proof, root)


@settings(max_examples=200, deadline=None)
@given(index_and_size(), st.data())
def test_random_consistency_proofs_verify_and_any_bit_flip_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = case[0] + 1, case[1]
    store = big()
    store.lookups = 0
    proof = consistency_proof(size1, size2, store.getter(size2))
    assert len(proof) <= ceil_log2(size2) + 1
    assert store.lookups <= 2 * ceil_log2(size2) + 1
    r1, r2 = store.roots[size1], store.roots[size2]
    verify_consistency(size1, size2, r1, r2, proof)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="proof element")
        bit = data.draw(st.integers(0, 255), label="bit")
        tampered = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
        with pytest.raises(RootMismatchError):
            verify_consistency(size1, size2, r1, r2, tampered)
