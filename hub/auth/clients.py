"""The client registry: machine clients, their keys and powers, and RFC 7591 initial tokens.

A client (SMART Backend Services, https://hl7.org/fhir/smart-app-launch/backend-services.html
§"Registering a client") has a ``client_id``, a name, the FHIR ``Organization`` it acts for,
the SMART scopes it may be granted, and its public keys — an inline JWK Set and/or a
``jwks_uri`` (RFC 7591 §2). It authenticates with ``private_key_jwt`` only (RFC 7523 §2.2),
so it has no secret. Disabling a client also revokes every token it holds.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hub.auth.schema import oauth_client, oauth_initial_token, oauth_token
from hub.auth.scopes import ScopeContext, ScopeError, parse_scopes
from hub.store.db import Database
from hub.store.records import now_micros

#: the only client authentication method (RFC 7591 §2 ``token_endpoint_auth_method``)
AUTH_METHOD = "private_key_jwt"
GRANT_TYPE = "client_credentials"
ORGANIZATION_REF = re.compile(r"Organization/[A-Za-z0-9\-.]{1,64}")
#: JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2)
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class ClientError(ValueError):
    """Invalid client metadata (the CLI prints it; RFC 7591 answers invalid_client_metadata)."""


def new_client_id() -> str:
    """128 random bits in hex: safe in URLs, logs and shells (never starts with ``-``)."""
    return secrets.token_hex(16)


def hash_secret(value: str) -> str:
    """Hex SHA-256: how tokens are stored (a leaked table grants nothing)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_scope(text: str) -> str:
    """A client's allowed scopes: SMART ``system/`` resource scopes only; normalised spacing."""
    try:
        scopes = parse_scopes(text)
    except ScopeError as exc:
        raise ClientError(str(exc)) from None
    if not scopes:
        raise ClientError("at least one scope is required (e.g. system/Patient.rs)")
    for s in scopes:
        if s.context is not ScopeContext.SYSTEM:
            raise ClientError(f"{s.raw!r}: backend services clients get system/ scopes only")
    return " ".join(s.raw for s in scopes)


def check_organization(ref: str) -> str:
    if not ORGANIZATION_REF.fullmatch(ref):
        raise ClientError(f"organization must be a reference like Organization/123, not {ref!r}")
    return ref


def check_jwks(jwks: Any) -> dict[str, Any]:
    """A public JWK Set (RFC 7517 §5) whose every key has a unique ``kid`` (SMART requires
    ``kid`` to choose the key)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ClientError('jwks must be a JWK Set: {"keys": [...]} with at least one key')
    kids: set[str] = set()
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC", "OKP"):
            raise ClientError("each key must be an RSA, EC or OKP public JWK")
        if _PRIVATE_MEMBERS & key.keys():
            raise ClientError(
                f"key {key.get('kid')!r} contains private key material; "
                "register the public key only"
            )
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ClientError("each key needs a 'kid'")
        if kid in kids:
            raise ClientError(f"kid {kid!r} appears twice")
        kids.add(kid)
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise ClientError(f"jwks cannot be imported: {exc}") from None
    return jwks


def check_jwks_uri(uri: str) -> str:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ClientError("jwks_uri must be an https URL")
    return uri


@dataclass(frozen=True, slots=True)
class Client(ClientMixin):
    """One registered client, as authlib's ``ClientMixin`` (RFC 6749 §2)."""

    client_id: str
    name: str
    organization: str
    scope: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    break_glass: bool
    privacy_officer: bool
    disabled: bool
    created: int

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == AUTH_METHOD

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE

    def public_metadata(self) -> dict[str, Any]:
        """What ``hub client list`` and RFC 7591 responses show (never anything secret)."""
        out: dict[str, Any] = {
            "client_id": self.client_id,
            "client_name": self.name,
            "organization": self.organization,
            "scope": self.scope,
            "token_endpoint_auth_method": AUTH_METHOD,
            "grant_types": [GRANT_TYPE],
            "break_glass": self.break_glass,
            "privacy_officer": self.privacy_officer,
            "disabled": self.disabled,
            "client_id_issued_at": self.created // 1_000_000,
        }
        if self.jwks is not None:
            out["jwks"] = self.jwks
        if self.jwks_uri:
            out["jwks_uri"] = self.jwks_uri
        return out


