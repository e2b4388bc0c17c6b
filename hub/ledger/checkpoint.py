"""Signed tree heads: C2SP tlog-checkpoint bodies in C2SP signed notes, signed with Ed25519.

Body (c2sp.org/tlog-checkpoint), every line ending in a newline::

    <origin>
    <tree size, ASCII decimal, no leading zeros>
    <root hash, standard base64>
    timestamp <RFC 3339 UTC with microseconds, e.g. 2026-11-23T09:14:46.123456Z>

The root is MTH of the first <size> leaves (RFC 9162 §2.1.1); the time is an extension line.
Note (c2sp.org/signed-note): ``body + "\\n" + "— <key name> <base64(key id ‖ signature)>\\n"``
where key id = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4] and the Ed25519
signature covers the body bytes. Verifier key: ``<name>+<hex key id>+<base64(0x01 ‖ key)>``.
Pure: strings, bytes and key objects in and out; no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.ledger.hasher import HASH_SIZE

ED25519_TYPE = b"\x01"
"""Signature type identifier of Ed25519 in c2sp.org/signed-note."""
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
_SIZE = re.compile(r"0|[1-9][0-9]*")
_HEX_ID = re.compile(r"[0-9a-f]{8}")


class CheckpointError(ValueError):
    """A checkpoint body, key name or verifier key is malformed."""


class SignatureError(CheckpointError):
    """A note is malformed, unsigned by the expected key, or its signature does not verify."""


def _check_text(text: str, what: str) -> None:
    if any(ord(c) < 0x20 for c in text):
        raise CheckpointError(f"{what} contains a control character")


def check_key_name(name: str) -> str:
    """Key names are non-empty, with no Unicode spaces and no '+' (c2sp.org/signed-note)."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise CheckpointError(f"invalid key name {name!r}")
    _check_text(name, "key name")
    return name


def format_timestamp(timestamp_us: int) -> str:
    """µs since the Unix epoch → ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (RFC 3339, UTC). Every ledger
    entry carries one: formatted from the fields (``strftime`` costs several times more), as
    ``strftime`` would, which it still does before the year 1000 (``%Y`` is not padded)."""
    m = _EPOCH + timedelta(microseconds=timestamp_us)
    if m.year < 1000:
        return m.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f"{m.year}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def parse_timestamp(text: str) -> int:
    """The exact inverse of :func:`format_timestamp`; anything else is a CheckpointError."""
    if not _TIMESTAMP.fullmatch(text):
        raise CheckpointError(f"timestamp {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise CheckpointError(f"invalid timestamp {text!r}") from exc
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log ``origin``, tree ``size``, ``root`` hash and signing time (µs)."""

    origin: str
    size: int
    root: bytes
    timestamp_us: int

    def __post_init__(self) -> None:
        if not self.origin:
            raise CheckpointError("origin must not be empty")
        _check_text(self.origin, "origin")
        if not 0 <= self.size < 1 << 64:
            raise CheckpointError(f"tree size {self.size} out of range")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root must be {HASH_SIZE} bytes")
        if not 0 <= self.timestamp_us < 253402300800_000000:  # year 10000
            raise CheckpointError(f"timestamp {self.timestamp_us} out of range")

    def body(self) -> str:
        """The note text (C2SP tlog-checkpoint), ending in a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        stamp = format_timestamp(self.timestamp_us)
        return f"{self.origin}\n{self.size}\n{root}\ntimestamp {stamp}\n"


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Strictly parse what :meth:`Checkpoint.body` writes; CheckpointError otherwise."""
    lines = text.split("\n")
    if len(lines) != 5 or lines[4] != "":
        raise CheckpointError("a checkpoint body is 4 lines, each ending in a newline")
    origin, size, root_b64, extension = lines[:4]
    if not _SIZE.fullmatch(size):
        raise CheckpointError(f"tree size {size!r} is not canonical ASCII decimal")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise CheckpointError("root hash is not base64") from exc
    if base64.b64encode(root).decode("ascii") != root_b64:
        raise CheckpointError("root hash is not canonical base64")
    keyword, _, stamp = extension.partition(" ")
    if keyword != "timestamp":
        raise CheckpointError("the 4th line must be 'timestamp <RFC 3339 UTC>'")
    return Checkpoint(origin, int(size), root, parse_timestamp(stamp))


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey, key_name: str) -> bytes:
    """SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4] (c2sp.org/signed-note, Ed25519)."""
    check_key_name(key_name)
    return sha256(key_name.encode() + b"\n" + ED25519_TYPE + _raw(public_key)).digest()[:4]


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """A C2SP signed note: ``text`` (ending in a newline), a blank line, one Ed25519 line."""
    if not text.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise CheckpointError("note text must end in a newline and hold no control characters")
    kid = key_id(private_key.public_key(), key_name)
    signature = base64.b64encode(kid + private_key.sign(text.encode())).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {signature}\n"


def sign_checkpoint(cp: Checkpoint, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """The signed note text of ``cp`` (its body, signed by ``key_name``)."""
    return sign_note(cp.body(), private_key, key_name)


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(text, [(key name, key id ‖ signature)]) — the note framing of c2sp.org/signed-note."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise SignatureError("note contains a control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise SignatureError("note has no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise SignatureError("note does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise SignatureError("too many signatures")
    signatures: list[tuple[str, bytes]] = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise SignatureError("malformed signature line")
        name, _, sig64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            check_key_name(name)
            sig = base64.b64decode(sig64, validate=True)
        except (CheckpointError, binascii.Error) as exc:
            raise SignatureError("malformed signature line") from exc
        if len(sig) < 5:
            raise SignatureError("signature too short")
        signatures.append((name, sig))
    return text, signatures


def open_note(note: str | bytes, public_key: Ed25519PublicKey, key_name: str) -> str:
    """Verify a signed note and return its text.

    Signatures by other keys (another name or key id) are ignored, as the note spec requires;
    at least one must be by this key and every such signature must verify. Raises
    SignatureError for a missing or bad signature or a malformed note.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SignatureError("note is not UTF-8") from exc
    text, signatures = _split_note(note)
    kid = key_id(public_key, key_name)
    mine = [sig[4:] for name, sig in signatures if name == key_name and sig[:4] == kid]
    if not mine:
        raise SignatureError(f"note is not signed by {key_name}+{kid.hex()}")
    for signature in mine:
        try:
            public_key.verify(signature, text.encode())
        except InvalidSignature as exc:
            raise SignatureError(f"invalid signature by {key_name}") from exc
    return text


