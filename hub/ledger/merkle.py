"""RFC 9162 Merkle tree: root hash, incremental frontier, proof generation and verification.

Pure code in the style of transparency-dev/merkle: integers and bytes in, bytes (or an error)
out; no I/O. Computing a root (``root_from_*``) is separate from comparing it (``verify_*``),
and a root that does not match is reported as :class:`RootMismatchError`, distinct from a
malformed proof (:class:`ProofError`).

Node ids: ``(level, index)`` is the perfect subtree covering leaves
``[index·2^level, (index+1)·2^level)``; level 0 holds the leaf hashes. Every proof hash is
either such a perfect node, or the hash of the one right-edge subtree that is not perfect in
the tree of the given size (the "ephemeral" node), which is composed here from perfect nodes.
Proofs are ordered from the leaf towards the root, exactly as RFC 9162 PATH and PROOF emit them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.ledger.hasher import EMPTY_ROOT, HASH_SIZE, node_hash

GetNode = Callable[[int, int], bytes]
"""``get_node(level, index)`` → the stored hash of a perfect subtree inside the tree."""


class ProofError(ValueError):
    """A proof, hash or size argument is malformed; nothing was compared."""


class RootMismatchError(ProofError):
    """A well-formed proof leads to a root other than the expected one."""

    def __init__(self, expected: bytes, computed: bytes) -> None:
        super().__init__(f"computed root {computed.hex()} does not match expected {expected.hex()}")
        self.expected = expected
        self.computed = computed


@dataclass(slots=True)
class Node:
    """A perfect subtree: ``hash`` of leaves ``[index·2^level, (index+1)·2^level)``."""

    level: int
    index: int
    hash: bytes


def _require_hash(value: object, what: str, error: type[ValueError] = ProofError) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes) else type(value).__name__
        raise error(f"{what} must be {HASH_SIZE} bytes, got {size}")
    return value


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Hash of perfect subtrees laid left to right, largest first: h0 ∘ (h1 ∘ (… ∘ hk))."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the n leaf hashes (RFC 9162 §2.1.1), iteratively in O(n) time, O(log n) space.

    Each leaf is merged into a stack of perfect subtrees (one per set bit of the count so far);
    the stack is then folded right to left, which is exactly the RFC's split at the largest power
    of two below n.
    """
    stack: list[bytes] = []
    for i, h in enumerate(hashes):
        _require_hash(h, f"leaf hash {i}", ValueError)
        while i & 1:
            h = node_hash(stack.pop(), h)
            i >>= 1
        stack.append(h)
    return _fold_right(stack) if stack else EMPTY_ROOT


@dataclass(frozen=True, slots=True)
class Frontier:
    """The compact range [0, size): hashes of the perfect subtrees on the tree's right edge.

    ``nodes`` holds one ``(level, hash)`` per set bit of ``size``, highest level (leftmost
    subtree) first. It is all that is needed to append further leaves and to compute the root.
    """

    size: int = 0
    nodes: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        total, above = 0, self.size.bit_length()
        for level, h in self.nodes:
            if not 0 <= level < above:
                raise ValueError(f"frontier levels must strictly decrease, got {self.nodes}")
            _require_hash(h, f"frontier hash at level {level}", ValueError)
            total, above = total + (1 << level), level
        if total != self.size:
            raise ValueError(f"frontier levels do not add up to size {self.size}")

    @classmethod
    def _unchecked(cls, size: int, nodes: tuple[tuple[int, bytes], ...]) -> Frontier:
        frontier = object.__new__(cls)  # append's output is valid by construction: skip checks
        object.__setattr__(frontier, "size", size)
        object.__setattr__(frontier, "nodes", nodes)
        return frontier

    def root(self) -> bytes:
        """MTH of the first ``size`` leaves (RFC 9162 §2.1.1)."""
        return _fold_right([h for _, h in self.nodes]) if self.nodes else EMPTY_ROOT

    @classmethod
    def load(cls, size: int, get_node: GetNode) -> Frontier:
        """Rebuild the frontier of a stored tree with popcount(size) node look-ups."""
        nodes: list[tuple[int, bytes]] = []
        start = 0
        for level in _set_bits_descending(size):
            nodes.append((level, _get(get_node, level, start >> level)))
            start += 1 << level
        return cls(size, tuple(nodes))


