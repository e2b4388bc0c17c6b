"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes (Ed25519)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.ledger import (
    Checkpoint,
    CheckpointError,
    SignatureError,
    format_timestamp,
    key_id,
    leaf_hash,
    open_checkpoint,
    open_note,
    parse_checkpoint_body,
    parse_public_key_text,
    parse_timestamp,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_pem,
    public_key_text,
    public_key_to_pem,
    sign_checkpoint,
    sign_note,
)

ORIGIN = "hub.example.jp/ledger"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ROOT = leaf_hash(b"root")
CP = Checkpoint(ORIGIN, 123_456, ROOT, 1_795_425_286_123_456)

# golang.org/x/mod/sumdb/note's documented example (package doc and note_test.go).
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def note() -> str:
    return sign_checkpoint(CP, KEY, ORIGIN)


def test_body_is_the_c2sp_checkpoint_format() -> None:
    root64 = base64.b64encode(ROOT).decode()
    assert CP.body() == f"{ORIGIN}\n123456\n{root64}\ntimestamp 2026-11-23T09:14:46.123456Z\n"
    assert parse_checkpoint_body(CP.body()) == CP


def test_note_layout() -> None:
    text = note()
    body, sig_line = text.split("\n\n")
    assert body + "\n" == CP.body()
    assert sig_line.startswith(f"— {ORIGIN} ") and sig_line.endswith("=\n")
    blob = base64.b64decode(sig_line.split(" ")[2])
    assert blob[:4] == key_id(KEY.public_key(), ORIGIN) and len(blob) == 68


def test_sign_then_open_roundtrip() -> None:
    assert open_checkpoint(note(), KEY.public_key(), ORIGIN) == CP
    assert open_checkpoint(note().encode(), KEY.public_key(), ORIGIN, origin=ORIGIN) == CP
    empty = Checkpoint(ORIGIN, 0, leaf_hash(b""), 0)
    assert open_checkpoint(sign_checkpoint(empty, KEY, ORIGIN), KEY.public_key(), ORIGIN) == empty


def test_go_sumdb_note_known_answer() -> None:
    seed = base64.b64decode(GO_SIGNER.split("+", 4)[4])[1:]
    go_key = Ed25519PrivateKey.from_private_bytes(seed)
    assert public_key_text(go_key.public_key(), "PeterNeumann") == GO_VERIFIER
    assert sign_note(GO_TEXT, go_key, "PeterNeumann") == GO_NOTE  # Ed25519 is deterministic
    name, public = parse_public_key_text(GO_VERIFIER)
    assert open_note(GO_NOTE, public, name) == GO_TEXT
    with pytest.raises(SignatureError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), public, name)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n123456\n", "\n123457\n"),  # size
        ("\n123456\n", "\n0123456\n"),
        (base64.b64encode(ROOT).decode()[:5], "AAAAA"),  # root
        (".123456Z", ".123457Z"),  # timestamp
        ("2026-11-23", "2026-11-24"),
        (ORIGIN + "\n", "hub.example.jp/other\n"),  # origin
    ],
)
def test_tampered_body_is_refused(old: str, new: str) -> None:
    text = note()
    assert old in text
    with pytest.raises(SignatureError):
        open_checkpoint(text.replace(old, new, 1), KEY.public_key(), ORIGIN)


def test_tampered_signature_is_refused() -> None:
    body, sig_line = note().split("\n\n")
    name_part, sig64 = sig_line.rstrip("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(sig64))
    for position in (4, 40, 67):  # inside the Ed25519 signature
        altered = bytearray(blob)
        altered[position] ^= 0x01
        forged = f"{body}\n\n{name_part} {base64.b64encode(bytes(altered)).decode()}\n"
        with pytest.raises(SignatureError, match="invalid signature"):
            open_checkpoint(forged, KEY.public_key(), ORIGIN)
    altered = bytearray(blob)
    altered[0] ^= 0x01  # key id: no longer our key, so the note is unsigned
    forged = f"{body}\n\n{name_part} {base64.b64encode(bytes(altered)).decode()}\n"
    with pytest.raises(SignatureError, match="not signed by"):
        open_checkpoint(forged, KEY.public_key(), ORIGIN)


def test_key_name_and_key_must_both_match() -> None:
    text = note()
    with pytest.raises(SignatureError):
        open_checkpoint(
            text.replace(f"— {ORIGIN} ", "— hub.example.jp/x "), KEY.public_key(), ORIGIN
        )
    with pytest.raises(SignatureError):
        open_checkpoint(text, KEY.public_key(), "hub.example.jp/x")
    with pytest.raises(SignatureError):
        open_checkpoint(text, OTHER.public_key(), ORIGIN)
    with pytest.raises(SignatureError):
        open_checkpoint(sign_checkpoint(CP, OTHER, ORIGIN), KEY.public_key(), ORIGIN)
    with pytest.raises(SignatureError):
        open_checkpoint(text, KEY.public_key(), ORIGIN, origin="hub.example.jp/other")


def test_other_signatures_are_ignored_but_a_bad_one_of_ours_is_not() -> None:
    cosigned = note() + sign_checkpoint(CP, OTHER, "witness.example/w1").split("\n\n")[1]
    assert open_checkpoint(cosigned, KEY.public_key(), ORIGIN) == CP
    assert open_checkpoint(cosigned, OTHER.public_key(), "witness.example/w1") == CP
    ours = note().split("\n\n")[1]
    forged = sign_checkpoint(CP, OTHER, ORIGIN).split("\n\n")[1]
    blob = base64.b64decode(forged.split(" ")[2])
    twin = ours.split(" ")[2]
    bad = base64.b64encode(base64.b64decode(twin)[:4] + blob[4:]).decode()
    with pytest.raises(SignatureError, match="invalid signature"):
        open_checkpoint(note() + f"— {ORIGIN} {bad}\n", KEY.public_key(), ORIGIN)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("\n\n", "\n"),  # no blank line
        lambda t: t[:-1],  # no final newline
        lambda t: t.replace("—", "-"),  # not an em dash
        lambda t: t.replace(" ", "\t", 1),  # control character
        lambda t: t + "— x\n",  # no signature
        lambda t: t + "— x AAAA\n",  # signature too short
        lambda t: t + "— x !!!!\n",  # not base64
        lambda t: t + "\n",
        lambda t: "",
    ],
)
def test_malformed_notes_are_refused(mangle: object) -> None:
    assert callable(mangle)
    with pytest.raises(SignatureError):
        open_checkpoint(mangle(note()), KEY.public_key(), ORIGIN)


