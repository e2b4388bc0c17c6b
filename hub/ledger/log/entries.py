"""Leaf bytes: what one ledger entry says, as canonical JSON (issue 5, RFC 9162 §2.1.1 leaves).

A leaf is ``canonical({"kind", "ref", "sha256", "time"})`` (orjson, keys sorted, UTF-8):

* ``kind`` — ``access`` (an AuditEvent: one access decision) or ``consent`` (a Consent
  version: create, update, or delete/withdrawal);
* ``ref`` — the resource version recorded, ``AuditEvent/<id>/_history/1`` or
  ``Consent/<id>/_history/<v>``;
* ``sha256`` — hex SHA-256 of that version's stored canonical content (``null`` for a deletion);
* ``time`` — when it was appended, RFC 3339 UTC with microseconds.

The leaf hash is ``SHA-256(0x00 ‖ leaf bytes)`` (``hub.ledger.hasher.leaf_hash``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from hashlib import sha256

from hub.fhir.canonical import canonical, loads
from hub.ledger.checkpoint import format_timestamp

ACCESS = "access"
CONSENT = "consent"
KINDS = (ACCESS, CONSENT)
_REF = re.compile(r"(AuditEvent|Consent)/([A-Za-z0-9\-.]{1,64})/_history/([1-9][0-9]*)")
_HEX = re.compile(r"[0-9a-f]{64}")


class LeafError(ValueError):
    """Stored leaf bytes that are not a well-formed ledger entry."""


@dataclass(frozen=True, slots=True)
class Leaf:
    kind: str
    ref: str
    sha256: str | None
    time: str

    @property
    def target(self) -> tuple[str, str, int]:
        """(resource type, id, version) of the recorded version."""
        m = _REF.fullmatch(self.ref)
        if m is None:
            raise LeafError(f"ref {self.ref!r} is not <AuditEvent|Consent>/<id>/_history/<v>")
        return m.group(1), m.group(2), int(m.group(3))


def content_digest(content: bytes | None) -> str | None:
    return sha256(content).hexdigest() if content is not None else None


def leaf_bytes(kind: str, ref: str, content: bytes | None, time_us: int) -> bytes:
    """The canonical bytes of one entry (module docstring)."""
    if kind not in KINDS:
        raise LeafError(f"unknown entry kind {kind!r}")
    return canonical(
        {
            "kind": kind,
            "ref": ref,
            "sha256": content_digest(content),
            "time": format_timestamp(time_us),
        }
    )


def parse_leaf(data: bytes) -> Leaf:
    """The entry in ``data``; LeafError unless it is exactly what :func:`leaf_bytes` writes."""
    try:
        obj = loads(data)
    except ValueError as exc:
        raise LeafError(f"entry is not JSON: {exc}") from None
    if not isinstance(obj, dict) or set(obj) != {"kind", "ref", "sha256", "time"}:
        raise LeafError("entry must be an object with exactly kind, ref, sha256, time")
    kind, ref, digest, time = obj["kind"], obj["ref"], obj["sha256"], obj["time"]
    if kind not in KINDS or not isinstance(ref, str) or not isinstance(time, str):
        raise LeafError("entry kind, ref or time is malformed")
    if digest is not None and not (isinstance(digest, str) and _HEX.fullmatch(digest)):
        raise LeafError("entry sha256 is not 64 lowercase hex digits or null")
    if canonical(obj) != data:
        raise LeafError("entry bytes are not canonical JSON")
    leaf = Leaf(kind, ref, digest, time)
    leaf.target  # noqa: B018 (validates the ref)
    if (kind == ACCESS) != ref.startswith("AuditEvent/"):
        raise LeafError(f"a {kind} entry cannot record {ref}")
    return leaf
