"""RFC 9162 §2.1.1 Merkle tree hashing with SHA-256 (the RFC 6962 hashing strategy).

Domain separation keeps a leaf from ever being mistaken for an interior node:

* ``leaf_hash(d)      = SHA-256(0x00 ‖ d)``
* ``node_hash(l, r)   = SHA-256(0x01 ‖ l ‖ r)``
* ``EMPTY_ROOT        = SHA-256("")``  (MTH({}), the root of the empty tree)

Pure functions: bytes in, bytes out.
"""

from __future__ import annotations

from hashlib import sha256

HASH_SIZE = 32
"""Length in bytes of every hash in the ledger (SHA-256)."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

EMPTY_ROOT = sha256(b"").digest()
"""MTH({}) = SHA-256() (RFC 9162 §2.1.1): the root hash of a tree with no leaves."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 ‖ d) (RFC 9162 §2.1.1)."""
    return sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): an interior node over two subtree hashes (RFC 9162 §2.1.1)."""
    return sha256(NODE_PREFIX + left + right).digest()