def test_signed_text_that_is_not_a_checkpoint_is_refused() -> None:
    for text in ["hello\n", f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\n", CP.body() + "x\n"]:
        with pytest.raises(SignatureError, match="not a checkpoint"):
            open_checkpoint(sign_note(text, KEY, ORIGIN), KEY.public_key(), ORIGIN)
    with pytest.raises(SignatureError):
        open_checkpoint(b"\xff\xfe", KEY.public_key(), ORIGIN)


def test_checkpoint_and_body_validation() -> None:
    for args in [("", 1, ROOT, 0), (ORIGIN, -1, ROOT, 0), (ORIGIN, 1, ROOT[:31], 0)]:
        with pytest.raises(CheckpointError):
            Checkpoint(*args)
    with pytest.raises(CheckpointError):
        Checkpoint("a\nb", 1, ROOT, 0)
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, ROOT, -1)
    for bad in ["x\n1\n", CP.body().replace("timestamp", "time"), CP.body()[:-1]]:
        with pytest.raises(CheckpointError):
            parse_checkpoint_body(bad)
    with pytest.raises(CheckpointError):
        sign_note("no newline", KEY, ORIGIN)
    for name in ["", "a b", "a+b", "a\u3000b"]:
        with pytest.raises(CheckpointError):
            sign_checkpoint(CP, KEY, name)


def test_timestamps_are_formatted_as_strftime_formats_them() -> None:
    """``format_timestamp`` spells the fields itself: the same text as ``strftime``."""
    import random
    from datetime import UTC, datetime, timedelta

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    low, high = -62_135_596_800_000_000, 253_402_300_799_999_999  # 0001-01-01 … 9999-12-31
    edges = [0, -1, 1, 999_999, 1_000_000, low, high, -30_610_224_000_000_001]  # 999-12-31
    for us in edges + [rng.randrange(low, high + 1) for _ in range(5000)]:
        reference = (epoch + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert format_timestamp(us) == reference, us


def test_timestamps_are_rfc3339_utc_microseconds() -> None:
    assert format_timestamp(0) == "1970-01-01T00:00:00.000000Z"
    assert parse_timestamp("2026-11-23T09:14:46.123456Z") == 1_795_425_286_123_456
    for us in (0, 1, 999_999, 1_795_425_286_123_456, 253402300799_999999):
        assert parse_timestamp(format_timestamp(us)) == us
    for bad in [
        "2026-11-23T09:14:46Z",
        "2026-11-23T09:14:46.123456+00:00",
        "2026-02-30T00:00:00.000000Z",
        "２０２６-11-23T09:14:46.123456Z",  # full-width digits
    ]:
        with pytest.raises(CheckpointError):
            parse_timestamp(bad)


def test_public_key_text_roundtrip_and_refusals() -> None:
    text = public_key_text(KEY.public_key(), ORIGIN)
    name, public = parse_public_key_text(text)
    assert name == ORIGIN and public_key_text(public, name) == text
    prefix, kid, key64 = text.split("+", 2)
    raw = base64.b64decode(key64)
    not_ed25519 = base64.b64encode(b"\x02" + raw[1:]).decode()
    short = base64.b64encode(raw[:32]).decode()
    for bad in [
        f"{prefix}+00000000+{key64}",  # wrong key id
        f"other+{kid}+{key64}",  # key id of another name
        f"{prefix}+{kid}+{not_ed25519}",  # not Ed25519
        f"{prefix}+{kid}+{short}",  # 32 bytes: no type byte
        f"{prefix}+{kid}",
        f"{prefix}+{kid.upper()}+{key64}",
        f"{prefix}+{kid}+not base64!",
    ]:
        with pytest.raises(CheckpointError):
            parse_public_key_text(bad)


def test_pem_roundtrip() -> None:
    pem = private_key_to_pem(KEY)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    restored = private_key_from_pem(pem)
    assert open_checkpoint(sign_checkpoint(CP, restored, ORIGIN), KEY.public_key(), ORIGIN) == CP
    encrypted = private_key_to_pem(KEY, b"secret")
    assert b"ENCRYPTED" in encrypted
    assert private_key_from_pem(encrypted, b"secret").public_key() == KEY.public_key()
    public = public_key_from_pem(public_key_to_pem(KEY.public_key()))
    assert public == KEY.public_key()
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(CheckpointError):
        private_key_from_pem(other.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(CheckpointError):
        public_key_from_pem(
            other.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
