"""Raw SQL for the write path (``hub.store.repository``): fixed statements on the
transaction's own DB-API cursor, no statement building or compiling.

Every interaction writes at least one resource (its AuditEvent), so the write path skips
SQLAlchemy's statement building: fixed SQL text over the columns of ``hub.store.schema``.
SQLite: one short statement per table; PostgreSQL: a create is *one* statement
(data-modifying CTEs, one round trip).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from hub.consent.grants import GrantRow
from hub.fhir.indexing import IndexRows
from hub.store import schema as s
from hub.store.records import StoredResource

READ_SQL = (
    "SELECT rid, res_type, res_id, version_id, last_updated, deleted, content FROM resource"
    " WHERE res_type = ? AND res_id = ?"
)
_RESOURCE_SQL = (
    "INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted, content, author)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
VERSION_SQL = (
    "INSERT INTO resource_version"
    " (rid, res_type, res_id, version_id, last_updated, method, deleted, content)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
#: index table → its columns after (rid, res_type) — consent grants: after rid only
_INDEX_COLUMNS: dict[str, tuple[str, ...]] = {
    "idx_string": ("code", "value", "exact"),
    "idx_token": ("code", "system", "value", "text"),
    "idx_date": ("code", "low", "high"),
    "idx_reference": ("code", "target_type", "target_id", "url"),
    "idx_compartment": ("patient_id",),
    "idx_consent_grant": (
        "kind", "patient_id", "policy", "date", "actor", "purpose", "low", "high"
    ),
}  # fmt: skip


def _lead(table: str) -> tuple[str, ...]:
    """The columns every row of ``table`` starts with (grants have no ``res_type``)."""
    return ("rid",) if table == "idx_consent_grant" else ("rid", "res_type")


_INDEX_SQL = {
    t: f"INSERT INTO {t} ({', '.join(_lead(t) + cols)})"
    f" VALUES ({', '.join(['?'] * len(_lead(t) + cols))})"
    for t, cols in _INDEX_COLUMNS.items()
}
#: PostgreSQL casts for the CTE form (VALUES lists need their types spelt out)
_PG_TYPES = {
    "code": "varchar", "value": "varchar", "exact": "varchar", "system": "varchar",
    "text": "varchar", "low": "bigint", "high": "bigint", "target_type": "varchar",
    "target_id": "varchar", "url": "varchar", "patient_id": "varchar", "kind": "varchar",
    "policy": "varchar", "date": "bigint", "actor": "varchar", "purpose": "varchar",
}  # fmt: skip

_Head = tuple[str, str, int, int, bool, bytes | None]  # res_type, res_id, version, stamp, …


def head_of(stored: StoredResource) -> _Head:
    return (
        stored.res_type,
        stored.res_id,
        stored.version_id,
        stored.last_updated,
        stored.deleted,
        stored.content,
    )


def version_params(rid: int, head: _Head, method: str) -> tuple[Any, ...]:
    res_type, res_id, version, stamp, deleted, content = head
    return (rid, res_type, res_id, version, stamp, method, deleted, content)


def _index_values(rows: IndexRows, grants: Sequence[GrantRow]) -> dict[str, list[tuple[Any, ...]]]:
    """Each index table's rows (without ``rid``/``res_type``), as the schema's columns."""
    return {
        "idx_string": [(r.code, r.value, r.exact) for r in rows.strings],
        "idx_token": [(r.code, r.system, r.value, r.text) for r in rows.tokens],
        "idx_date": [(r.code, r.low, r.high) for r in rows.dates],
        "idx_reference": [
            (r.code, r.target_type, r.target_id, r.url) for r in rows.references
        ],
        "idx_compartment": [(p,) for p in rows.compartments],
        "idx_consent_grant": [
            (g.kind, g.patient_id, g.policy[:256], g.date, g.actor[:256], g.purpose[:64],
             g.low, g.high)
            for g in grants
        ],
    }  # fmt: skip


def index_statements(
    rid: int, res_type: str, rows: IndexRows, grants: Sequence[GrantRow]
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    out = []
    for table, values in _index_values(rows, grants).items():
        if values:
            lead = (rid, res_type)[: len(_lead(table))]
            out.append((_INDEX_SQL[table], [lead + v for v in values]))
    return out


def unindex_rids(conn: Connection, rids: Sequence[int]) -> None:
    """Remove every index row of ``rids`` (the raw-statement form of ``Repository._unindex``):
    one statement per table and batch of 500."""
    for k in range(0, len(rids), 500):
        chunk = tuple(rids[k : k + 500])
        marks = ", ".join("?" * len(chunk))
        execute(
            conn,
            [(f"DELETE FROM {t.name} WHERE rid IN ({marks})", [chunk]) for t in s.INDEX_TABLES],
        )


_TABLE_OF_SQL = {sql: table for table, sql in _INDEX_SQL.items()}


def execute_bulk(conn: Connection, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """Like :func:`execute`, for many rows at once: on PostgreSQL each index table's rows go in
    one ``INSERT … SELECT FROM unnest(…)`` (one array per column) instead of a statement per
    row; other statements, and SQLite (whose per-row statements are cheap), as ``execute``."""
    if conn.dialect.name != "postgresql":
        execute(conn, statements)
        return
    rest: list[tuple[str, list[tuple[Any, ...]]]] = []
    cur = cursor(conn)
    try:
        for sql, rows in statements:
            table = _TABLE_OF_SQL.get(sql)
            if table is None or len(rows) < 2:
                rest.append((sql, rows))
                continue
            cols = _lead(table) + _INDEX_COLUMNS[table]
            types = {"rid": "bigint", "res_type": "varchar", **_PG_TYPES}
            arrays = ", ".join(f"%s::{types[c]}[]" for c in cols)
            cur.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({arrays})",
                [list(column) for column in zip(*rows, strict=True)],
            )
    finally:
        cur.close()
    execute(conn, rest)


def raw_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Rows of one fixed SELECT (``?`` placeholders) on the transaction's DB-API cursor."""
    cur = cursor(conn)
    try:
        cur.execute(sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()


def cursor(conn: Connection) -> Any:
    if not conn.in_transaction():  # autobegin, as ``Connection.execute`` would
        conn.begin()
    return conn.connection.cursor()


def execute(conn: Connection, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """Run ``(sql, rows)`` pairs (``?`` placeholders) on the transaction's DB-API cursor."""
    if not statements:
        return
    pg = conn.dialect.name == "postgresql"
    cur = cursor(conn)
    try:
        for sql, rows in statements:
            if pg:
                sql = sql.replace("?", "%s")
            if len(rows) == 1:
                cur.execute(sql, rows[0])
            else:
                cur.executemany(sql, rows)
    finally:
        cur.close()


def raw_create(
    conn: Connection,
    head: _Head,
    author: str | None,
    method: str,
    rows: IndexRows,
    grants: Sequence[GrantRow],
    *,
    deferred: bool = False,
) -> int:
    """Insert the resource, its first version and its index rows (or, ``deferred``, the
    resource row and its ``index_backlog`` row); return the new ``rid``."""
    res_type = head[0]
    resource_params = (*head, author)
    if conn.dialect.name == "postgresql":
        values = {t: v for t, v in _index_values(rows, grants).items() if v}
        sql = _pg_create_sql(tuple(values), deferred)
        params: list[Any] = [*resource_params]
        if deferred:
            params.append(method)
        else:
            params.extend(version_params(0, head, method)[1:])
        for table, vals in values.items():
            if table != "idx_consent_grant":
                params.append(res_type)
            params.extend(list(column) for column in zip(*vals, strict=True))
        cur = cursor(conn)
        try:
            cur.execute(sql, params)
            return int(cur.fetchone()[0])
        finally:
            cur.close()
    cur = cursor(conn)
    try:
        cur.execute(_RESOURCE_SQL, resource_params)
        rid = int(cur.lastrowid)
    finally:
        cur.close()
    version = (_BACKLOG_SQL, [(rid, method)]) if deferred else (
        VERSION_SQL, [version_params(rid, head, method)]
    )  # fmt: skip
    execute(conn, [version, *index_statements(rid, res_type, rows, grants)])
    return rid


#: a deferred create: its version row and index rows wait (``hub.store.backlog``); a rid
#: already waiting — only possible if rows were removed behind the hub's back — stays
_BACKLOG_SQL = "INSERT INTO index_backlog (rid, method) VALUES (?, ?) ON CONFLICT (rid) DO NOTHING"


@lru_cache(maxsize=64)
def _pg_create_sql(tables: tuple[str, ...], deferred: bool = False) -> str:
    """One PostgreSQL statement for a create: resource, version and index rows (``tables``:
    the non-empty index tables). Each table's rows come as one array per column, through
    ``unnest``, so the text depends only on which tables have rows — short, with few
    parameters, so that psycopg caches its conversion and prepares it server-side."""
    parts = [
        "WITH r AS (INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted,"
        " content, author) VALUES (%s::varchar, %s::varchar, %s::integer, %s::bigint,"
        " %s::boolean, %s::bytea, %s::varchar) RETURNING rid)",
        "b AS (INSERT INTO index_backlog (rid, method) SELECT rid, %s::varchar FROM r"
        " ON CONFLICT (rid) DO NOTHING)"
        if deferred
        else "v AS (INSERT INTO resource_version (rid, res_type, res_id, version_id,"
        " last_updated, method, deleted, content) SELECT rid, %s::varchar, %s::varchar,"
        " %s::integer, %s::bigint, %s::varchar, %s::boolean, %s::bytea FROM r)",
    ]
    for n, table in enumerate(tables):
        cols = _INDEX_COLUMNS[table]
        arrays = ", ".join(f"%s::{_PG_TYPES[c]}[]" for c in cols)
        lead = "r.rid" if table == "idx_consent_grant" else "r.rid, %s::varchar"
        head_cols = ", ".join(_lead(table))
        parts.append(
            f"i{n} AS (INSERT INTO {table} ({head_cols}, {', '.join(cols)})"
            f" SELECT {lead}, {', '.join('x.' + c for c in cols)}"
            f" FROM r, unnest({arrays}) AS x ({', '.join(cols)}))"
        )
    return ", ".join(parts) + " SELECT rid FROM r"
