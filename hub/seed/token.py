"""Access tokens for the seeded clients, the SMART Backend Services way.

A client assertion (RFC 7523 §3: ``iss`` = ``sub`` = client_id, ``aud`` = the token URL,
``exp`` at most 5 minutes ahead, a fresh ``jti``) signed ES384 with the client's private JWK
from ``<HUB_DATA_DIR>/seed-clients.json``, exchanged at ``/auth/token`` for a bearer token
(``grant_type=client_credentials``, ``client_assertion_type`` jwt-bearer; SMART
``purpose_of_use`` as IHE IUA). Standard library HTTP and joserfc only — nothing the hub
does not already depend on.

From a shell, against a running hub::

    TOKEN=$(python3 -m hub.seed.token shortstay-hanamizuki --url http://127.0.0.1:8080)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/fhir/Patient?_count=5
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey

from hub.seed.clients import ALG, SeedClient, read_clients

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenError(RuntimeError):
    pass


def assertion(client: SeedClient, token_url: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + 240,
        "jti": secrets.token_urlsafe(16),
    }
    key = ECKey.import_key(client.private_jwk)
    header = {"alg": ALG, "kid": client.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[ALG])


def fetch_token(
    client: SeedClient, hub_url: str, *, scope: str | None = None, purpose: str | None = None
) -> str:
    """A bearer token for ``client`` from the hub at ``hub_url`` (``http://host:port``)."""
    token_url = hub_url.rstrip("/") + "/auth/token"
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(client, token_url),
        "scope": scope or client.scope,
    }
    if purpose:
        form["purpose_of_use"] = purpose
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(token_url, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as err:
        raise TokenError(f"{token_url}: {err.code} {err.read().decode(errors='replace')}") from None
    return str(body["access_token"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m hub.seed.token", description="Print an access token of a seeded client."
    )
    parser.add_argument("client", help="the client's key in seed-clients.json (e.g. core)")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the hub (no /fhir)")
    parser.add_argument("--purpose", default=None, help="purpose_of_use (TREAT, ETREAT, …)")
    parser.add_argument("--scope", default=None, help="narrower scopes than the client's")
    args = parser.parse_args(argv)
    data_dir = Path(os.environ.get("HUB_DATA_DIR", "data"))
    clients = read_clients(data_dir)
    if args.client not in clients:
        known = ", ".join(sorted(clients)) or f"none — run hub seed (HUB_DATA_DIR={data_dir})"
        print(f"unknown client {args.client!r}; seeded clients: {known}", file=sys.stderr)
        return 2
    try:
        print(fetch_token(clients[args.client], args.url, scope=args.scope, purpose=args.purpose))
    except (TokenError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