def open_checkpoint(
    note_text: str | bytes,
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint note (see :func:`open_note`) and return its checkpoint.

    Raises SignatureError for a missing or bad signature, a malformed note, a signed text that
    is not a checkpoint, or — if ``origin`` is given — a checkpoint from another log.
    """
    text = open_note(note_text, public_key, key_name)
    try:
        cp = parse_checkpoint_body(text)
    except CheckpointError as exc:
        raise SignatureError(f"signed note is not a checkpoint: {exc}") from exc
    if origin is not None and cp.origin != origin:
        raise SignatureError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    return cp


def public_key_text(public_key: Ed25519PublicKey, key_name: str) -> str:
    """The verifier key ``<name>+<hex key id>+<base64(0x01 ‖ public key)>`` (signed-note)."""
    encoded = base64.b64encode(ED25519_TYPE + _raw(public_key)).decode("ascii")
    return f"{key_name}+{key_id(public_key, key_name).hex()}+{encoded}"


def parse_public_key_text(text: str) -> tuple[str, Ed25519PublicKey]:
    """(key name, public key) from a verifier key string; CheckpointError if malformed."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not _HEX_ID.fullmatch(parts[1]):
        raise CheckpointError("verifier key is not <name>+<8 hex digits>+<base64 key>")
    name, hex_id, key64 = parts
    try:
        raw = base64.b64decode(key64, validate=True)
    except binascii.Error as exc:
        raise CheckpointError("verifier key is not base64") from exc
    if len(raw) != 33 or raw[:1] != ED25519_TYPE:
        raise CheckpointError("verifier key is not an Ed25519 (type 0x01) key")
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_id(public_key, name).hex() != hex_id:
        raise CheckpointError("verifier key id does not match its name and key")
    return name, public_key


def private_key_to_pem(private_key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with ``password`` if one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def private_key_from_pem(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("PEM does not hold an Ed25519 private key")
    return key


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_from_pem(data: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError("PEM does not hold an Ed25519 public key")
    return key
