"""The token endpoint (SMART Backend Services, RFC 6749 §4.4, RFC 7523) and tokens on /fhir.

Every security check of issue 3 is here, each refused with the right RFC 6749 error and with
nothing granted (no token in the response, no token stored, an audit event recorded).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from hub.auth.events import AuthEventKind, AuthOutcome, recent_events
from hub.auth.schema import oauth_jti, oauth_token
from tests.auth.helpers import (
    TOKEN_URL,
    Hub,
    Keypair,
    assertion,
    cached_key,
    ec_key,
    make_app,
    token_form,
)

PATIENT = {"resourceType": "Patient", "name": [{"family": "山田", "given": ["太郎"]}]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _claims(client_id: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "iat": now,
        "jti": f"jti-{time.monotonic_ns()}",
        **extra,
    }


def _refused(hub: Hub, resp: Any, error: str, kind: AuthEventKind = AuthEventKind.TOKEN) -> None:
    """Refused with ``error`` (RFC 6749 §5.2 JSON), no token issued, and audited."""
    body = resp.get_json()
    assert resp.status_code in (400, 401), (resp.status_code, body)
    assert body["error"] == error, body
    assert "access_token" not in body
    assert resp.headers["Cache-Control"] == "no-store"
    assert hub.count(oauth_token) == 0
    refusals = [e for e in recent_events() if e.outcome is AuthOutcome.REFUSED]
    assert refusals and refusals[-1].kind is kind
    assert error in refusals[-1].detail


# Success -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_key", [lambda: cached_key("rsa-a"), lambda: cached_key("ec-a")], ids=["RS384", "ES384"]
)
def test_rs384_and_es384_get_a_token_that_works(hub: Hub, make_key: Any) -> None:
    key: Keypair = make_key()
    client, _ = hub.add_client("system/Patient.rs system/Patient.c", key)
    resp = hub.request_token(client, key, "system/Patient.rs")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "system/Patient.rs"
    assert "refresh_token" not in body
    assert resp.headers["Cache-Control"] == "no-store"
    assert len(body["access_token"]) >= 43
    assert hub.fhir("GET", "Patient", body["access_token"]).status_code == 200
    # only the hash is stored
    from sqlalchemy import select

    with hub.app.extensions["hub.db"].unit(write=False) as conn:
        stored = conn.execute(select(oauth_token.c.token_hash)).scalar_one()
    assert stored == hashlib.sha256(body["access_token"].encode()).hexdigest()
    assert body["access_token"] not in stored


def test_other_asymmetric_algorithms_are_accepted(hub: Hub) -> None:
    key = ec_key("ec-256", "ES256")
    key.key = type(key.key).generate_key("P-256", parameters={"kid": "ec-256"}, private=True)
    client, _ = hub.add_client("system/Patient.rs", key)
    assert hub.request_token(client, key, "system/Patient.rs").status_code == 200


def test_narrowing_is_granted_widening_refused(hub: Hub) -> None:
    client, key = hub.add_client("system/*.cruds")
    narrow = hub.request_token(client, key, "system/Patient.r")
    assert narrow.status_code == 200 and narrow.get_json()["scope"] == "system/Patient.r"
    token = narrow.get_json()["access_token"]
    assert hub.fhir("GET", "Patient", token).status_code == 403  # search needs s
    v1 = hub.request_token(client, key, "system/Patient.read")
    assert v1.status_code == 200 and v1.get_json()["scope"] == "system/Patient.read"

    small, key2 = hub.add_client("system/Patient.rs", cached_key("ec-a"))
    for wider in (
        "system/Patient.cruds",
        "system/*.rs",
        "system/Patient.write",
        "system/Patient.rs system/Observation.rs",
    ):
        before = hub.count(oauth_token)
        resp = hub.request_token(small, key2, wider)
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_scope", wider
        assert hub.count(oauth_token) == before


def test_scope_not_allowed_for_the_client(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    _refused(hub, hub.request_token(client, key, "system/Observation.rs"), "invalid_scope")


@pytest.mark.parametrize("scope", [None, "", "openid", "system/Patient.sr", "patient/Patient.rs"])
def test_missing_or_malformed_scope(hub: Hub, scope: str | None) -> None:
    client, key = hub.add_client("system/Patient.rs")
    _refused(hub, hub.request_token(client, key, scope), "invalid_scope")


# The assertion checks (SMART Backend Services, RFC 7523 §3) ----------------------------------


def test_expired_assertion(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    old = assertion(client.client_id, key, exp_in=-120, claims={"iat": int(time.time()) - 400})
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(old, "system/Patient.rs")),
        "invalid_client",
    )


def test_assertion_too_far_in_the_future(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    far = assertion(client.client_id, key, exp_in=600)
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(far, "system/Patient.rs")),
        "invalid_client",
    )
    assert hub.count(oauth_jti) == 0  # nothing remembered for a refused horizon


@pytest.mark.parametrize(
    "aud",
    [
        "http://hub.test/auth/token/",
        "http://other.test/auth/token",
        "http://hub.test/fhir",
        "https://hub.test/auth/token",
    ],
)
def test_wrong_audience(hub: Hub, aud: str) -> None:
    client, key = hub.add_client("system/Patient.rs")
    bad = assertion(client.client_id, key, aud=aud)
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(bad, "system/Patient.rs")),
        "invalid_client",
    )


def test_wrong_signature(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    impostor = Keypair(cached_key("rsa-b").key, key.kid, "RS384")  # same kid, other key
    forged = assertion(client.client_id, impostor)
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(forged, "system/Patient.rs")),
        "invalid_client",
    )
    # the audit record does not name the client as authenticated
    assert recent_events()[-1].client_id is None
    assert client.client_id in recent_events()[-1].detail


def test_unknown_kid(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    other = assertion(client.client_id, key, header={"kid": "not-registered"})
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(other, "system/Patient.rs")),
        "invalid_client",
    )


def test_missing_kid(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    head = {"alg": "RS384", "typ": "JWT"}
    from joserfc import jwt

    token = jwt.encode(head, _claims(client.client_id), key.key, algorithms=["RS384"])
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(token, "system/Patient.rs")),
        "invalid_client",
    )


def test_alg_none(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    unsigned = _unsigned({"alg": "none", "kid": key.kid, "typ": "JWT"}, _claims(client.client_id))
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(unsigned, "system/Patient.rs")),
        "invalid_client",
    )


@pytest.mark.parametrize("secret_form", ["pem", "jwk-json", "n"])
def test_hs256_signed_with_the_public_key(hub: Hub, secret_form: str) -> None:
    """Algorithm confusion: an HMAC keyed with the (public) RSA key must not verify."""
    client, key = hub.add_client("system/Patient.rs")
    public = key.key.as_dict(private=False)
    if secret_form == "pem":
        secret = key.key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    elif secret_form == "jwk-json":
        secret = json.dumps(public).encode()
    else:
        secret = public["n"].encode()
    header = {"alg": "HS256", "kid": key.kid, "typ": "JWT"}
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(_claims(client.client_id)).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{head}.{body}.{_b64(sig)}"
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(forged, "system/Patient.rs")),
        "invalid_client",
    )


def test_replayed_jti(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    once = assertion(client.client_id, key, jti="same-jti")
    assert (
        hub.http.post("/auth/token", data=token_form(once, "system/Patient.rs")).status_code == 200
    )
    again = hub.http.post("/auth/token", data=token_form(once, "system/Patient.rs"))
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_client"
    assert "access_token" not in again.get_json()
    fresh_same_jti = assertion(client.client_id, key, jti="same-jti")
    third = hub.http.post("/auth/token", data=token_form(fresh_same_jti, "system/Patient.rs"))
    assert third.get_json()["error"] == "invalid_client"
    assert hub.count(oauth_token) == 1


def test_iss_sub_mismatch_and_unknown_client(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    other, _ = hub.add_client("system/Patient.rs", key)
    mixed = assertion(client.client_id, key, claims={"iss": other.client_id})
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(mixed, "system/Patient.rs")),
        "invalid_client",
    )
    ghost = assertion("no-such-client", key)
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(ghost, "system/Patient.rs")),
        "invalid_client",
    )


@pytest.mark.parametrize("drop", ["exp", "jti", "sub", "iss", "aud"])
def test_required_claims(hub: Hub, drop: str) -> None:
    client, key = hub.add_client("system/Patient.rs")
    from joserfc import jwt

    claims = _claims(client.client_id)
    del claims[drop]
    token = jwt.encode({"alg": "RS384", "kid": key.kid}, claims, key.key, algorithms=["RS384"])
    _refused(
        hub,
        hub.http.post("/auth/token", data=token_form(token, "system/Patient.rs")),
        "invalid_client",
    )


def test_disabled_client(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    token = hub.token(client, key, "system/Patient.rs")
    assert hub.registry.disable(client.client_id)
    assert hub.fhir("GET", "Patient", token).status_code == 401  # its tokens stop at once
    before = hub.count(oauth_token)
    resp = hub.request_token(client, key, "system/Patient.rs")
    assert resp.get_json()["error"] == "invalid_client"
    assert "disabled" in resp.get_json()["error_description"]
    assert hub.count(oauth_token) == before


def test_key_rotation(hub: Hub) -> None:
    client, old = hub.add_client("system/Patient.rs", cached_key("rsa-a"))
    new = cached_key("ec-b")
    assert hub.registry.rotate_key(client.client_id, new.jwks())
    refused = hub.request_token(client, old, "system/Patient.rs")
    assert refused.get_json()["error"] == "invalid_client"
    assert hub.request_token(client, new, "system/Patient.rs").status_code == 200


def test_key_alg_must_match(hub: Hub) -> None:
    key = cached_key("rsa-a")
    jwk = {**key.public_jwk(), "alg": "RS512"}
    client = hub.registry.add(
        name="x", organization="Organization/o", scope="system/Patient.rs", jwks={"keys": [jwk]}
    )
    resp = hub.request_token(client, key, "system/Patient.rs")
    assert resp.get_json()["error"] == "invalid_client"


# The token endpoint's request format (RFC 6749 §3.2, §4.4.2) ---------------------------------


def test_token_request_format(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    form = token_form(assertion(client.client_id, key), "system/Patient.rs")
    in_url = hub.http.post("/auth/token", query_string=form)
    assert in_url.get_json()["error"] == "invalid_request"
    as_json = hub.http.post("/auth/token", json=form)
    assert as_json.get_json()["error"] == "invalid_request"
    other_grant = hub.http.post("/auth/token", data={**form, "grant_type": "password"})
    assert other_grant.get_json()["error"] == "unsupported_grant_type"
    no_auth = hub.http.post(
        "/auth/token", data={"grant_type": "client_credentials", "scope": "system/Patient.rs"}
    )
    assert no_auth.get_json()["error"] == "invalid_client"
    garbage = hub.http.post("/auth/token", data=token_form("not.a.jwt", "system/Patient.rs"))
    assert garbage.get_json()["error"] == "invalid_client"
    assert hub.count(oauth_token) == 0


# purpose_of_use and break-glass ----------------------------------------------------------------


def test_purpose_of_use(hub: Hub) -> None:
    plain, key = hub.add_client("system/Patient.rs")
    ok = hub.request_token(plain, key, "system/Patient.rs", purpose_of_use="TREAT")
    assert ok.status_code == 200
    # any client may ask for ETREAT (a consent may name it for emergencies only) ...
    etreat = hub.token(plain, key, "system/Patient.rs", purpose_of_use="ETREAT")
    plain_info = _introspect(hub, plain, key, etreat).get_json()
    assert plain_info["active"] is True and plain_info["purpose_of_use"] == "ETREAT"
    # ... but only a client with the flag *and* an ETREAT token has the break-glass power
    resp = hub.fhir(
        "POST",
        "Patient/nobody/$break-glass",
        etreat,
        {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "急変"}]},
    )
    assert resp.status_code == 403
    unknown = hub.request_token(plain, key, "system/Patient.rs", purpose_of_use="FUN")
    assert unknown.get_json()["error"] == "invalid_request"

    glass, gkey = hub.add_client("system/Patient.rs", cached_key("ec-a"), break_glass=True)
    coded = "http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT"
    token = hub.token(glass, gkey, "system/Patient.rs", purpose_of_use=coded)
    info = _introspect(hub, glass, gkey, token).get_json()
    assert info["active"] is True and info["purpose_of_use"] == "ETREAT"


# /fhir: 401 vs 403 -------------------------------------------------------------------------


def test_401_without_or_with_a_bad_token(hub: Hub) -> None:
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token-this-hub-issued-000000"},
    ):
        resp = hub.http.get("/fhir/Patient", headers=headers)
        assert resp.status_code == 401, headers
        challenge = resp.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
        outcome = resp.get_json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "login"
    kinds = [e.kind for e in recent_events()]
    assert kinds.count(AuthEventKind.FHIR_TOKEN) == 4


def test_403_names_the_missing_scope(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    token = hub.token(client, key, "system/Patient.rs")
    resp = hub.fhir("POST", "Patient", token, PATIENT)
    assert resp.status_code == 403
    outcome = resp.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"
    assert "system/Patient.c" in outcome["issue"][0]["diagnostics"]
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    obs = hub.fhir("GET", "Observation?code=1234", token)
    assert obs.status_code == 403 and "system/Observation.s" in obs.get_data(as_text=True)
    event = recent_events()[-1]
    assert event.kind is AuthEventKind.FHIR_SCOPE and event.client_id == client.client_id


def test_reads_and_writes_within_scope(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.cruds system/Observation.rs")
    token = hub.token(client, key, "system/Patient.cruds system/Observation.rs")
    created = hub.fhir("POST", "Patient", token, PATIENT)
    assert created.status_code == 201, created.get_json()
    pid = created.get_json()["id"]
    assert hub.fhir("GET", f"Patient/{pid}", token).status_code == 200
    assert hub.fhir("GET", f"Patient?_id={pid}", token).status_code == 200
    assert hub.fhir("GET", f"Observation?subject=Patient/{pid}", token).status_code == 200
    include = hub.fhir(
        "GET", f"Observation?subject=Patient/{pid}&_include=Observation:subject:Patient", token
    )
    assert include.status_code == 200
    revinc = hub.fhir("GET", f"Patient?_id={pid}&_revinclude=Provenance:target", token)
    assert revinc.status_code == 403 and "system/Provenance.s" in revinc.get_data(as_text=True)
    assert hub.fhir("DELETE", f"Patient/{pid}", token).status_code == 200


def test_bundle_entries_are_checked_one_by_one(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.c")
    token = hub.token(client, key, "system/Patient.c")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": PATIENT, "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    resp = hub.fhir("POST", "", token, bundle)
    assert resp.status_code == 403
    assert "system/Observation.c" in resp.get_data(as_text=True)
    batch = {**bundle, "type": "batch"}
    out = hub.fhir("POST", "", token, batch).get_json()
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses[0].startswith("201") and statuses[1].startswith("403")


def test_granular_category_scope_over_http(hub: Hub) -> None:
    lab = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    scope = f"system/Observation.crs?category={lab}"
    client, key = hub.add_client(scope)
    token = hub.token(client, key, scope)

    def obs(code: str) -> dict[str, Any]:
        system = "http://terminology.hl7.org/CodeSystem/observation-category"
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "category": [{"coding": [{"system": system, "code": code}]}],
        }

    made = hub.fhir("POST", "Observation", token, obs("laboratory"))
    assert made.status_code == 201
    oid = made.get_json()["id"]
    assert hub.fhir("POST", "Observation", token, obs("vital-signs")).status_code == 403
    assert hub.fhir("GET", f"Observation/{oid}", token).status_code == 200
    assert hub.fhir("GET", f"Observation?category={lab}", token).status_code == 200
    assert hub.fhir("GET", "Observation", token).status_code == 403
    assert hub.fhir("GET", f"Observation/{oid}/_history", token).status_code == 403
    # a vital-signs Observation written by someone else cannot be read
    other, okey = hub.add_client("system/Observation.c", cached_key("ec-a"))
    vs = hub.fhir(
        "POST", "Observation", hub.token(other, okey, "system/Observation.c"), obs("vital-signs")
    )
    assert hub.fhir("GET", f"Observation/{vs.get_json()['id']}", token).status_code == 403


# Revocation (RFC 7009) and introspection (RFC 7662) -------------------------------------------


def _introspect(hub: Hub, client: Any, key: Keypair, token: str, **extra: str) -> Any:
    form = {
        "token": token,
        "client_assertion_type": token_form("", None)["client_assertion_type"],
        "client_assertion": assertion(client.client_id, key),
        **extra,
    }
    return hub.http.post("/auth/introspect", data=form)


def _revoke(hub: Hub, client: Any, key: Keypair, token: str) -> Any:
    form = {
        "token": token,
        "client_assertion_type": token_form("", None)["client_assertion_type"],
        "client_assertion": assertion(client.client_id, key),
    }
    return hub.http.post("/auth/revoke", data=form)


def test_token_used_after_revocation(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    token = hub.token(client, key, "system/Patient.rs")
    assert hub.fhir("GET", "Patient", token).status_code == 200
    assert _revoke(hub, client, key, token).status_code == 200
    resp = hub.fhir("GET", "Patient", token)
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert recent_events()[-1].detail.endswith("revoked")
    assert _introspect(hub, client, key, token).get_json() == {"active": False}


def test_revocation_rules(hub: Hub) -> None:
    a, akey = hub.add_client("system/Patient.rs")
    b, bkey = hub.add_client("system/Patient.rs", cached_key("ec-a"))
    token_a = hub.token(a, akey, "system/Patient.rs")
    refused = _revoke(hub, b, bkey, token_a)  # not b's token
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    assert hub.fhir("GET", "Patient", token_a).status_code == 200
    assert _revoke(hub, b, bkey, "never-issued-token-0000000000").status_code == 200  # §2.2
    unauthenticated = hub.http.post("/auth/revoke", data={"token": token_a})
    assert unauthenticated.get_json()["error"] == "invalid_client"
    assert hub.fhir("GET", "Patient", token_a).status_code == 200


def test_introspection(hub: Hub) -> None:
    a, akey = hub.add_client(
        "system/Patient.rs system/Patient.c", organization="Organization/clinic"
    )
    b, bkey = hub.add_client("system/Patient.rs", cached_key("ec-a"))
    officer, okey = hub.add_client("system/Patient.rs", cached_key("rsa-b"), privacy_officer=True)
    token = hub.token(a, akey, "system/Patient.rs")
    info = _introspect(hub, a, akey, token).get_json()
    assert info["active"] is True
    assert info["scope"] == "system/Patient.rs"
    assert info["client_id"] == a.client_id
    assert info["organization"] == "Organization/clinic"
    assert info["token_type"] == "Bearer"
    assert 0 < info["exp"] - info["iat"] <= 300
    assert _introspect(hub, b, bkey, token).get_json() == {"active": False}  # not b's
    assert _introspect(hub, officer, okey, token).get_json()["active"] is True
    assert _introspect(hub, a, akey, "never-issued-token-00000000").get_json() == {"active": False}
    refresh = _introspect(hub, a, akey, token, token_type_hint="refresh_token").get_json()
    assert refresh == {"active": False}
    anonymous = hub.http.post("/auth/introspect", data={"token": token})
    assert anonymous.get_json()["error"] == "invalid_client"
    assert recent_events()[-1].kind is AuthEventKind.INTROSPECT


def test_expired_token(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    client, key = hub.add_client("system/Patient.rs")
    token = hub.token(client, key, "system/Patient.rs")
    import hub.auth.tokens as tokens_module

    later = tokens_module.now_micros() + 301 * 1_000_000
    monkeypatch.setattr(tokens_module, "now_micros", lambda: later)
    assert hub.fhir("GET", "Patient", token).status_code == 401
    assert recent_events()[-1].detail.endswith("expired")


def test_token_lifetime_is_configurable(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, token_lifetime=60)
    try:
        other = Hub(app)
        client, key = other.add_client("system/Patient.rs")
        assert other.request_token(client, key, "system/Patient.rs").get_json()["expires_in"] == 60
    finally:
        app.extensions["hub.db"].dispose()


# Tokens from elsewhere ----------------------------------------------------------------------


def test_token_from_another_issuer(hub: Hub, tmp_path: Path) -> None:
    """Another hub instance (its own database) with the same client keys: its tokens are
    worthless here, and ours there."""
    key = cached_key("rsa-a")
    here, _ = hub.add_client("system/Patient.rs", key)
    other_app = make_app(f"sqlite:///{tmp_path / 'other.sqlite3'}", tmp_path, auto_migrate=True)
    try:
        other = Hub(other_app)
        there = other.registry.add(
            name="same",
            organization="Organization/org-1",
            scope="system/Patient.rs",
            jwks=key.jwks(),
            client_id=here.client_id,
        )
        foreign = other.token(there, key, "system/Patient.rs")
        assert other.fhir("GET", "Patient", foreign).status_code == 200
        assert hub.fhir("GET", "Patient", foreign).status_code == 401
        ours = hub.token(here, key, "system/Patient.rs")
        assert other.fhir("GET", "Patient", ours).status_code == 401
    finally:
        other_app.extensions["hub.db"].dispose()
    # a JWT signed by somebody else is not a token of this hub either
    from joserfc import jwt

    fake_jwt = jwt.encode(
        {"alg": "RS384"},
        {"iss": "http://evil.test", "scope": "system/*.cruds"},
        cached_key("rsa-b").key,
        algorithms=["RS384"],
    )
    assert hub.fhir("GET", "Patient", fake_jwt).status_code == 401


def test_tampered_token(hub: Hub) -> None:
    client, key = hub.add_client("system/Patient.rs")
    token = hub.token(client, key, "system/Patient.rs")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (flipped, token + "x", token[:-1], token.upper(), f"{token} {token}"):
        assert hub.fhir("GET", "Patient", bad).status_code == 401, bad
    assert hub.fhir("GET", "Patient", token).status_code == 200


# Discovery and the public metadata -------------------------------------------------------------


def test_smart_configuration(hub: Hub) -> None:
    resp = hub.http.get("/fhir/.well-known/smart-configuration")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    conf = resp.get_json()
    assert conf["token_endpoint"] == TOKEN_URL
    assert conf["registration_endpoint"] == "http://hub.test/auth/register"
    assert conf["introspection_endpoint"] == "http://hub.test/auth/introspect"
    assert conf["revocation_endpoint"] == "http://hub.test/auth/revoke"
    assert conf["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert {"RS384", "ES384"} <= set(conf["token_endpoint_auth_signing_alg_values_supported"])
    assert not {"none", "HS256"} & set(conf["token_endpoint_auth_signing_alg_values_supported"])
    assert conf["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in conf["capabilities"]
    assert "permission-v2" in conf["capabilities"]
    assert "system/*.cruds" in conf["scopes_supported"]
    assert "system/Patient.rs" in conf["scopes_supported"]
    assert "jwks_uri" not in conf  # the hub signs nothing
    assert hub.http.get("/.well-known/jwks.json").status_code == 404


def test_smart_configuration_from_the_request_host(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, base_url="")
    try:
        local = Hub(app)
        conf = local.http.get(
            "/fhir/.well-known/smart-configuration", base_url="https://hub.example.jp"
        ).get_json()
        assert conf["token_endpoint"] == "https://hub.example.jp/auth/token"
        client, key = local.add_client("system/Patient.rs")
        form = token_form(
            assertion(client.client_id, key, aud="http://localhost/auth/token"), "system/Patient.rs"
        )
        assert local.http.post("/auth/token", data=form).status_code == 200
    finally:
        app.extensions["hub.db"].dispose()


def test_metadata_is_public_and_names_the_oauth_uris(hub: Hub) -> None:
    for headers in ({}, {"Authorization": "Bearer garbage-garbage-garbage-garbage"}):
        resp = hub.http.get("/fhir/metadata", headers=headers)
        assert resp.status_code == 200
    security = resp.get_json()["rest"][0]["security"]
    coding = security["service"][0]["coding"][0]
    assert coding == {
        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
        "code": "SMART-on-FHIR",
    }
    (ext,) = security["extension"]
    assert ext["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    uris = {e["url"]: e["valueUri"] for e in ext["extension"]}
    assert uris == {
        "token": TOKEN_URL,
        "register": "http://hub.test/auth/register",
        "introspect": "http://hub.test/auth/introspect",
        "revoke": "http://hub.test/auth/revoke",
    }


def test_auth_off_has_no_security_section(tmp_path: Path, database_url: str) -> None:
    app = make_app(database_url, tmp_path, auth_required=False)
    try:
        cs = app.test_client().get("/fhir/metadata").get_json()
        assert "security" not in cs["rest"][0]
        assert app.test_client().post("/auth/token").status_code == 404
    finally:
        app.extensions["hub.db"].dispose()


def test_hostile_input_gets_rfc6749_errors_not_500(hub: Hub) -> None:
    """Client input echoed in error_description is reduced to RFC 6749 §5.2's characters."""
    client, key = hub.add_client("system/Patient.rs")
    odd_kid = assertion(client.client_id, key, header={"kid": 'ключ"\\'})
    resp = hub.http.post("/auth/token", data=token_form(odd_kid, "system/Patient.rs"))
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_client"
    quoted = hub.request_token(client, key, 'system/Observation.rs?category="x"\\y')
    assert quoted.status_code == 400 and quoted.get_json()["error"] == "invalid_scope"
    purpose = hub.request_token(client, key, "system/Patient.rs", purpose_of_use="緊急")
    assert purpose.status_code == 400 and purpose.get_json()["error"] == "invalid_request"
    for r in (resp, quoted, purpose):
        assert all(0x20 <= ord(ch) < 0x7F for ch in r.get_json()["error_description"])