def _client(row: Any) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        organization=row.organization,
        scope=row.scope,
        jwks=json.loads(row.jwks) if row.jwks else None,
        jwks_uri=row.jwks_uri,
        break_glass=bool(row.break_glass),
        privacy_officer=bool(row.privacy_officer),
        disabled=bool(row.disabled),
        created=int(row.created),
    )


class ClientRegistry:
    """Clients and initial access tokens in the hub's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        *,
        name: str,
        organization: str,
        scope: str,
        jwks: Mapping[str, Any] | None = None,
        jwks_uri: str | None = None,
        break_glass: bool = False,
        privacy_officer: bool = False,
        client_id: str | None = None,
    ) -> Client:
        """Validate and register a client; the ``client_id`` is random unless given."""
        values = self._validated(
            client_id or new_client_id(),
            now_micros(),
            name=name,
            organization=organization,
            scope=scope,
            jwks=jwks,
            jwks_uri=jwks_uri,
        )
        values.update(break_glass=break_glass, privacy_officer=privacy_officer)
        with self.db.unit(write=True) as conn:
            conn.execute(oauth_client.insert().values(**values))
        client = self.get(values["client_id"])
        assert client is not None
        return client

    def get(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or len(client_id) > 64:
            return None
        with self.db.unit(write=False) as conn:
            row = conn.execute(
                select(oauth_client).where(oauth_client.c.client_id == client_id)
            ).first()
        return _client(row) if row is not None else None

    def all(self) -> list[Client]:
        with self.db.unit(write=False) as conn:
            rows = conn.execute(select(oauth_client).order_by(oauth_client.c.created)).all()
        return [_client(r) for r in rows]

    def disable(self, client_id: str) -> bool:
        """Disable a client and revoke all its tokens at once; False if unknown."""
        with self.db.unit(write=True) as conn:
            done = conn.execute(
                update(oauth_client)
                .where(oauth_client.c.client_id == client_id)
                .values(disabled=True)
            ).rowcount
            conn.execute(
                update(oauth_token).where(oauth_token.c.client_id == client_id).values(revoked=True)
            )
        return bool(done)

    def rotate_key(self, client_id: str, jwks: Mapping[str, Any]) -> bool:
        """Replace the client's JWK Set: assertions signed with a dropped ``kid`` fail from now."""
        text = json.dumps(check_jwks(dict(jwks)), sort_keys=True)
        with self.db.unit(write=True) as conn:
            done = conn.execute(
                update(oauth_client).where(oauth_client.c.client_id == client_id).values(jwks=text)
            ).rowcount
        return bool(done)

    # RFC 7591 §3 initial access tokens ----------------------------------------------------

    def create_initial_token(self, lifetime: int = 86400) -> tuple[str, int]:
        """A new single-use initial access token and its expiry (seconds since the epoch)."""
        token = secrets.token_urlsafe(32)
        now = now_micros()
        expires = now + lifetime * 1_000_000
        with self.db.unit(write=True) as conn:
            conn.execute(
                oauth_initial_token.insert().values(
                    token_hash=hash_secret(token), created=now, expires_at=expires
                )
            )
        return token, expires // 1_000_000

    def initial_token_valid(self, token: str) -> bool:
        with self.db.unit(write=False) as conn:
            row = conn.execute(
                select(oauth_initial_token.c.expires_at, oauth_initial_token.c.used_at).where(
                    oauth_initial_token.c.token_hash == hash_secret(token)
                )
            ).first()
        return row is not None and row.used_at is None and row.expires_at > now_micros()

    def register_with_initial_token(self, token: str, **client: Any) -> Client | None:
        """Spend ``token`` and register the client in one transaction (None: token unusable)."""
        now = now_micros()
        client_id = new_client_id()
        values = self._validated(client_id, now, **client)
        try:
            with self.db.unit(write=True) as conn:
                spent = conn.execute(
                    update(oauth_initial_token)
                    .where(
                        oauth_initial_token.c.token_hash == hash_secret(token),
                        oauth_initial_token.c.used_at.is_(None),
                        oauth_initial_token.c.expires_at > now,
                    )
                    .values(used_at=now, used_by=client_id)
                ).rowcount
                if not spent:
                    return None
                conn.execute(oauth_client.insert().values(**values))
        except IntegrityError:  # pragma: no cover - a random client_id collided
            return None
        return self.get(client_id)

    @staticmethod
    def _validated(
        client_id: str,
        now: int,
        *,
        name: str,
        organization: str,
        scope: str,
        jwks: Mapping[str, Any] | None = None,
        jwks_uri: str | None = None,
    ) -> dict[str, Any]:
        if not name.strip():
            raise ClientError("a client needs a name (client_name)")
        if jwks is None and not jwks_uri:
            raise ClientError("a client needs its public keys: jwks and/or jwks_uri")
        return {
            "client_id": client_id,
            "name": name.strip()[:200],
            "organization": check_organization(organization),
            "scope": check_scope(scope),
            "jwks": None if jwks is None else json.dumps(check_jwks(dict(jwks)), sort_keys=True),
            "jwks_uri": check_jwks_uri(jwks_uri) if jwks_uri else None,
            "break_glass": False,
            "privacy_officer": False,
            "disabled": False,
            "created": now,
        }


