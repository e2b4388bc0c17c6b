"""The seeded API clients: keys made at seed time, registered like ``hub client add``.

Each client of ``seed/municipality.json`` gets an EC P-384 key (ES384, RFC 7518 §3.4; a
SMART Backend Services algorithm) generated on the machine that seeds; the public JWK is
registered through ``ClientRegistry.add`` — the code ``hub client add`` runs — and the private
JWK and client id go to ``<HUB_DATA_DIR>/seed-clients.json``, created with mode 0600. Private
keys are never written anywhere else (and never committed: the file lives in the data
directory).

Idempotent: a client already registered under the same name and organization whose key is
in the file is kept as it is; one whose key is missing gets a new key (``rotate_key``).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey

from hub.auth.clients import Client, ClientRegistry
from hub.seed.municipality import Municipality

CLIENTS_FILE = "seed-clients.json"
ALG = "ES384"


@dataclass(frozen=True, slots=True)
class SeedClient:
    """One seeded client as the demo (or a developer) uses it."""

    key: str  # the name in seed/municipality.json
    client_id: str
    organization: str  # "Organization/<id>"
    name: str
    scope: str
    kid: str
    private_jwk: dict[str, Any]
    break_glass: bool = False
    privacy_officer: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "organization": self.organization,
            "name": self.name,
            "scope": self.scope,
            "alg": ALG,
            "kid": self.kid,
            "private_jwk": self.private_jwk,
            "break_glass": self.break_glass,
            "privacy_officer": self.privacy_officer,
        }


def clients_file(data_dir: Path) -> Path:
    return data_dir / CLIENTS_FILE


def read_clients(data_dir: Path) -> dict[str, SeedClient]:
    """The clients in ``<data_dir>/seed-clients.json`` ({} when there is none)."""
    path = clients_file(data_dir)
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        key: SeedClient(
            key=key,
            client_id=c["client_id"],
            organization=c["organization"],
            name=c["name"],
            scope=c["scope"],
            kid=c["kid"],
            private_jwk=c["private_jwk"],
            break_glass=bool(c.get("break_glass")),
            privacy_officer=bool(c.get("privacy_officer")),
        )
        for key, c in data.get("clients", {}).items()
    }


def write_clients(data_dir: Path, clients: dict[str, SeedClient], token_url: str) -> Path:
    """Write the file with mode 0600 (created that way, never world-readable in between)."""
    path = clients_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(
        {
            "note": "Private keys of the demo clients (hub seed). Keep this file secret.",
            "token_url": token_url,
            "clients": {k: c.to_json() for k, c in sorted(clients.items())},
        },
        ensure_ascii=False,
        indent=2,
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def new_key() -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(kid, private JWK, public JWK Set) of a fresh P-384 key."""
    kid = f"seed-{secrets.token_hex(6)}"
    key = ECKey.generate_key("P-384", parameters={"kid": kid, "alg": ALG}, private=True)
    return kid, dict(key.as_dict(private=True)), {"keys": [dict(key.as_dict(private=False))]}


def _find(registered: list[Client], name: str, organization: str) -> Client | None:
    return next((c for c in registered if c.name == name and c.organization == organization), None)


def ensure_clients(
    registry: ClientRegistry, m: Municipality, data_dir: Path, token_url: str
) -> tuple[dict[str, SeedClient], int]:
    """Register the municipality's clients (where needed); return them and how many were
    created or re-keyed."""
    known = read_clients(data_dir)
    registered = registry.all()
    out: dict[str, SeedClient] = {}
    changed = 0
    for spec in m.clients:
        org = f"Organization/{spec.organization}"
        client = _find(registered, spec.name, org)
        saved = known.get(spec.key)
        if client is not None and saved is not None and saved.client_id == client.client_id:
            out[spec.key] = saved
            continue
        kid, private, jwks = new_key()
        if client is None:
            client = registry.add(
                name=spec.name,
                organization=org,
                scope=spec.scope,
                jwks=jwks,
                break_glass=spec.break_glass,
                privacy_officer=spec.privacy_officer,
            )
        else:
            registry.rotate_key(client.client_id, jwks)
        changed += 1
        out[spec.key] = SeedClient(
            spec.key,
            client.client_id,
            org,
            spec.name,
            spec.scope,
            kid,
            private,
            spec.break_glass,
            spec.privacy_officer,
        )
    if changed or set(known) != set(out):
        write_clients(data_dir, out, token_url)
    return out, changed
