"""Write the ledger's JSON test vectors from the naive reference (tests/ledger/reference.py).

Run from the repository root:  ``python -m tests.ledger.make_vectors``

Leaves are ``bytes([i])`` for i = 0, 1, …; hashes are standard base64 (RFC 4648 §4). Files:

* ``inclusion.json``  — every (index, size) with 1 ≤ size ≤ 64: PATH(index, D[size]).
* ``consistency.json`` — every (size1, size2) with 0 ≤ size1 ≤ size2, 1 ≤ size2 ≤ 64.
* ``tampered_inclusion.json``, ``tampered_consistency.json`` — valid proofs for a spread of
  sizes with one thing altered (a flipped bit in a proof hash, in the leaf or in a root; a
  wrong index or size; a proof truncated, extended or with a 31/33-byte hash; swapped roots),
  each with the error class a verifier must raise, as classified by the RFC's own
  verification algorithm in the reference ("mismatch" → RootMismatchError, "malformed" →
  ProofError). Alterations the RFC algorithm still accepts (they exist: an all-right-sibling
  path does not pin the size) are left out.

``rfc6962.json`` is not generated: it is transcribed from transparency-dev/merkle.
A test asserts that the committed files equal ``render(build())``, so they cannot rot.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.ledger import reference

VECTOR_DIR = Path(__file__).parent / "vectors"
MAX_SIZE = 64
TAMPER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 17, 33, 64)
FILES = (
    "inclusion.json",
    "consistency.json",
    "tampered_inclusion.json",
    "tampered_consistency.json",
)
EXPECT = {"mismatch": "RootMismatchError", "malformed": "ProofError"}

Json = dict[str, Any]


def leaf(i: int) -> bytes:
    return bytes([i])


def leaves(n: int) -> list[bytes]:
    return [leaf(i) for i in range(n)]


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def flip(h: bytes, bit: int) -> bytes:
    """``h`` with bit ``bit`` (0 = most significant bit of byte 0) inverted."""
    out = bytearray(h)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def consistency(size1: int, size2: int) -> list[bytes]:
    if size1 in (0, size2):
        return []
    return reference.proof(size1, leaves(size2))


def inclusion_tampers(
    index: int, size: int, leaf_hash: bytes, root: bytes, proof: Sequence[bytes]
) -> Iterator[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """(name, index, size, leaf_hash, root, proof) for each alteration of a valid proof."""
    p = list(proof)
    for i, h in enumerate(p):
        bit = i * 37 % 256
        altered = [*p[:i], flip(h, bit), *p[i + 1 :]]
        yield f"proof[{i}] bit {bit} flipped", index, size, leaf_hash, root, altered
    yield "leaf hash bit 3 flipped", index, size, flip(leaf_hash, 3), root, p
    yield "root bit 255 flipped", index, size, leaf_hash, flip(root, 255), p
    yield "root of the empty tree", index, size, leaf_hash, reference.mth([]), p
    for name, i2 in (("index - 1", index - 1), ("index + 1", index + 1), ("index ^ 2", index ^ 2)):
        if i2 >= 0:
            yield name, i2, size, leaf_hash, root, p
    for name, s2 in (("size - 1", size - 1), ("size + 1", size + 1), ("size * 2", size * 2)):
        yield name, index, s2, leaf_hash, root, p
    yield "size // 2", index, size // 2, leaf_hash, root, p
    if p:
        yield "proof truncated", index, size, leaf_hash, root, p[:-1]
        yield "proof emptied", index, size, leaf_hash, root, []
        yield "proof[0] 31 bytes", index, size, leaf_hash, root, [p[0][:31], *p[1:]]
        yield "proof[0] 33 bytes", index, size, leaf_hash, root, [p[0] + b"\x00", *p[1:]]
    yield "extra hash appended", index, size, leaf_hash, root, [*p, root]
    yield "extra hash prepended", index, size, leaf_hash, root, [leaf_hash, *p]
    yield "leaf hash 33 bytes", index, size, leaf_hash + b"\x00", root, p
    yield "root 31 bytes", index, size, leaf_hash, root[:31], p


def consistency_tampers(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> Iterator[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """(name, size1, size2, root1, root2, proof) for each alteration of a valid proof."""
    p = list(proof)
    for i, h in enumerate(p):
        bit = i * 37 % 256
        altered = [*p[:i], flip(h, bit), *p[i + 1 :]]
        yield f"proof[{i}] bit {bit} flipped", size1, size2, root1, root2, altered
    yield "root1 bit 3 flipped", size1, size2, flip(root1, 3), root2, p
    yield "root2 bit 255 flipped", size1, size2, root1, flip(root2, 255), p
    yield "roots swapped", size1, size2, root2, root1, p
    for name, s1 in (("size1 - 1", size1 - 1), ("size1 + 1", size1 + 1), ("size1 ^ 2", size1 ^ 2)):
        if s1 >= 0:
            yield name, s1, size2, root1, root2, p
    for name, s2 in (("size2 - 1", size2 - 1), ("size2 + 1", size2 + 1), ("size2 * 2", size2 * 2)):
        yield name, size1, s2, root1, root2, p
    yield "size2 // 2", size1, size2 // 2, root1, root2, p
    if p:
        yield "proof truncated", size1, size2, root1, root2, p[:-1]
        yield "proof emptied", size1, size2, root1, root2, []
        yield "proof[0] 31 bytes", size1, size2, root1, root2, [p[0][:31], *p[1:]]
        yield "proof[0] 33 bytes", size1, size2, root1, root2, [p[0] + b"\x00", *p[1:]]
        yield "proof[0] prepended again", size1, size2, root1, root2, [p[0], *p]
    yield "root1 appended", size1, size2, root1, root2, [*p, root1]
    yield "root2 prepended", size1, size2, root1, root2, [root2, *p]
    yield "root1 31 bytes", size1, size2, root1[:31], root2, p
    yield "root2 33 bytes", size1, size2, root1, root2 + b"\x00", p


class Labels:
    """Names every hash in a vector file; ``table()`` maps the names used to base64.

    ``D[a:b]`` is MTH of leaves a … b-1 and ``MTH({})`` the empty root. An altered hash is named
    after what it was made from: ``D[a:b] bit k flipped``, ``D[a:b][:31]``, ``D[a:b]‖00``.
    """

    def __init__(self) -> None:
        self.known = _range_hashes()
        self.as_int = {int.from_bytes(h): name for h, name in self.known.items()}
        self.used: dict[str, bytes] = {}

    def __call__(self, h: bytes) -> str:
        name = self.known.get(h) or self._altered(h)
        self.used[name] = h
        return name

    def _altered(self, h: bytes) -> str:
        if len(h) == 31:
            return next(f"{n}[:31]" for k, n in self.known.items() if k[:31] == h)
        if len(h) == 33 and h[32] == 0:
            return f"{self.known[h[:32]]}‖00"
        value = int.from_bytes(h)
        for bit in range(256):
            name = self.as_int.get(value ^ (1 << (255 - bit)))
            if name is not None:
                return f"{name} bit {bit} flipped"
        raise ValueError(f"cannot name hash {h.hex()}")

    def table(self) -> dict[str, str]:
        return {name: b64(h) for name, h in sorted(self.used.items(), key=_label_order)}


@functools.cache
def _range_hashes() -> dict[bytes, str]:
    data = leaves(MAX_SIZE)
    known = {reference.mth([]): "MTH({})"}
    for a in range(MAX_SIZE):
        for b in range(a + 1, MAX_SIZE + 1):
            known[reference.mth(data[a:b])] = f"D[{a}:{b}]"
    return known


def _label_order(item: tuple[str, bytes]) -> tuple[int, int, str]:
    name = item[0]
    if not name.startswith("D["):
        return (-1, 0, name)
    a, b = name[2 : name.index("]")].split(":")
    return (int(a), int(b), name)


LEAVES_RULE = (
    "leaf i is the single byte i (bytes([i])); every hash is named, see 'hashes': D[a:b] is MTH "
    "of leaves a … b-1, MTH({}) the empty root; altered hashes say what they were made from"
)


def _file(description: str, label: Labels, cases: list[Json]) -> Json:
    return {
        "description": description,
        "leaves": LEAVES_RULE,
        "hashes": label.table(),
        "cases": cases,
    }


def _build_inclusion() -> Json:
    label = Labels()
    cases = [
        {"index": m, "size": n, "leaf_hash": label(reference.mth([leaf(m)]))}
        | {"root": label(reference.mth(leaves(n)))}
        | {"proof": [label(h) for h in reference.path(m, leaves(n))]}
        for n in range(1, MAX_SIZE + 1)
        for m in range(n)
    ]
    desc = "RFC 9162 §2.1.3 inclusion proofs PATH(index, D[size]), leaf to root"
    return _file(desc, label, cases)


def _build_consistency() -> Json:
    label = Labels()
    cases = [
        {"size1": m, "size2": n, "root1": label(reference.mth(leaves(m)))}
        | {"root2": label(reference.mth(leaves(n)))}
        | {"proof": [label(h) for h in consistency(m, n)]}
        for n in range(1, MAX_SIZE + 1)
        for m in range(n + 1)
    ]
    desc = "RFC 9162 §2.1.4 consistency proofs PROOF(size1, D[size2]); empty if size1 is 0 or size2"
    return _file(desc, label, cases)


def _build_tampered_inclusion() -> Json:
    label = Labels()
    cases: list[Json] = []
    for n in TAMPER_SIZES:
        for m in sorted({0, n // 2, n - 1}):
            lh, root = reference.mth([leaf(m)]), reference.mth(leaves(n))
            good = reference.path(m, leaves(n))
            for name, i, s, lh2, r, p in inclusion_tampers(m, n, lh, root, good):
                verdict = reference.verify_inclusion(i, s, lh2, p, r)
                if verdict != "ok":
                    cases.append(
                        {"name": f"{name} (of index {m}, size {n})", "index": i, "size": s}
                        | {"leaf_hash": label(lh2), "root": label(r)}
                        | {"proof": [label(h) for h in p], "expect": EXPECT[verdict]}
                    )
    return _file("Altered inclusion proofs and the error each must raise", label, cases)


def _build_tampered_consistency() -> Json:
    label = Labels()
    cases: list[Json] = []
    for n in TAMPER_SIZES:
        for m in sorted({0, 1, n // 2, n - 1, n}):
            r1, r2 = reference.mth(leaves(m)), reference.mth(leaves(n))
            for name, s1, s2, t1, t2, p in consistency_tampers(m, n, r1, r2, consistency(m, n)):
                verdict = reference.verify_consistency(s1, s2, t1, t2, p)
                if verdict != "ok":
                    cases.append(
                        {"name": f"{name} (of {m} → {n})", "size1": s1, "size2": s2}
                        | {"root1": label(t1), "root2": label(t2)}
                        | {"proof": [label(h) for h in p], "expect": EXPECT[verdict]}
                    )
    return _file("Altered consistency proofs and the error each must raise", label, cases)


def build() -> dict[str, Json]:
    """File name → content of every generated vector file."""
    return {
        "inclusion.json": _build_inclusion(),
        "consistency.json": _build_consistency(),
        "tampered_inclusion.json": _build_tampered_inclusion(),
        "tampered_consistency.json": _build_tampered_consistency(),
    }


def render(content: Json) -> str:
    """JSON text with one list item per line, so that diffs stay readable."""
    lines = ["{"]
    for n, (key, value) in enumerate(content.items()):
        comma = "," if n < len(content) - 1 else ""
        if isinstance(value, dict | list) and value:
            if isinstance(value, dict):
                items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
            else:
                items = [json.dumps(v, ensure_ascii=False) for v in value]
            opening, closing = "{}" if isinstance(value, dict) else "[]"
            lines.append(f"  {json.dumps(key)}: {opening}")
            lines.extend(f"    {item}," for item in items[:-1])
            lines.append(f"    {items[-1]}")
            lines.append(f"  {closing}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    for name, content in build().items():
        (VECTOR_DIR / name).write_text(render(content), encoding="utf-8")
        print(f"wrote {VECTOR_DIR / name} ({len(content['cases'])} cases)")


if __name__ == "__main__":
    main()
