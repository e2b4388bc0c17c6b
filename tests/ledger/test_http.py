"""The ledger over HTTP with tokens required: privacy officers get proofs that verify against
the published key; others get 401/403; bad parameters get an OperationOutcome (issue 5)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.auth import schema as _auth_schema  # noqa: F401
from hub.ledger import (
    leaf_hash,
    open_checkpoint,
    parse_public_key_text,
    verify_consistency,
    verify_inclusion,
)
from tests.auth.helpers import Hub, make_app


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    app: Flask = make_app(database_url, tmp_path, checkpoint_every=0)
    yield Hub(app)
    app.extensions["hub.db"].dispose()


def _tokens(hub: Hub) -> tuple[str, str]:
    officer, key = hub.add_client("system/*.rs", privacy_officer=True)
    clerk, key2 = hub.add_client("system/*.rs")
    return hub.token(officer, key, "system/*.rs"), hub.token(clerk, key2, "system/*.rs")


def _get(hub: Hub, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return hub.http.get(path, headers=headers)


def _b(items: list[str]) -> list[bytes]:
    return [base64.b64decode(x) for x in items]


def test_officer_proves_inclusion_and_consistency_against_signed_checkpoints(hub: Hub) -> None:
    officer, _ = _tokens(hub)
    for _ in range(5):  # audited searches: one access entry each
        assert hub.fhir("GET", "Patient", officer).status_code == 200
    name, key = parse_public_key_text(hub.http.get("/ledger/public-key").get_data(as_text=True))
    auth = {"Authorization": f"Bearer {officer}"}
    first = hub.http.post("/ledger/checkpoint", headers=auth)
    assert first.status_code == 201
    cp1 = open_checkpoint(first.get_json()["note"], key, name)
    for _ in range(6):
        assert hub.fhir("GET", "Patient", officer).status_code == 200
    cp2 = open_checkpoint(hub.http.post("/ledger/checkpoint", headers=auth).get_json()["note"],
                          key, name)  # fmt: skip
    assert cp2.size > cp1.size >= 5
    # the officer's saved (older) checkpoint: prove entry 2 against it
    resp = _get(hub, f"/ledger/proof/inclusion?index=2&size={cp1.size}", officer)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert open_checkpoint(body["checkpoint"], key, name) == cp1
    leaf = leaf_hash(body["entry"]["entry"].encode())
    verify_inclusion(2, cp1.size, leaf, _b(body["proof"]), cp1.root)
    # the default is the latest checkpoint
    latest = _get(hub, "/ledger/proof/inclusion?index=2", officer).get_json()
    assert latest["size"] == cp2.size
    verify_inclusion(2, cp2.size, leaf, _b(latest["proof"]), cp2.root)
    resp = _get(hub, f"/ledger/proof/consistency?from={cp1.size}&to={cp2.size}", officer)
    body = resp.get_json()
    assert open_checkpoint(body["checkpoint_from"], key, name) == cp1
    verify_consistency(cp1.size, cp2.size, cp1.root, cp2.root, _b(body["proof"]))
    listed = _get(hub, "/ledger/checkpoints", officer).get_json()["checkpoints"]
    assert [c["size"] for c in listed] == [cp1.size, cp2.size]
    entry = _get(hub, "/ledger/entries/2", officer).get_json()
    assert entry["kind"] == "access" and entry["ref"].startswith("AuditEvent/")
    assert base64.b64decode(entry["leaf_hash"]) == leaf


@pytest.mark.parametrize(
    "path",
    [
        "/ledger/checkpoints",
        "/ledger/proof/inclusion?index=0",
        "/ledger/proof/consistency?from=0",
        "/ledger/entries/0",
    ],
)
def test_only_privacy_officers_see_proofs_and_entries(hub: Hub, path: str) -> None:
    _, clerk = _tokens(hub)
    resp = _get(hub, path, None)
    assert resp.status_code == 401
    assert resp.get_json()["resourceType"] == "OperationOutcome"
    assert "Bearer" in resp.headers["WWW-Authenticate"]
    resp = _get(hub, path, clerk)
    assert resp.status_code == 403
    assert "privacy" in resp.get_json()["issue"][0]["diagnostics"]
    assert hub.http.post("/ledger/checkpoint", headers={"Authorization": f"Bearer {clerk}"}
                         ).status_code == 403  # fmt: skip


def test_public_key_and_latest_checkpoint_are_public(hub: Hub) -> None:
    officer, _ = _tokens(hub)
    assert hub.http.get("/ledger/checkpoint").status_code == 404
    assert hub.fhir("GET", "Patient", officer).status_code == 200
    hub.http.post("/ledger/checkpoint", headers={"Authorization": f"Bearer {officer}"})
    resp = hub.http.get("/ledger/checkpoint")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    name, key = parse_public_key_text(hub.http.get("/ledger/public-key").get_data(as_text=True))
    assert open_checkpoint(resp.get_data(as_text=True), key, name).size == 1
    pem = hub.http.get("/ledger/public-key?format=pem").get_data(as_text=True)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")


@pytest.mark.parametrize(
    ("path", "status", "element"),
    [
        ("/ledger/proof/inclusion", 400, "index"),
        ("/ledger/proof/inclusion?index=-1", 400, "index"),
        ("/ledger/proof/inclusion?index=abc", 400, "index"),
        ("/ledger/proof/inclusion?index=0&size=99", 400, "size"),
        ("/ledger/proof/inclusion?index=5&size=1", 400, "index"),
        ("/ledger/proof/consistency", 400, "from"),
        ("/ledger/proof/consistency?from=2&to=1", 400, "from"),
        ("/ledger/entries/x", 400, "index"),
        ("/ledger/entries/99", 404, None),
    ],
)
def test_bad_parameters_are_operation_outcomes(
    hub: Hub, path: str, status: int, element: str | None
) -> None:
    officer, _ = _tokens(hub)
    assert hub.fhir("GET", "Patient", officer).status_code == 200
    hub.http.post("/ledger/checkpoint", headers={"Authorization": f"Bearer {officer}"})
    resp = _get(hub, path, officer)
    assert resp.status_code == status, resp.get_json()
    issue = resp.get_json()["issue"][0]
    assert resp.get_json()["resourceType"] == "OperationOutcome"
    if element is not None:
        assert issue["expression"] == [element]


def _ledger_audit(hub: Hub) -> list[dict[str, Any]]:
    """The AuditEvents of ledger endpoint calls, oldest first."""
    import orjson
    from sqlalchemy import select

    from hub.store import schema as s

    r = s.resource.c
    with hub.app.extensions["hub.db"].unit(write=False) as conn:
        rows = conn.execute(
            select(r.content).where(r.res_type == "AuditEvent").order_by(r.rid)
        ).all()
    events = [orjson.loads(bytes(row[0])) for row in rows]
    return [e for e in events if any(c["code"].startswith("ledger-") for c in e["subtype"][1:])]


def test_ledger_calls_are_audited_with_their_own_entries(hub: Hub) -> None:
    officer, clerk = _tokens(hub)
    auth = {"Authorization": f"Bearer {officer}"}
    assert hub.fhir("GET", "Patient", officer).status_code == 200
    assert hub.http.post("/ledger/checkpoint", headers=auth).status_code == 201
    entry = _get(hub, "/ledger/entries/0", officer).get_json()
    proof = _get(hub, "/ledger/proof/inclusion?index=0", officer)
    assert proof.status_code == 200
    assert _get(hub, "/ledger/entries/0", clerk).status_code == 403
    assert _get(hub, "/ledger/proof/inclusion?index=0&size=99", officer).status_code == 400
    events = _ledger_audit(hub)
    codes = [(e["subtype"][1]["code"], e["outcome"]) for e in events]
    assert codes == [
        ("ledger-sign-checkpoint", "0"),
        ("ledger-entry", "0"),
        ("ledger-inclusion-proof", "0"),
        ("ledger-entry", "4"),
        ("ledger-inclusion-proof", "4"),
    ]
    who = [e["agent"][0]["who"]["identifier"]["value"] for e in events]
    assert who[:3] == [who[0]] * 3 and who[3] != who[0]
    # the disclosed entry's record is named, and the query is kept
    assert {"what": {"reference": entry["ref"]}}.items() <= events[1]["entity"][0].items()
    queried = [x for x in events[2]["entity"] if "query" in x]
    assert base64.b64decode(queried[0]["query"]) == b"index=0"
    assert queried[0]["description"] == entry["ref"]
    # each of those AuditEvents has its ledger entry, in order: 1…5 after the search's 0
    refs = [_get(hub, f"/ledger/entries/{i}", officer).get_json()["ref"] for i in range(1, 6)]
    assert refs == [f"AuditEvent/{e['id']}/_history/1" for e in events]


def test_every_ledger_route_is_in_the_openapi_document(hub: Hub) -> None:
    doc = hub.http.get("/openapi/openapi.json").get_json()
    public = {("/ledger/public-key", "get"), ("/ledger/checkpoint", "get")}
    seen = 0
    for rule in hub.app.url_map.iter_rules():
        if not rule.rule.startswith("/ledger"):
            continue
        path = rule.rule.replace("<index>", "{index}")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = doc["paths"][path][method.lower()]
            seen += 1
            if (path, method.lower()) in public:
                assert "security" not in op, path
            else:
                assert op["security"] == [{"smartBackendServices": []}], path
                assert {"401", "403"} <= set(op["responses"]), path
    assert seen == 7
