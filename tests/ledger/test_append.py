"""The append path (``hub.ledger.log.store.append``): on PostgreSQL one call of the
``hub_ledger_append`` function (migration 0007: the state row lock and the frontier update on
the server), on SQLite the tree update in Python under ``BEGIN IMMEDIATE``; either way one
tree with consecutive entries, every stored node what ``hub.ledger.merkle.append`` computes
(RFC 9162 §2.1)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from hub.config import Settings
from hub.ledger import root_from_leaf_hashes
from hub.ledger.log import store
from hub.ledger.log.schema import ledger_entry, ledger_node
from hub.ledger.merkle import Frontier
from hub.ledger.merkle import append as merkle_append
from tests.ledger.conftest import FHIR_JSON


class _CountingSql(dict[str, str]):
    """``store._LOCK_SQL`` that counts how often the locking path runs."""

    calls = 0

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        type(self).calls += 1
        return super().get(key, default)


@pytest.fixture
def lock_calls(monkeypatch: pytest.MonkeyPatch) -> type[_CountingSql]:
    _CountingSql.calls = 0
    monkeypatch.setattr(store, "_LOCK_SQL", _CountingSql(store._LOCK_SQL))
    return _CountingSql


@pytest.fixture
def second_app(ledger_settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    """Another app on the same database: its own engine and pool, as another process has."""
    from hub.app import create_app

    app = create_app(replace(ledger_settings, engine_options={"pool_size": 2}))
    yield app
    app.extensions["hub.db"].dispose()


def _patient(app: Flask) -> str:
    resp = app.test_client().post(
        "/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "架空"}]},
        headers=FHIR_JSON,
    )  # fmt: skip
    assert resp.status_code == 201, resp.get_data()
    return str(resp.get_json()["id"])


def _tree_is_sound(app: Flask, size: int) -> None:
    with app.extensions["hub.db"].unit(write=False) as conn:
        rows = conn.execute(
            select(ledger_entry.c.idx, ledger_entry.c.leaf_hash).order_by(ledger_entry.c.idx)
        ).all()
        assert [int(r.idx) for r in rows] == list(range(size))
        hashes = [bytes(r.leaf_hash) for r in rows]
        assert store.current_frontier(conn).root() == root_from_leaf_hashes(hashes)
        assert store.root_at(conn, size) == root_from_leaf_hashes(hashes)
        # every stored node is the one the pure Python append completes (the reference)
        expected, frontier = set(), Frontier()
        for h in hashes:
            frontier, nodes = merkle_append(frontier, h)
            expected |= {(n.level, n.index, n.hash) for n in nodes}
        stored = conn.execute(select(ledger_node.c.level, ledger_node.c.idx, ledger_node.c.hash))
        assert {(int(a), int(b), bytes(c)) for a, b, c in stored} == expected


def test_appends_build_the_same_tree_as_the_reference(
    ledger_app: Flask, lock_calls: type[_CountingSql]
) -> None:
    pid = _patient(ledger_app)
    http = ledger_app.test_client()
    for _ in range(40):  # sizes crossing several powers of two: nodes up to level 5
        assert http.get(f"/fhir/Patient/{pid}").status_code == 200
    postgres = ledger_app.extensions["hub.db"].dialect == "postgresql"
    # PostgreSQL: the function does it all; SQLite reads the state under BEGIN IMMEDIATE
    assert lock_calls.calls == (0 if postgres else 41)
    _tree_is_sound(ledger_app, 41)


def test_two_appenders_alternating_stay_consecutive(
    ledger_app: Flask, second_app: Flask, lock_calls: type[_CountingSql]
) -> None:
    pid = _patient(ledger_app)
    first, second = ledger_app.test_client(), second_app.test_client()
    for _ in range(6):
        assert first.get(f"/fhir/Patient/{pid}").status_code == 200
        assert second.get(f"/fhir/Patient/{pid}").status_code == 200
    postgres = ledger_app.extensions["hub.db"].dialect == "postgresql"
    assert lock_calls.calls == (0 if postgres else 13)
    _tree_is_sound(ledger_app, 13)


def test_a_rolled_back_append_leaves_no_trace(ledger_app: Flask) -> None:
    pid = _patient(ledger_app)
    db = ledger_app.extensions["hub.db"]
    with pytest.raises(RuntimeError), db.unit(write=True) as conn:
        store.append(conn, "access", "AuditEvent/x/_history/1", b"{}")
        raise RuntimeError("the interaction failed after its append")
    assert ledger_app.test_client().get(f"/fhir/Patient/{pid}").status_code == 200
    _tree_is_sound(ledger_app, 2)  # the rolled-back entry's index (1) was given again
