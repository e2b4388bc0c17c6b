"""Tampering with the stored log is detected by ``hub ledger verify`` (issue 5 "Done when").

For each kind of tampering, on SQLite and PostgreSQL, the CLI exits non-zero and names the
first bad index; on the untouched log it passes. Rollback (a consistent older state) can only
be caught against a checkpoint saved elsewhere: the witness file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import Connection, delete, insert, select, update

from hub.cli import main
from hub.ledger import Frontier
from hub.ledger.log.schema import ledger_checkpoint, ledger_entry, ledger_node, ledger_state
from hub.store import schema as s
from tests.ledger.conftest import build_log


def _verify(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, ["ledger", "verify", *args])


def _first_bad(result: Result) -> int:
    m = re.search(r"first bad index (\d+)", result.stderr)
    assert m, result.output
    return int(m.group(1))


def _entry(conn: Connection, idx: int) -> Any:
    return conn.execute(select(ledger_entry).where(ledger_entry.c.idx == idx)).one()


def edit_byte(conn: Connection) -> int:
    row = _entry(conn, 5)
    data = bytearray(row.entry)
    data[data.index(b'"sha256":"') + 10] ^= 0x01  # one hex digit of the content hash
    conn.execute(update(ledger_entry).where(ledger_entry.c.idx == 5).values(entry=bytes(data)))
    return 5


def delete_row(conn: Connection) -> int:
    conn.execute(delete(ledger_entry).where(ledger_entry.c.idx == 6))
    return 6


def insert_row(conn: Connection) -> int:
    """A forged entry slipped in at 4 (a copy of entry 3), later entries moved up by one."""
    e = ledger_entry.c
    forged = _entry(conn, 3)
    conn.execute(update(ledger_entry).where(e.idx >= 4).values(idx=e.idx + 1000))
    conn.execute(update(ledger_entry).where(e.idx >= 1000).values(idx=e.idx - 999))
    conn.execute(insert(ledger_entry).values({**forged._asdict(), "idx": 4}))
    return 4


def swap_rows(conn: Connection) -> int:
    e = ledger_entry.c
    a, b = _entry(conn, 2)._asdict(), _entry(conn, 7)._asdict()
    conn.execute(update(ledger_entry).where(e.idx == 2).values({**b, "idx": 2}))
    conn.execute(update(ledger_entry).where(e.idx == 7).values({**a, "idx": 7}))
    return 2


def _edit_version(conn: Connection, ref: str) -> None:
    res_type, res_id, _, ver = ref.split("/")
    v = s.resource_version.c
    where = (v.res_type == res_type, v.res_id == res_id, v.version_id == int(ver))
    content = bytes(conn.execute(select(v.content).where(*where)).scalar_one())
    edited = content.replace(b'"outcome":"0"', b'"outcome":"4"').replace(b"OPTIN", b"OPTOUT")
    assert edited != content
    conn.execute(update(s.resource_version).where(*where).values(content=edited))


def edit_audit_event(conn: Connection) -> int:
    _edit_version(conn, _entry(conn, 6).ref)
    return 6


def edit_consent_version(conn: Connection) -> int:
    _edit_version(conn, _entry(conn, 1).ref)
    return 1


TAMPERING: dict[str, Callable[[Connection], int]] = {
    "edit-a-byte-of-an-entry": edit_byte,
    "delete-a-row": delete_row,
    "insert-a-row": insert_row,
    "swap-two-rows": swap_rows,
    "edit-an-audit-event": edit_audit_event,
    "edit-a-consent-version": edit_consent_version,
}


def test_an_untouched_log_verifies(ledger_app: Flask, cli: CliRunner) -> None:
    build_log(ledger_app)
    assert cli.invoke(main, ["ledger", "checkpoint"]).exit_code == 0
    result = _verify(cli)
    assert result.exit_code == 0, result.output
    assert "ok: 12 entries, 1 checkpoints verified" in result.stdout
    assert re.search(r"[\d,]+ entries/s", result.stdout)


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_detected_and_located(ledger_app: Flask, cli: CliRunner, kind: str) -> None:
    build_log(ledger_app)
    assert cli.invoke(main, ["ledger", "checkpoint"]).exit_code == 0
    assert _verify(cli).exit_code == 0
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        expected = TAMPERING[kind](conn)
    result = _verify(cli)
    assert result.exit_code == 1, result.output
    assert _first_bad(result) == expected


def _roll_back(conn: Connection, size: int) -> None:
    """A careful rollback: entries, nodes, their AuditEvents and later checkpoints removed, and
    the state row rewritten — the database is consistent again, only older."""
    e, n = ledger_entry.c, ledger_node.c
    refs = [r[0] for r in conn.execute(select(e.ref).where(e.idx >= size))]
    for ref in refs:
        res_type, res_id, _, ver = ref.split("/")
        v = s.resource_version.c
        conn.execute(
            delete(s.resource_version).where(
                v.res_type == res_type, v.res_id == res_id, v.version_id >= int(ver)
            )
        )
        if res_type == "AuditEvent":
            r = s.resource.c
            conn.execute(delete(s.resource).where(r.res_type == res_type, r.res_id == res_id))
    conn.execute(delete(ledger_entry).where(e.idx >= size))
    conn.execute(delete(ledger_node).where(((n.idx + 1) * (2**n.level)) > size))
    conn.execute(delete(ledger_checkpoint).where(ledger_checkpoint.c.size > size))
    nodes = {(r.level, r.idx): bytes(r.hash) for r in conn.execute(select(ledger_node))}
    frontier = Frontier.load(size, lambda level, index: nodes[level, index])
    conn.execute(
        update(ledger_state).values(
            size=size, root=frontier.root(), frontier=b"".join(h for _, h in frontier.nodes)
        )
    )


def test_rollback_is_detected_against_the_witness_file(
    ledger_app: Flask, cli: CliRunner, tmp_path: Path
) -> None:
    ids = build_log(ledger_app)
    witness = tmp_path / "witness.jsonl"
    result = cli.invoke(main, ["ledger", "witness", str(witness)])
    assert result.exit_code == 0, result.output
    with ledger_app.extensions["hub.db"].unit(write=True) as conn:
        _roll_back(conn, 10)
    # the database alone is consistent again: only a checkpoint kept elsewhere can tell
    assert _verify(cli).exit_code == 0
    result = _verify(cli, "--witness", str(witness))
    assert result.exit_code == 1
    assert _first_bad(result) == 10
    assert "rolled back" in result.stderr
    result = cli.invoke(main, ["ledger", "witness", str(witness)])
    assert result.exit_code == 1 and "rollback" in result.stderr
    # growing the rolled-back log past the witnessed size is a fork, and is refused too
    http = ledger_app.test_client()
    for _ in range(4):
        assert http.get(f"/fhir/Patient/{ids['patient']}").status_code == 200
    lines_before = witness.read_text().count("\n")
    result = cli.invoke(main, ["ledger", "witness", str(witness)])
    assert result.exit_code == 1 and "fork" in result.stderr, result.output
    assert witness.read_text().count("\n") == lines_before