def _set_bits_descending(n: int) -> list[int]:
    return [b for b in range(n.bit_length() - 1, -1, -1) if n >> b & 1]


def append(frontier: Frontier, leaf_hash: bytes) -> tuple[Frontier, list[Node]]:
    """Append one leaf hash; return the new frontier and the perfect nodes this append completed.

    The completed nodes are the leaf itself ``(0, size)`` followed by every parent that the
    leaf closes, bottom-up (as many as trailing one bits of the old size). Persisting them all
    is what lets :func:`inclusion_proof` and :func:`consistency_proof` work by look-up alone.
    """
    _require_hash(leaf_hash, "leaf hash", ValueError)
    index = frontier.size
    stack = list(frontier.nodes)
    h, level = leaf_hash, 0
    completed = [Node(0, index, h)]
    while (index >> level) & 1:
        h = node_hash(stack.pop()[1], h)
        level += 1
        completed.append(Node(level, index >> level, h))
    stack.append((level, h))
    return Frontier._unchecked(index + 1, tuple(stack)), completed


def _get(get_node: GetNode, level: int, index: int) -> bytes:
    return _require_hash(get_node(level, index), f"get_node({level}, {index})", ValueError)


def _range_hash(begin: int, end: int, get_node: GetNode) -> bytes:
    """MTH of leaves [begin, end), where begin is aligned above the bit length of end - begin."""
    parts: list[bytes] = []
    for level in _set_bits_descending(end - begin):
        parts.append(_get(get_node, level, begin >> level))
        begin += 1 << level
    return _fold_right(parts)


def _path(level: int, index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Audit path from the perfect node (level, index) up to the root of the tree of ``size``.

    Below the "fork" (where the paths to this node and to leaf ``size`` part) every sibling is a
    perfect node; at the fork the right sibling, if any leaves fall in it, is the only
    non-perfect (ephemeral) subtree and is composed from the compact range [end, size); above
    the fork the path only has perfect left siblings. Look-ups: at most 2·log2(size).
    """
    inner = (index ^ (size >> level)).bit_length() - 1
    fork_level, fork_index = level + inner, index >> inner
    proof = [_get(get_node, level + i, (index >> i) ^ 1) for i in range(inner)]
    end = (fork_index + 1) << fork_level
    if end < size:
        proof.append(_range_hash(end, size, get_node))
    above, lvl = fork_index >> 1, fork_level + 1
    while above:
        if above & 1:
            proof.append(_get(get_node, lvl, above - 1))
        above >>= 1
        lvl += 1
    return proof


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, from stored perfect-subtree hashes.

    O(log size) time and node look-ups (≤ 2·ceil(log2 size)); proof length ≤ ceil(log2 size).
    """
    if not 0 <= index < size:
        raise ValueError(f"index {index} out of range for tree size {size}")
    return _path(0, index, size, get_node)


def consistency_proof(size1: int, size2: int, get_node: GetNode) -> list[bytes]:
    """PROOF(size1, D[size2]) of RFC 9162 §2.1.4.1, from stored perfect-subtree hashes.

    The proof is the largest perfect subtree ending at size1 (omitted when size1 is a power of
    two, as the verifier already holds it as root1) followed by its audit path in the tree of
    size2. Empty when size1 is 0 or equal to size2. O(log size2) time and look-ups.
    """
    if not 0 <= size1 <= size2:
        raise ValueError(f"need 0 ≤ size1 ≤ size2, got {size1}, {size2}")
    if size1 == 0 or size1 == size2:
        return []
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    path = _path(level, index, size2, get_node)
    return path if index == 0 else [_get(get_node, level, index), *path]


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _require_hash(h, f"proof[{i}]")


def _match(computed: bytes, expected: bytes) -> None:
    if computed != expected:
        raise RootMismatchError(expected=expected, computed=computed)


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 §2.1.3.2); raises ProofError if malformed.

    The proof splits at the level where the paths to ``index`` and ``size - 1`` part: ``inner``
    hashes below (siblings on either side), then ``border`` left siblings above.
    """
    if not 0 <= index < size:
        raise ProofError(f"index {index} out of range for tree size {size}")
    _require_hash(leaf_hash, "leaf hash")
    _check_proof(proof)
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof length {len(proof)}, want {inner + border}")
    h = leaf_hash
    for i in range(inner):
        h = node_hash(proof[i], h) if (index >> i) & 1 else node_hash(h, proof[i])
    for p in proof[inner:]:
        h = node_hash(p, h)
    return h


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof against ``root`` (RFC 9162 §2.1.3.2).

    Raises RootMismatchError if the proof is well formed but leads elsewhere, ProofError if it
    is malformed (index ≥ size, wrong length, a hash that is not 32 bytes).
    """
    _require_hash(root, "root")
    _match(root_from_inclusion_proof(index, size, leaf_hash, proof), root)


