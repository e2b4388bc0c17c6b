"""Appends in the interaction's own transaction: every AuditEvent and Consent version has its
entry, in order, with the content hash of what it records (issue 5; RFC 9162 leaves)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from hub.config import Settings
from hub.ledger import leaf_hash, open_checkpoint, root_from_leaf_hashes
from hub.ledger.log import store
from hub.ledger.log.entries import parse_leaf
from hub.ledger.log.schema import ledger_checkpoint, ledger_entry, ledger_node
from hub.store import schema as s
from tests.ledger.conftest import FHIR_JSON, build_log


def _rows(app: Flask, query: Any) -> list[Any]:
    with app.extensions["hub.db"].unit(write=False) as conn:
        return list(conn.execute(query).all())


def _version(app: Flask, ref: str) -> Any:
    res_type, res_id, _, ver = ref.split("/")
    v = s.resource_version.c
    rows = _rows(
        app,
        select(v.content, v.method).where(
            v.res_type == res_type, v.res_id == res_id, v.version_id == int(ver)
        ),
    )
    assert len(rows) == 1, ref
    return rows[0]


def test_every_audit_event_and_consent_version_has_its_entry(ledger_app: Flask) -> None:
    ids = build_log(ledger_app)
    rows = _rows(ledger_app, select(ledger_entry).order_by(ledger_entry.c.idx))
    assert [r.idx for r in rows] == list(range(12))
    kinds = ["access"] * 12
    for i in (1, 3, 8):
        kinds[i] = "consent"
    assert [r.kind for r in rows] == kinds
    cid = ids["consent"]
    assert [r.ref for r in rows if r.kind == "consent"] == [
        f"Consent/{cid}/_history/{v}" for v in (1, 2, 3)
    ]
    for row in rows:
        leaf = parse_leaf(bytes(row.entry))
        assert (leaf.kind, leaf.ref) == (row.kind, row.ref)
        assert bytes(row.leaf_hash) == leaf_hash(bytes(row.entry))
        version = _version(ledger_app, row.ref)
        if version.content is None:  # the deletion (withdrawal) of the consent
            assert leaf.sha256 is None and version.method == "DELETE"
        else:
            assert leaf.sha256 == hashlib.sha256(bytes(version.content)).hexdigest()
    # one AuditEvent per interaction, each recorded once
    v = s.resource_version.c
    audits = _rows(ledger_app, select(func.count()).where(v.res_type == "AuditEvent"))[0][0]
    assert audits == sum(1 for r in rows if r.kind == "access") == 9


def test_stored_nodes_and_state_match_the_tree(ledger_app: Flask) -> None:
    build_log(ledger_app)
    hashes = [bytes(r[0]) for r in _rows(
        ledger_app, select(ledger_entry.c.leaf_hash).order_by(ledger_entry.c.idx))]  # fmt: skip
    nodes = {(r.level, r.idx): bytes(r.hash) for r in _rows(ledger_app, select(ledger_node))}
    # every perfect subtree of 12 leaves: 12 + 6 + 3 + 1
    assert len(nodes) == 22
    assert nodes[3, 0] == root_from_leaf_hashes(hashes[:8])
    assert nodes[2, 2] == root_from_leaf_hashes(hashes[8:12])
    with ledger_app.extensions["hub.db"].unit(write=False) as conn:
        frontier = store.current_frontier(conn)
        assert frontier.size == 12
        assert frontier.root() == root_from_leaf_hashes(hashes)
        assert store.root_at(conn, 5) == root_from_leaf_hashes(hashes[:5])


def test_a_failing_append_fails_the_interaction(
    ledger_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No access without its record: the read answers 500 and nothing is committed."""

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("ledger unavailable")

    http = ledger_app.test_client()
    pid = http.post(
        "/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON
    ).get_json()["id"]
    monkeypatch.setattr(store, "record_access", broken)
    resp = http.get(f"/fhir/Patient/{pid}")
    assert resp.status_code == 500
    assert resp.get_json()["resourceType"] == "OperationOutcome"
    resp = http.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON)
    assert resp.status_code == 500
    monkeypatch.undo()
    v = s.resource_version.c
    assert _rows(ledger_app, select(func.count()).where(v.res_type == "Patient"))[0][0] == 1
    r = s.resource.c  # (an AuditEvent's version row waits on the backlog: count the records)
    assert _rows(ledger_app, select(func.count()).where(r.res_type == "AuditEvent"))[0][0] == 1
    assert _rows(ledger_app, select(func.count()).select_from(ledger_entry))[0][0] == 1


def test_a_failing_consent_append_fails_the_consent_write(
    ledger_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = ledger_app.test_client()
    pid = http.post(
        "/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON
    ).get_json()["id"]

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(store, "record_consent", broken)
    from tests.ledger.conftest import consent

    assert http.post("/fhir/Consent", json=consent(pid), headers=FHIR_JSON).status_code == 500
    v = s.resource_version.c
    assert _rows(ledger_app, select(func.count()).where(v.res_type == "Consent"))[0][0] == 0


def test_checkpoints_every_n_entries_signed_with_a_0600_key(
    database_url: str, tmp_path: Path
) -> None:
    from hub.app import create_app

    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        auth_required=False,
        auto_migrate=False,
        checkpoint_every=5,
    )
    app = create_app(settings)
    try:
        build_log(app)  # 12 entries → checkpoints at 5 and 10
        key_file = tmp_path / "ledger-ed25519.pem"
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        rows = _rows(app, select(ledger_checkpoint).order_by(ledger_checkpoint.c.id))
        assert [r.size for r in rows] == [5, 10]
        hashes = [bytes(r[0]) for r in _rows(
            app, select(ledger_entry.c.leaf_hash).order_by(ledger_entry.c.idx))]  # fmt: skip
        public = app.test_client().get("/ledger/public-key").get_data(as_text=True)
        from hub.ledger import parse_public_key_text

        name, key = parse_public_key_text(public)
        for row in rows:
            cp = open_checkpoint(row.note, key, name, origin=settings.ledger_origin)
            assert cp.root == root_from_leaf_hashes(hashes[: cp.size]) == bytes(row.root)
        latest = app.test_client().get("/ledger/checkpoint")
        assert latest.status_code == 200 and latest.mimetype == "text/plain"
        assert open_checkpoint(latest.get_data(as_text=True), key, name).size == 10
        assert base64.b64encode(bytes(rows[1].root)).decode() in latest.get_data(as_text=True)
    finally:
        app.extensions["hub.db"].dispose()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 12, 1023, 1024, 2**40 + 5])
def test_the_state_rows_frontier_is_read_as_the_checked_constructor_reads_it(size: int) -> None:
    """``frontier_from`` skips ``Frontier``'s per-hash checks (it runs on every append) but
    reads the same frontier, and refuses a blob of any other length."""
    from hub.ledger import Frontier

    levels = [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
    hashes = [hashlib.sha256(b"%d" % level).digest() for level in levels]
    blob = b"".join(hashes)
    checked = Frontier(size, tuple(zip(levels, hashes, strict=True)))
    assert store.frontier_from(size, blob) == checked
    for bad in (blob + b"x", blob + bytes(32), *((blob[:-1], blob[32:]) if blob else ())):
        with pytest.raises(ValueError):
            store.frontier_from(size, bad)
