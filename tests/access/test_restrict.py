"""``Gate.restrict`` — the search pre-filter as a correlated condition — admits exactly the rows
the earlier rid-list form (a UNION of every permitted patient's compartment rows, the
caller's own resources and the open types) admitted, for every kind of caller, on
``resource`` and on ``resource_version`` (history)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Connection, Select, exists, insert, select, union

from bench import data
from hub.access.gate import GATED_TYPES, Gate
from hub.access.schema import break_glass
from hub.store import schema as s
from hub.store.db import Database, make_engine
from hub.store.records import now_micros
from hub.store.repository import Repository
from hub.store.search import restrict_condition

A, B, CORE = "Organization/a", "Organization/b", "Organization/core"


def _consent(pid: str, actor: str | None, purpose: str | None, **extra: Any) -> dict[str, Any]:
    permit: dict[str, Any] = {"type": "permit"}
    if actor:
        permit["actor"] = [{"reference": {"reference": actor}}]
    if purpose:
        permit["purpose"] = [{"system": data.PURPOSE_OF_USE, "code": purpose}]
    consent = data.consent(f"Patient/{pid}")
    consent["provision"] = {"type": "deny", "provision": [permit], **extra.pop("root", {})}
    return {**consent, **extra}


def _observation(pid: str) -> dict[str, Any]:
    return data.observation(f"Patient/{pid}", 0, 0)


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[Database, dict[str, str]]]:
    db = Database(make_engine(database_url))
    names: dict[str, str] = {}
    with db.unit(write=True) as conn:
        repo = Repository(conn)

        def add(name: str, res: dict[str, Any], author: str | None = CORE) -> str:
            stored = repo.create(res, author=author)
            names[f"{res['resourceType']}/{stored.res_id}"] = name
            return stored.res_id

        pids = [add(f"p{i}", {"resourceType": "Patient"}) for i in range(7)]
        for i, pid in enumerate(pids):
            add(f"obs{i}", _observation(pid))
        add("c0", _consent(pids[0], A, "TREAT"))  # A, TREAT
        add("c1", _consent(pids[1], None, None))  # anyone, any purpose
        add("c2", _consent(pids[2], B, "TREAT"))  # B only
        add("c3-old", _consent(pids[3], A, "TREAT", dateTime="2020-01-01"))
        replaced = _consent(pids[3], None, None, dateTime="2024-01-01")
        replaced["provision"] = {"type": "deny"}  # the newer consent of the policy: no permit
        add("c3-new", replaced)
        add("c4", _consent(pids[4], A, None, root={"period": {"end": "2001-01-01"}}))  # ended
        add("c6", _consent(pids[6], A, "ETREAT"))  # emergencies only
        add("obs-by-a", _observation(pids[5]), author=A)  # A's own record of p5
        add("org", data.organization("Organization/x", "x"))
        event = {
            "resourceType": "AuditEvent",
            "type": {"code": "rest"},
            "recorded": "2026-01-01T00:00:00Z",
            "agent": [{"requestor": True}],
            "source": {"observer": {"display": "hub"}},
            "entity": [{"what": {"reference": f"Patient/{pids[0]}"}}],
        }
        add("audit-p0", event, author=None)
        conn.execute(
            insert(break_glass).values(
                client_id="medic", organization=A, patient_id=pids[5], reason="救急",
                created=now_micros(), expires=now_micros() + 3_600_000_000,
            )
        )  # fmt: skip
    yield db, names
    db.dispose()


def _rid_list(gate: Gate, types: set[str]) -> Select[tuple[int]] | None:
    """The earlier pre-filter, verbatim: the UNION of every admitted rid."""
    wanted = set(types)
    if gate.unrestricted or not wanted & GATED_TYPES:
        return None
    g, h, c = s.idx_consent_grant.alias("g"), s.idx_consent_grant.alias("h"), s.idx_compartment
    actors = ["*", *([gate.organization] if gate.organization else [])]
    newer = exists().where(
        h.c.kind == "head", h.c.patient_id == g.c.patient_id, h.c.policy == g.c.policy,
        h.c.date > g.c.date, h.c.low <= gate.now, h.c.high >= gate.now,
    )  # fmt: skip
    allowed = select(g.c.patient_id).where(
        g.c.kind == "permit", g.c.actor.in_(actors), g.c.purpose.in_(["*", gate.purpose]),
        g.c.low <= gate.now, g.c.high >= gate.now, ~newer,
    )  # fmt: skip
    branches: list[Select[Any]] = [
        select(c.c.rid).where(c.c.res_type != "AuditEvent", c.c.patient_id.in_(allowed))
    ]
    if gate.glass():
        branches.append(
            select(c.c.rid).where(
                c.c.res_type != "AuditEvent", c.c.patient_id.in_(list(gate.glass()))
            )
        )
    if gate.organization:
        branches.append(select(s.resource.c.rid).where(s.resource.c.author == gate.organization))
    open_types = sorted(wanted - GATED_TYPES)
    if gate.privacy_officer and "AuditEvent" in wanted:
        open_types.append("AuditEvent")
    if open_types:
        branches.append(select(s.resource.c.rid).where(s.resource.c.res_type.in_(open_types)))
    sub = union(*branches).subquery("allowed")
    return select(sub.c[0])


def _admitted(conn: Connection, table: Any, cond: Any, names: dict[str, str]) -> set[str]:
    rows = conn.execute(select(table.c.res_type, table.c.res_id).where(cond))
    return {names[f"{t}/{i}"] for t, i in rows}


CALLERS = {
    "a": {"organization": A},
    "b": {"organization": B},
    "a-emergency": {"organization": A, "purpose_of_use": "ETREAT"},
    "a-glass": {"organization": A, "purpose_of_use": "ETREAT", "break_glass": True},
    "no-organization": {},
    "privacy-officer": {"organization": "Organization/po", "privacy_officer": True},
}
TYPES = [
    {"Patient"},
    {"Observation", "Patient"},
    {"Observation", "Organization"},
    {"AuditEvent", "Patient"},
    {"Consent"},
]


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_the_condition_admits_exactly_what_the_rid_list_did(
    world: tuple[Database, dict[str, str]], caller: str
) -> None:
    db, names = world
    ctx = SimpleNamespace(
        client_id="medic", purpose_of_use="TREAT", privacy_officer=False, break_glass=False
    )
    for key, value in CALLERS[caller].items():
        setattr(ctx, key, value)
    ctx.organization = CALLERS[caller].get("organization")
    with db.unit(write=False) as conn:
        gate = Gate(conn, ctx)
        for types in TYPES:
            new, old = gate.restrict(types), _rid_list(gate, types)
            assert (new is None) == (old is None)
            if new is None or old is None:
                continue
            for table in (s.resource, s.resource_version):
                got = _admitted(conn, table, restrict_condition(table, new), names)
                want = _admitted(conn, table, table.c.rid.in_(old), names)
                assert got == want, (caller, sorted(types), table.name)
        # and the cases the world was built for
        if caller in ("a", "a-glass"):
            restrict = gate.restrict(["Observation"])
            assert restrict is not None
            got = _admitted(conn, s.resource, restrict_condition(s.resource, restrict), names)
            consented = {"p0", "obs0", "c0", "p1", "obs1", "c1", "obs-by-a"}
            if caller == "a":
                assert got == consented
            else:  # ETREAT: c1 (any purpose), c6 (ETREAT) and the broken glass (p5)
                assert got == {"p1", "obs1", "c1", "p6", "obs6", "c6", "obs-by-a", "p5", "obs5"}
