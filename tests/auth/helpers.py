"""Helpers for the authorization-server tests: keys, assertions, a hub with tokens required.

Assertions are built here with joserfc directly (not through hub code) so that the tests can
also build the *wrong* ones: expired, unsigned, HMAC-confused, replayed, …
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from hub.auth.clients import Client, ClientRegistry
from hub.config import Settings

BASE = "http://hub.test/fhir"
TOKEN_URL = "http://hub.test/auth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FHIR_JSON = "application/fhir+json"


@dataclass
class Keypair:
    """A client's signing key: the private JWK for assertions, the public one to register."""

    key: Any
    kid: str
    alg: str

    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}


def rsa_key(kid: str = "rsa-1", alg: str = "RS384") -> Keypair:
    return Keypair(RSAKey.generate_key(2048, parameters={"kid": kid}, private=True), kid, alg)


def ec_key(kid: str = "ec-1", alg: str = "ES384") -> Keypair:
    return Keypair(ECKey.generate_key("P-384", parameters={"kid": kid}, private=True), kid, alg)


_KEYS: dict[str, Keypair] = {}


def cached_key(name: str) -> Keypair:
    """RSA generation is slow; tests share a few keys by name."""
    if name not in _KEYS:
        _KEYS[name] = ec_key(name) if name.startswith("ec") else rsa_key(name)
    return _KEYS[name]


def assertion(
    client_id: str,
    key: Keypair,
    *,
    aud: str = TOKEN_URL,
    exp_in: int = 240,
    jti: str | None = None,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A SMART Backend Services client assertion (RFC 7523 §3), correct unless told otherwise."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now + exp_in,
        "iat": now,
        "jti": jti or secrets.token_urlsafe(16),
    }
    payload.update(claims or {})
    head = {"alg": key.alg, "kid": key.kid, "typ": "JWT", **(header or {})}
    return jwt.encode(head, payload, key.key, algorithms=[head["alg"]])


def token_form(client_assertion: str, scope: str | None, **extra: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion,
        **extra,
    }
    if scope is not None:
        form["scope"] = scope
    return form


class Hub:
    """One hub under test: its Flask test client and registry, plus helpers for clients."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.http: FlaskClient = app.test_client()
        self.registry = ClientRegistry(app.extensions["hub.db"])

    def add_client(
        self,
        scope: str,
        key: Keypair | None = None,
        *,
        organization: str = "Organization/org-1",
        **flags: Any,
    ) -> tuple[Client, Keypair]:
        key = key or cached_key("rsa-a")
        client = self.registry.add(
            name="test client", organization=organization, scope=scope, jwks=key.jwks(), **flags
        )
        return client, key

    def request_token(self, client: Client, key: Keypair, scope: str | None, **extra: str) -> Any:
        return self.http.post(
            "/auth/token", data=token_form(assertion(client.client_id, key), scope, **extra)
        )

    def token(self, client: Client, key: Keypair, scope: str, **extra: str) -> str:
        resp = self.request_token(client, key, scope, **extra)
        assert resp.status_code == 200, resp.get_json()
        return str(resp.get_json()["access_token"])

    def fhir(
        self, method: str, path: str, token: str | None, body: Any = None, **headers: str
    ) -> Any:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
            headers["Content-Type"] = FHIR_JSON
        return self.http.open(f"/fhir/{path}", method=method, **kwargs)

    def count(self, table: Any) -> int:
        from sqlalchemy import func, select

        with self.app.extensions["hub.db"].unit(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    from hub.app import create_app

    options: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "auth_required": True,
        "auto_migrate": False,
        "base_url": BASE,
    }
    options.update(overrides)
    app = create_app(Settings(**options))
    app.config["TESTING"] = True
    return app