# Keys of a client -------------------------------------------------------------------------

_JWKS_CACHE: dict[str, tuple[float, dict[str, Any]]] = {}
_JWKS_LOCK = threading.Lock()
JWKS_CACHE_SECONDS = 300
JWKS_MIN_REFRESH_SECONDS = 30
JWKS_MAX_BYTES = 64 * 1024


def fetch_jwks(uri: str, *, refresh: bool = False) -> dict[str, Any]:
    """The JWK Set at ``jwks_uri``: cached five minutes; ``refresh`` (an unknown ``kid``)
    fetches again at most every 30 seconds, so assertions cannot make the hub hammer the URL."""
    now = time.monotonic()
    with _JWKS_LOCK:
        hit = _JWKS_CACHE.get(uri)
    if hit is not None:
        fetched_at, jwks = hit
        age = now - fetched_at
        if age < JWKS_CACHE_SECONDS and not (refresh and age >= JWKS_MIN_REFRESH_SECONDS):
            return jwks
    check_jwks_uri(uri)
    request = urllib.request.Request(uri, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        data = resp.read(JWKS_MAX_BYTES + 1)
    if len(data) > JWKS_MAX_BYTES:
        raise ClientError("the jwks_uri document is too large")
    jwks = check_jwks(json.loads(data))
    with _JWKS_LOCK:
        _JWKS_CACHE[uri] = (now, jwks)
    return jwks


def client_keys(client: Client, kid: str) -> dict[str, Any] | None:
    """The client's public JWK with ``kid`` (inline JWKS first, then ``jwks_uri``)."""
    sets = [client.jwks] if client.jwks is not None else []
    for jwks in sets:
        for key in jwks.get("keys", []):
            if key.get("kid") == kid:
                return dict(key)
    if client.jwks_uri:
        for refresh in (False, True):
            try:
                jwks = fetch_jwks(client.jwks_uri, refresh=refresh)
            except (OSError, ValueError):
                return None
            for key in jwks.get("keys", []):
                if key.get("kid") == kid:
                    return dict(key)
    return None
