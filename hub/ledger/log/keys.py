"""The hub's ledger signing key and configuration (Ed25519, c2sp.org/signed-note).

The key is a PKCS#8 PEM file: ``HUB_LEDGER_KEY_FILE``, else ``<HUB_DATA_DIR>/ledger-ed25519.pem``,
created with mode 0600 on first use. Creation is atomic (written to a temporary file, then
hard-linked into place), so concurrent first users — several workers — end up with one key.
Hubs on several hosts sharing one database must share the key file (``HUB_LEDGER_KEY_FILE``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.config import Settings
from hub.ledger.checkpoint import (
    Checkpoint,
    check_key_name,
    private_key_from_pem,
    private_key_to_pem,
    public_key_text,
    public_key_to_pem,
    sign_checkpoint,
)

KEY_FILE_NAME = "ledger-ed25519.pem"
_LOCK = threading.Lock()
_KEYS: dict[Path, Ed25519PrivateKey] = {}


@dataclass(frozen=True)
class LedgerConfig:
    """Where the key is, how the log is named, how often it checkpoints itself."""

    origin: str
    key_file: Path
    checkpoint_every: int = 1000
    #: also a checkpoint on the first append once the newest is this old (0 = never)
    checkpoint_seconds: int = 3600
    #: ``{"time": µs}`` of the newest checkpoint this process has seen (``store._time_due``)
    newest_checkpoint: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> LedgerConfig:
        key_file = settings.ledger_key_file or settings.data_dir / KEY_FILE_NAME
        check_key_name(settings.ledger_origin)
        return cls(
            settings.ledger_origin,
            Path(key_file),
            max(0, settings.checkpoint_every),
            max(0, settings.checkpoint_seconds),
        )

    def private_key(self) -> Ed25519PrivateKey:
        return load_or_create_key(self.key_file)

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

    def sign(self, cp: Checkpoint) -> str:
        """The signed note of ``cp`` (key name = origin)."""
        return sign_checkpoint(cp, self.private_key(), self.origin)

    def verifier_key(self) -> str:
        """``<origin>+<key id>+<base64 key>`` — the public key to publish."""
        return public_key_text(self.public_key(), self.origin)

    def public_pem(self) -> bytes:
        return public_key_to_pem(self.public_key())


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key in ``path``, generated (0600, atomically) if the file does not exist yet."""
    path = path.resolve()
    with _LOCK:
        key = _KEYS.get(path)
        if key is not None:
            return key
        if not path.exists():
            _create(path)
        key = private_key_from_pem(path.read_bytes())
        _KEYS[path] = key
        return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(private_key_to_pem(Ed25519PrivateKey.generate()))
        with contextlib.suppress(FileExistsError):  # another process created it first
            os.link(tmp, path)  # atomic
    finally:
        tmp.unlink(missing_ok=True)


_DEFAULT: LedgerConfig | None = None


def default_config() -> LedgerConfig:
    """The configuration from the environment (for code running outside ``create_app``)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = LedgerConfig.from_settings(Settings.from_env())
    return _DEFAULT
