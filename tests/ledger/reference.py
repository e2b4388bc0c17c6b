"""Naive RFC 9162 reference, written straight from the RFC text, for the tests only.

Deliberately independent of ``hub.ledger``: its own hashing, the recursive definitions of
MTH (§2.1.1), PATH (§2.1.3.1) and PROOF/SUBPROOF (§2.1.4.1) over the leaf *data*, and the
RFC's own iterative verification algorithms (§2.1.3.2, §2.1.4.2), which classify a proof as
"ok", "mismatch" (well formed, wrong root) or "malformed". Slow on purpose; never optimise it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

Verdict = Literal["ok", "mismatch", "malformed"]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) — RFC 9162 §2.1.1."""
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) — RFC 9162 §2.1.3.1."""
    n = len(d)
    if n == 1 and m == 0:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) — RFC 9162 §2.1.4.1 (0 < m ≤ n)."""
    return subproof(m, d, True)


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) — RFC 9162 §2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def _well_formed(*hashes: bytes) -> bool:
    return all(len(h) == 32 for h in hashes)


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, inclusion_path: Sequence[bytes], root: bytes
) -> Verdict:
    """RFC 9162 §2.1.3.2, step by step."""
    if not _well_formed(leaf_hash, root, *inclusion_path):
        return "malformed"
    if index >= size:  # step 1
        return "malformed"
    fn, sn = index, size - 1  # step 2
    r = leaf_hash  # step 3
    for p in inclusion_path:  # step 4
        if sn == 0:  # 4a
            return "malformed"
        if fn & 1 or fn == sn:  # 4b
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    if sn != 0:  # step 5
        return "malformed"
    return "ok" if r == root else "mismatch"


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path_: Sequence[bytes]
) -> Verdict:
    """RFC 9162 §2.1.4.2, step by step, for 0 < first < second.

    The RFC leaves the other cases to the caller; here, as in transparency-dev: first > second
    is malformed; first == second needs an empty path and equal hashes; first == 0 needs an
    empty path (and, as hub.ledger is stricter, first_hash = MTH({})).
    """
    if not _well_formed(first_hash, second_hash, *path_) or first > second or first < 0:
        return "malformed"
    if first == 0 or first == second:
        if path_:
            return "malformed"
        if first == 0 and first_hash != mth([]):
            return "mismatch"
        return "ok" if first != second or first_hash == second_hash else "mismatch"
    consistency_path = list(path_)
    if not consistency_path:  # step 1
        return "malformed"
    if first & (first - 1) == 0:  # step 2: first is an exact power of 2
        consistency_path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = consistency_path[0]  # step 5
    for c in consistency_path[1:]:  # step 6
        if sn == 0:  # 6a
            return "malformed"
        if fn & 1 or fn == sn:  # 6b
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    if sn != 0:  # step 7
        return "malformed"
    return "ok" if fr == first_hash and sr == second_hash else "mismatch"
