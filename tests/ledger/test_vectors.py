"""The committed JSON vectors: fresh from the reference, accepted or refused as they say."""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

import pytest

from hub.ledger import (
    EMPTY_ROOT,
    ProofError,
    RootMismatchError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger import make_vectors, reference
from tests.ledger.helpers import NodeStore

VECTORS = make_vectors.VECTOR_DIR
ERRORS: dict[str, type[ProofError]] = {
    "RootMismatchError": RootMismatchError,
    "ProofError": ProofError,
}


@functools.cache
def load(name: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return content


def hashes(name: str) -> dict[str, bytes]:
    return {label: base64.b64decode(b64) for label, b64 in load(name)["hashes"].items()}


@functools.cache
def built() -> dict[str, dict[str, Any]]:
    return make_vectors.build()


@pytest.mark.parametrize("name", make_vectors.FILES)
def test_committed_vectors_are_what_the_reference_produces(name: str) -> None:
    assert set(built()) == set(make_vectors.FILES)
    expected = make_vectors.render(built()[name])
    committed = (VECTORS / name).read_text(encoding="utf-8")
    assert committed == expected, f"run: python -m tests.ledger.make_vectors ({name} is stale)"


def test_vector_counts() -> None:
    assert len(load("inclusion.json")["cases"]) == 64 * 65 // 2
    assert len(load("consistency.json")["cases"]) == 64 * 65 // 2 + 64
    for name in ("tampered_inclusion.json", "tampered_consistency.json"):
        kinds = {case["expect"] for case in load(name)["cases"]}
        assert kinds == {"RootMismatchError", "ProofError"}


def test_inclusion_vectors_verify() -> None:
    h = hashes("inclusion.json")
    for case in load("inclusion.json")["cases"]:
        proof = [h[label] for label in case["proof"]]
        verify_inclusion(case["index"], case["size"], h[case["leaf_hash"]], proof, h[case["root"]])
        assert h[case["leaf_hash"]] == leaf_hash(bytes([case["index"]]))


def test_consistency_vectors_verify() -> None:
    h = hashes("consistency.json")
    for case in load("consistency.json")["cases"]:
        proof = [h[label] for label in case["proof"]]
        verify_consistency(case["size1"], case["size2"], h[case["root1"]], h[case["root2"]], proof)


def test_tampered_inclusion_vectors_are_refused_with_the_named_error() -> None:
    h = hashes("tampered_inclusion.json")
    for case in load("tampered_inclusion.json")["cases"]:
        proof = [h[label] for label in case["proof"]]
        with pytest.raises(ERRORS[case["expect"]]) as err:
            verify_inclusion(
                case["index"], case["size"], h[case["leaf_hash"]], proof, h[case["root"]]
            )
        if case["expect"] == "ProofError":
            assert not isinstance(err.value, RootMismatchError), case["name"]


def test_tampered_consistency_vectors_are_refused_with_the_named_error() -> None:
    h = hashes("tampered_consistency.json")
    for case in load("tampered_consistency.json")["cases"]:
        proof = [h[label] for label in case["proof"]]
        with pytest.raises(ERRORS[case["expect"]]) as err:
            verify_consistency(
                case["size1"], case["size2"], h[case["root1"]], h[case["root2"]], proof
            )
        if case["expect"] == "ProofError":
            assert not isinstance(err.value, RootMismatchError), case["name"]


# --- the published RFC 6962 8-leaf tree (transparency-dev/merkle) ------------------------


def published() -> tuple[dict[str, Any], list[bytes], NodeStore]:
    vec = load("rfc6962.json")
    data = [bytes.fromhex(x) for x in vec["leaves"]]
    return vec, data, NodeStore(data)


def test_published_roots_and_nodes() -> None:
    vec, data, store = published()
    assert bytes.fromhex(vec["empty_root"]) == EMPTY_ROOT == store.roots[0]
    for size, root in vec["roots"].items():
        n = int(size)
        assert bytes.fromhex(root) == reference.mth(data[:n]) == store.roots[n], n
    for level, row in enumerate(vec["node_hashes"]):
        for index, h in enumerate(row):
            assert store.nodes[level, index] == bytes.fromhex(h), (level, index)


def test_published_inclusion_proofs() -> None:
    vec, data, store = published()
    for case in vec["inclusion"]:
        index, size = case["index"], case["size"]
        proof = [bytes.fromhex(h) for h in case["proof"]]
        assert reference.path(index, data[:size]) == proof
        assert inclusion_proof(index, size, store.getter(size)) == proof
        verify_inclusion(index, size, store.leaf_hashes[index], proof, store.roots[size])


def test_published_consistency_proofs() -> None:
    vec, data, store = published()
    for case in vec["consistency"]:
        size1, size2 = case["size1"], case["size2"]
        proof = [bytes.fromhex(h) for h in case["proof"]]
        if size1 < size2:
            assert reference.proof(size1, data[:size2]) == proof
        assert consistency_proof(size1, size2, store.getter(size2)) == proof
        verify_consistency(size1, size2, store.roots[size1], store.roots[size2], proof)
