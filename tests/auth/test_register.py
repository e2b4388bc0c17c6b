"""RFC 7591 dynamic registration (initial access tokens) and clients keyed by ``jwks_uri``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from hub.auth.clients import ClientError, check_jwks
from hub.auth.events import AuthEventKind, recent_events
from hub.auth.schema import oauth_client
from tests.auth.helpers import Hub, assertion, cached_key, token_form


def _metadata(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_name": "訪問看護ステーション システム",
        "organization": "Organization/station-1",
        "scope": "system/Patient.rs system/Observation.cruds",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"],
        "jwks": cached_key("ec-a").jwks(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _register(hub: Hub, body: Any, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return hub.http.post("/auth/register", json=body, headers=headers)


def test_registration_needs_an_initial_access_token(hub: Hub) -> None:
    for token in (None, "made-up-initial-access-token-0000000"):
        resp = _register(hub, _metadata(), token)
        assert resp.status_code == 401
        assert resp.get_json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert hub.count(oauth_client) == 0
    assert [e.kind for e in recent_events()] == [AuthEventKind.REGISTER] * 2


def test_registration_with_an_initial_access_token(hub: Hub) -> None:
    initial, expires_at = hub.registry.create_initial_token(3600)
    assert expires_at > 0
    resp = _register(hub, _metadata(), initial)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["client_id"]
    assert body["client_name"] == "訪問看護ステーション システム"
    assert body["organization"] == "Organization/station-1"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["grant_types"] == ["client_credentials"]
    assert "client_secret" not in body
    assert body["break_glass"] is False and body["privacy_officer"] is False
    # the new client can get a token at once
    client = hub.registry.get(body["client_id"])
    assert client is not None
    assert hub.request_token(client, cached_key("ec-a"), "system/Patient.rs").status_code == 200
    # single use
    again = _register(hub, _metadata(), initial)
    assert again.status_code == 401
    assert hub.count(oauth_client) == 1


def test_registration_cannot_grant_powers(hub: Hub) -> None:
    initial, _ = hub.registry.create_initial_token(3600)
    resp = _register(hub, _metadata(break_glass=True, privacy_officer=True), initial)
    assert resp.status_code == 201
    client = hub.registry.get(resp.get_json()["client_id"])
    assert client is not None and not client.break_glass and not client.privacy_officer


@pytest.mark.parametrize(
    "overrides",
    [
        {"organization": None},
        {"organization": "Practitioner/1"},
        {"scope": None},
        {"scope": "patient/Patient.rs"},
        {"scope": "system/Patient.sr"},
        {"jwks": None},
        {"jwks": {"keys": [{**cached_key("ec-a").public_jwk(), "d": "private!"}]}},
        {"jwks": {"keys": [{"kty": "EC", "crv": "P-384"}]}},
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"grant_types": ["authorization_code"]},
        {"redirect_uris": ["https://app.example/cb"]},
        {"client_name": None},
        {"jwks_uri": "https://keys.example/jwks.json"},  # together with jwks (RFC 7591 §2)
    ],
)
def test_invalid_metadata(hub: Hub, overrides: dict[str, Any]) -> None:
    initial, _ = hub.registry.create_initial_token(3600)
    resp = _register(hub, _metadata(**overrides), initial)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"] == "invalid_client_metadata"
    assert hub.count(oauth_client) == 0
    assert hub.registry.initial_token_valid(initial)  # a refused request spends nothing


def test_malformed_body(hub: Hub) -> None:
    initial, _ = hub.registry.create_initial_token(3600)
    resp = hub.http.post(
        "/auth/register",
        data="{not json",
        headers={"Authorization": f"Bearer {initial}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_request"


def test_expired_initial_token(hub: Hub) -> None:
    initial, _ = hub.registry.create_initial_token(-1)
    assert _register(hub, _metadata(), initial).status_code == 401


def test_check_jwks_refuses_private_keys_and_duplicate_kids() -> None:
    key = cached_key("rsa-a")
    with pytest.raises(ClientError, match="private"):
        check_jwks({"keys": [key.key.as_dict(private=True)]})
    with pytest.raises(ClientError, match="twice"):
        check_jwks({"keys": [key.public_jwk(), key.public_jwk()]})
    with pytest.raises(ClientError, match="kid"):
        check_jwks({"keys": [{k: v for k, v in key.public_jwk().items() if k != "kid"}]})
    assert check_jwks(key.jwks()) == key.jwks()


# jwks_uri ----------------------------------------------------------------------------------


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A JWK Set served over HTTP on the loopback interface; the dict can be swapped."""
    served: dict[str, Any] = {"jwks": cached_key("rsa-b").jwks(), "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served["hits"] += 1
            body = json.dumps(served["jwks"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", served
    finally:
        server.shutdown()
        server.server_close()


def test_client_keyed_by_jwks_uri(hub: Hub, jwks_server: tuple[str, dict[str, Any]]) -> None:
    uri, served = jwks_server
    key = cached_key("rsa-b")
    client = hub.registry.add(
        name="remote keys", organization="Organization/o", scope="system/Patient.rs", jwks_uri=uri
    )
    assert hub.request_token(client, key, "system/Patient.rs").status_code == 200
    assert served["hits"] == 1
    assert hub.request_token(client, key, "system/Patient.rs").status_code == 200
    assert served["hits"] == 1  # cached
    stranger = cached_key("ec-b")
    resp = hub.http.post(
        "/auth/token", data=token_form(assertion(client.client_id, stranger), "system/Patient.rs")
    )
    assert resp.get_json()["error"] == "invalid_client"


def test_jwks_uri_must_be_https(hub: Hub) -> None:
    with pytest.raises(ClientError, match="https"):
        hub.registry.add(
            name="x",
            organization="Organization/o",
            scope="system/Patient.rs",
            jwks_uri="http://keys.example/jwks.json",
        )