def root_from_consistency_proof(
    size1: int, size2: int, root1: bytes, proof: Sequence[bytes]
) -> bytes:
    """Check the size1 half of a consistency proof and return the root2 it implies.

    RFC 9162 §2.1.4.2, in transparency-dev's formulation: the proof (with root1 prepended when
    size1 is a power of two) is the seed followed by an inclusion path of leaf size1 - 1 from
    level trailing_zeros(size1); left siblings alone rebuild root1, all of them root2.
    Raises RootMismatchError if root1 is not reproduced, ProofError if the proof is malformed
    or size1 is 0 (an empty tree says nothing about root2).
    """
    if not 0 <= size1 <= size2:
        raise ProofError(f"need 0 ≤ size1 ≤ size2, got {size1}, {size2}")
    _require_hash(root1, "root1")
    _check_proof(proof)
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2 but the proof is not empty")
        return root1
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if not proof:
        raise ProofError("empty consistency proof")
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = ((size1 - 1) >> inner).bit_count()
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    seed, rest = (root1, proof) if size1 == 1 << shift else (proof[0], proof[1:])
    if len(rest) != inner + border:
        want = inner + border + (len(proof) - len(rest))
        raise ProofError(f"wrong proof length {len(proof)}, want {want}")
    mask = (size1 - 1) >> shift
    h1 = h2 = seed
    for i in range(inner):
        if (mask >> i) & 1:
            h1, h2 = node_hash(rest[i], h1), node_hash(rest[i], h2)
        else:
            h2 = node_hash(h2, rest[i])
    for p in rest[inner:]:
        h1, h2 = node_hash(p, h1), node_hash(p, h2)
    _match(h1, root1)
    return h2


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (size2, root2) extends (size1, root1) (RFC 9162 §2.1.4.2).

    As transparency-dev: size1 == size2 needs an empty proof and root1 == root2; size1 == 0
    needs an empty proof (every tree extends the empty one) — and, stricter than upstream,
    root1 must then be EMPTY_ROOT. Raises RootMismatchError or ProofError.
    """
    _require_hash(root2, "root2")
    if size1 != 0 or size2 < 0:
        _match(root_from_consistency_proof(size1, size2, root1, proof), root2)
        return
    _require_hash(root1, "root1")
    _check_proof(proof)
    if proof:
        raise ProofError("a consistency proof from the empty tree must be empty")
    _match(root1, EMPTY_ROOT)
    if size2 == 0:
        _match(root2, root1)
