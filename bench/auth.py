"""Bearer tokens for the auth modes, from the hub's own SMART Backend Services token endpoint.

The flow (https://hl7.org/fhir/smart-app-launch/backend-services.html): register a client with
an EC P-384 public key through ``hub client add``, read ``token_endpoint`` from
``/fhir/.well-known/smart-configuration``, and exchange a ``private_key_jwt`` client assertion
(RFC 7523, ES384) for an access token. Tokens live 300 s, so one is fetched per scenario run.
Registration uses the ``hub client add`` command of hub.auth (issue 3); on a hub without it,
``BearerAuth.register`` raises ``AuthUnavailable``.

Two clients take part: ``LOADER`` acts for the core center (``data.CORE_CENTER``), which
registers every benchmark person — it authors their records and files their consents — and
``READER`` acts for ``data.BENCH_ORG``, which each person's consent permits (TREAT). The
reader is the client wrk drives, so that in mode ``auth`` every read and search is decided by
a consent, not by the author rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from bench import data
from bench.load import http

SCOPE = "system/Patient.cruds system/Observation.cruds"
ORGANIZATION = data.BENCH_ORG  # the organization the benchmark client acts for
LOADER_SCOPE = f"{SCOPE} system/Consent.cruds system/Organization.cruds"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class AuthUnavailable(RuntimeError):
    pass


def _hub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def client_cli_available() -> bool:
    """Whether this hub's CLI has ``hub client add``."""
    out = _hub("client", "--help", env=dict(os.environ))
    return out.returncode == 0 and "add" in out.stdout


class BearerAuth:
    """One registered client; ``headers()`` returns a fresh ``Authorization`` header."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        name: str = "hub benchmark",
        organization: str = ORGANIZATION,
        scope: str = SCOPE,
    ) -> None:
        self.base = ""  # the server to ask for tokens; set before headers()
        self.database_url = database_url
        self.workdir = workdir
        self.name = name
        self.organization = organization
        self.scope = scope
        self.client_id = ""
        self.key: object = None

    def register(self) -> None:
        """Create an EC P-384 key and register its public half with ``hub client add``."""
        if not client_cli_available():
            raise AuthUnavailable(
                "--auth is not available yet: this hub has no `hub client add` (hub.auth, "
                "issue 3). Run without --auth (the server then uses HUB_AUTH=off)."
            )
        from joserfc.jwk import ECKey

        key = ECKey.generate_key("P-384", parameters={"alg": "ES384", "use": "sig"}, auto_kid=True)
        jwks = self.workdir / f"{self.name.replace(' ', '-')}.jwks.json"
        jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
        env = {**os.environ, "HUB_DATABASE_URL": self.database_url}
        out = _hub(
            "client",
            "add",
            "--name",
            self.name,
            "--organization",
            self.organization,
            "--scope",
            self.scope,
            "--jwks",
            str(jwks),
            env=env,
        )
        if out.returncode != 0:
            raise AuthUnavailable(f"hub client add failed: {out.stderr or out.stdout}")
        self.client_id = _client_id(out.stdout)
        self.key = key

    def headers(self) -> dict[str, str]:
        """A new token (private_key_jwt, ES384) as an ``Authorization`` header."""
        from joserfc import jwt

        if not self.base:
            raise AuthUnavailable("BearerAuth.base is not set (no server to ask for a token)")
        status, conf = http("GET", f"{self.base}/fhir/.well-known/smart-configuration")
        if status != 200:
            raise AuthUnavailable(f"smart-configuration answered {status}")
        endpoint = conf["token_endpoint"]
        now = int(time.time())
        assertion = jwt.encode(
            {"alg": "ES384", "typ": "JWT", "kid": self.key.kid},  # type: ignore[attr-defined]
            {
                "iss": self.client_id,
                "sub": self.client_id,
                "aud": endpoint,
                "jti": str(uuid.uuid4()),
                "iat": now,
                "exp": now + 240,
            },
            self.key,  # type: ignore[arg-type]
            algorithms=["ES384"],  # joserfc only allows its "recommended" set by default
        )
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "scope": self.scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            }
        ).encode()
        req = urllib.request.Request(
            endpoint,
            data=form,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            token = json.loads(r.read())["access_token"]
        return {"Authorization": f"Bearer {token}"}


def loader(database_url: str, workdir: Path) -> BearerAuth:
    """The core center's client: loads the benchmark persons, their data and consents."""
    return BearerAuth(
        database_url,
        workdir,
        name="hub benchmark loader",
        organization=data.CORE_CENTER,
        scope=LOADER_SCOPE,
    )


def reader(database_url: str, workdir: Path) -> BearerAuth:
    """The client wrk drives: reads, searches and creates for ``data.BENCH_ORG``."""
    return BearerAuth(database_url, workdir)


def _client_id(stdout: str) -> str:
    """The client id from ``hub client add``'s output (JSON with ``client_id``, or the text)."""
    text = stdout.strip()
    try:
        return str(json.loads(text)["client_id"])
    except (ValueError, KeyError, TypeError):
        return text.split()[-1] if text else ""
