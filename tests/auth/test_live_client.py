"""A client as a new user would write it, against the real server.

``hub serve --dev`` runs in a subprocess on a free port over a temporary SQLite file; the
client is registered with the real CLI (``hub client add``), then authlib's stock
``OAuth2Session`` gets a token with ``private_key_jwt`` (RS384), reads and writes FHIR within
its scopes, is refused outside them, and revokes its token. No hub code runs in this process
on the client side.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[2]


class SmartPrivateKeyJWT(PrivateKeyJWT):
    """authlib's ``private_key_jwt`` with the SMART Backend Services assertion lifetime
    (``exp`` at most five minutes ahead; authlib signs for an hour by default)."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return str(
            private_key_jwt_sign(
                auth.client_secret,
                client_id=auth.client_id,
                token_endpoint=token_endpoint,
                alg=self.alg,
                header=dict(self.headers or {}),
                expires_in=300,
            )
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATABASE_URL"] = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def _hub(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--dev", "--port", str(port)],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"hub serve exited: {(tmp_path / 'server.log').read_text()}")
            try:
                if requests.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hub serve did not start in time")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_authlib_client_reads_and_writes_within_its_scopes(server: str, tmp_path: Path) -> None:
    # The client's key pair; the public half is registered by an administrator with the CLI.
    key = RSAKey.generate_key(2048, parameters={"kid": "clinic-2026"}, private=True)
    jwks = tmp_path / "clinic.jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    registered = _hub(
        tmp_path,
        "client",
        "add",
        "--name",
        "Clinic EHR",
        "--organization",
        "Organization/clinic",
        "--scope",
        "system/Patient.cruds system/Observation.rs",
        "--jwks",
        str(jwks),
    )
    client_id = registered["client_id"]

    # Discovery, as a SMART client does it.
    conf = requests.get(f"{server}/.well-known/smart-configuration", timeout=10).json()
    token_url = conf["token_endpoint"]
    assert "private_key_jwt" in conf["token_endpoint_auth_methods_supported"]

    session = OAuth2Session(
        client_id,
        key,
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",
        scope="system/Patient.cruds system/Observation.rs",
    )
    session.register_client_auth_method(
        SmartPrivateKeyJWT(token_url, alg="RS384", headers={"kid": "clinic-2026"})
    )
    token = session.fetch_token(token_url, grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert token["scope"] == "system/Patient.cruds system/Observation.rs"
    assert 0 < token["expires_in"] <= 300

    fhir = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    patient = {"resourceType": "Patient", "name": [{"family": "佐藤", "given": ["花子"]}]}
    created = session.post(f"{server}/Patient", json=patient, headers=fhir, timeout=10)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    read = session.get(f"{server}/Patient/{pid}", headers=fhir, timeout=10)
    assert read.status_code == 200 and read.json()["name"][0]["family"] == "佐藤"
    found = session.get(f"{server}/Patient", params={"_id": pid}, headers=fhir, timeout=10)
    assert found.status_code == 200 and found.json()["total"] == 1

    # Outside the scopes: 403 naming what is missing.
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "体温"},
        "subject": {"reference": f"Patient/{pid}"},
    }
    refused = session.post(f"{server}/Observation", json=obs, headers=fhir, timeout=10)
    assert refused.status_code == 403
    assert "system/Observation.c" in refused.json()["issue"][0]["diagnostics"]
    assert session.get(f"{server}/Condition", headers=fhir, timeout=10).status_code == 403

    # Without the token: 401 with the Bearer challenge.
    anonymous = requests.get(f"{server}/Patient/{pid}", headers=fhir, timeout=10)
    assert anonymous.status_code == 401
    assert 'error="invalid_token"' in anonymous.headers["WWW-Authenticate"]

    # Introspection (RFC 7662) and revocation (RFC 7009), with the same client authentication;
    # a revoked token stops at once.
    info = session.introspect_token(conf["introspection_endpoint"], token=token["access_token"])
    assert info.status_code == 200 and info.json()["active"] is True
    assert info.json()["organization"] == "Organization/clinic"
    revoked = session.revoke_token(conf["revocation_endpoint"], token=token["access_token"])
    assert revoked.status_code == 200, revoked.text
    after = session.get(f"{server}/Patient/{pid}", headers=fhir, timeout=10)
    assert after.status_code == 401
