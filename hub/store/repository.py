"""The repository: versioned FHIR resources over one SQLAlchemy connection.

Implements the storage side of http://hl7.org/fhir/R4/http.html — create, read, vread,
update (version-aware), delete (logical), history — keeping ``resource`` (current),
``resource_version`` (every version) and the search index in the caller's transaction.
The caller (an interaction) owns the transaction; the repository never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, select, update

from hub.consent.grants import GrantRow, grant_rows
from hub.fhir.canonical import canonical
from hub.fhir.indexing import IndexRows, index_resource
from hub.fhir.searchparams import SearchParamRegistry, default_registry
from hub.store import schema as s
from hub.store.records import StoredResource, micros_to_instant, now_micros

_COLUMNS = (
    s.resource.c.rid,
    s.resource.c.res_type,
    s.resource.c.res_id,
    s.resource.c.version_id,
    s.resource.c.last_updated,
    s.resource.c.deleted,
    s.resource.c.content,
)
_VCOLUMNS = (
    s.resource_version.c.rid,
    s.resource_version.c.res_type,
    s.resource_version.c.res_id,
    s.resource_version.c.version_id,
    s.resource_version.c.last_updated,
    s.resource_version.c.deleted,
    s.resource_version.c.content,
)


def _record(row: Row[Any, Any, Any, Any, Any, Any, Any] | tuple[Any, ...]) -> StoredResource:
    return StoredResource(
        rid=row[0],
        res_type=row[1],
        res_id=row[2],
        version_id=row[3],
        last_updated=row[4],
        deleted=bool(row[5]),
        content=bytes(row[6]) if row[6] is not None else None,
    )


def new_id() -> str:
    """A server-assigned logical id (http://hl7.org/fhir/R4/resource.html#id)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[StoredResource]
    total: int


class Repository:
    """Resources of every type, stored and indexed through one connection."""

    def __init__(self, conn: Connection, registry: SearchParamRegistry | None = None) -> None:
        self.conn = conn
        self.registry = registry or default_registry()

    # -- reads -------------------------------------------------------------------------------

    def read(
        self, res_type: str, res_id: str, *, for_update: bool = False
    ) -> StoredResource | None:
        """The current version (deleted ones included, with ``deleted=True``); fixed SQL on
        the DB-API cursor (every read and update starts here)."""
        pg = self.conn.dialect.name == "postgresql"
        sql = _READ_SQL.replace("?", "%s") if pg else _READ_SQL
        if for_update and pg:  # SQLite: BEGIN IMMEDIATE already holds the write lock
            sql += " FOR UPDATE"
        cur = _cursor(self.conn)
        try:
            cur.execute(sql, (res_type, res_id))
            row = cur.fetchone()
        finally:
            cur.close()
        return _record(row) if row else None

    def read_many(self, refs: Sequence[tuple[str, str]]) -> list[StoredResource]:
        """Current, non-deleted versions of the given (type, id) pairs (missing ones skipped)."""
        out: list[StoredResource] = []
        by_type: dict[str, list[str]] = {}
        for t, i in refs:
            by_type.setdefault(t, []).append(i)
        for t, ids in by_type.items():
            rows = self.conn.execute(
                select(*_COLUMNS).where(
                    s.resource.c.res_type == t,
                    s.resource.c.res_id.in_(ids),
                    s.resource.c.deleted.is_(False),
                )
            )
            out.extend(_record(r) for r in rows)
        return out

    def read_rids(self, rids: Sequence[int]) -> list[StoredResource]:
        if not rids:
            return []
        rows = self.conn.execute(select(*_COLUMNS).where(s.resource.c.rid.in_(list(rids))))
        found = {r[0]: _record(r) for r in rows}
        return [found[r] for r in rids if r in found]

    def vread(self, res_type: str, res_id: str, version_id: int) -> StoredResource | None:
        row = self.conn.execute(
            select(*_VCOLUMNS).where(
                s.resource_version.c.res_type == res_type,
                s.resource_version.c.res_id == res_id,
                s.resource_version.c.version_id == version_id,
            )
        ).first()
        return _record(row) if row else None

    def history(
        self,
        res_type: str | None = None,
        res_id: str | None = None,
        *,
        since: int | None = None,
        at: int | None = None,
        count: int = 20,
        offset: int = 0,
    ) -> HistoryPage:
        """Versions newest first (http://hl7.org/fhir/R4/http.html#history)."""
        v = s.resource_version.c
        cond = []
        if res_type is not None:
            cond.append(v.res_type == res_type)
        else:  # the audit trail is not part of the system history (search AuditEvent instead)
            cond.append(v.res_type != "AuditEvent")
        if res_id is not None:
            cond.append(v.res_id == res_id)
        if since is not None:
            cond.append(v.last_updated >= since)
        if at is not None:
            cond.append(v.last_updated <= at)
        where = and_(True, *cond)
        total = self.conn.execute(
            select(func.count()).select_from(s.resource_version).where(where)
        ).scalar_one()
        rows = self.conn.execute(
            select(*_VCOLUMNS)
            .where(where)
            .order_by(v.last_updated.desc(), v.vid.desc())
            .limit(count)
            .offset(offset)
        )
        return HistoryPage([_record(r) for r in rows], int(total))

    # -- writes ------------------------------------------------------------------------------

    def create(
        self,
        resource: dict[str, Any],
        *,
        res_id: str | None = None,
        method: str = "POST",
        author: str | None = None,
        index: IndexRows | None = None,
    ) -> StoredResource:
        """Store ``resource`` as version 1 under a new (or the given) id.

        ``index``: the resource's search index rows when the caller already has them
        (``hub.audit`` builds an AuditEvent's from its record); otherwise computed here.
        """
        res_type = resource["resourceType"]
        rid_value = res_id or new_id()
        stamp = now_micros()
        content = self._stamp(resource, rid_value, 1, stamp)
        rows = index if index is not None else index_resource(resource, self.registry)
        grants = grant_rows(resource) if res_type == "Consent" else []
        head = (res_type, rid_value, 1, stamp, False, content)
        rid = _raw_create(self.conn, head, author, method, rows, grants)
        stored = StoredResource(rid, res_type, rid_value, 1, stamp, False, content)
        if res_type == "Consent":  # every consent change goes into the ledger (issue 5)
            from hub.ledger.log.store import record_consent

            record_consent(self.conn, stored)
        return stored

    def update(
        self, current: StoredResource, resource: dict[str, Any], *, method: str = "PUT"
    ) -> StoredResource:
        """Store ``resource`` as the next version of ``current`` (which may be deleted)."""
        version = current.version_id + 1
        stamp = max(now_micros(), current.last_updated + 1)
        content = self._stamp(resource, current.res_id, version, stamp)
        self.conn.execute(
            update(s.resource)
            .where(s.resource.c.rid == current.rid)
            .values(version_id=version, last_updated=stamp, deleted=False, content=content)
        )
        stored = StoredResource(
            current.rid, current.res_type, current.res_id, version, stamp, False, content
        )
        self._version(stored, method)
        self._unindex(current.rid)
        self._index(current.rid, current.res_type, resource)
        return stored

    def delete(self, current: StoredResource) -> StoredResource:
        """Logical delete: a new, deleted version; the index rows go (http.html#delete)."""
        version = current.version_id + 1
        stamp = max(now_micros(), current.last_updated + 1)
        self.conn.execute(
            update(s.resource)
            .where(s.resource.c.rid == current.rid)
            .values(version_id=version, last_updated=stamp, deleted=True, content=None)
        )
        stored = StoredResource(
            current.rid, current.res_type, current.res_id, version, stamp, True, None
        )
        self._version(stored, "DELETE")
        self._unindex(current.rid)
        return stored

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _stamp(resource: dict[str, Any], res_id: str, version: int, stamp: int) -> bytes:
        """Set ``id`` and ``meta.versionId``/``meta.lastUpdated``; return canonical bytes."""
        resource["id"] = res_id
        meta = dict(resource.get("meta") or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = micros_to_instant(stamp)
        resource["meta"] = meta
        return canonical(resource)

    def _version(self, stored: StoredResource, method: str) -> None:
        _execute(
            self.conn,
            [(_VERSION_SQL, [_version_params(stored.rid, _head(stored), method)])],
        )
        if stored.res_type == "Consent":  # every consent change goes into the ledger (issue 5)
            from hub.ledger.log.store import record_consent

            record_consent(self.conn, stored)

    def _index(self, rid: int, res_type: str, resource: dict[str, Any]) -> None:
        rows: IndexRows = index_resource(resource, self.registry)
        grants = grant_rows(resource) if res_type == "Consent" else []
        _execute(self.conn, _index_statements(rid, res_type, rows, grants))

    def _unindex(self, rid: int) -> None:
        for table in s.INDEX_TABLES:
            self.conn.execute(delete(table).where(table.c.rid == rid))


# -- raw statements for the write path ----------------------------------------------------------
#
# Every interaction writes at least one resource (its AuditEvent), so the write path skips
# SQLAlchemy's statement building and compiling: fixed SQL text on the transaction's own DB-API
# cursor (the columns of ``hub.store.schema``). SQLite: one short statement per table;
# PostgreSQL: a create is *one* statement (data-modifying CTEs, one round trip).

_READ_SQL = (
    "SELECT rid, res_type, res_id, version_id, last_updated, deleted, content FROM resource"
    " WHERE res_type = ? AND res_id = ?"
)
_RESOURCE_SQL = (
    "INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted, content, author)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_VERSION_SQL = (
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


def _head(stored: StoredResource) -> _Head:
    return (
        stored.res_type,
        stored.res_id,
        stored.version_id,
        stored.last_updated,
        stored.deleted,
        stored.content,
    )


def _version_params(rid: int, head: _Head, method: str) -> tuple[Any, ...]:
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


def _index_statements(
    rid: int, res_type: str, rows: IndexRows, grants: Sequence[GrantRow]
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    out = []
    for table, values in _index_values(rows, grants).items():
        if values:
            lead = (rid, res_type)[: len(_lead(table))]
            out.append((_INDEX_SQL[table], [lead + v for v in values]))
    return out


def raw_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Rows of one fixed SELECT (``?`` placeholders) on the transaction's DB-API cursor."""
    cur = _cursor(conn)
    try:
        cur.execute(sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()


def _cursor(conn: Connection) -> Any:
    if not conn.in_transaction():  # autobegin, as ``Connection.execute`` would
        conn.begin()
    return conn.connection.cursor()


def _execute(conn: Connection, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """Run ``(sql, rows)`` pairs (``?`` placeholders) on the transaction's DB-API cursor."""
    if not statements:
        return
    pg = conn.dialect.name == "postgresql"
    cur = _cursor(conn)
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


def _raw_create(
    conn: Connection,
    head: _Head,
    author: str | None,
    method: str,
    rows: IndexRows,
    grants: Sequence[GrantRow],
) -> int:
    """Insert the resource, its first version and its index rows; return the new ``rid``."""
    res_type = head[0]
    resource_params = (*head, author)
    if conn.dialect.name == "postgresql":
        values = {t: v for t, v in _index_values(rows, grants).items() if v}
        sql = _pg_create_sql(tuple(values))
        params: list[Any] = [*resource_params, *_version_params(0, head, method)[1:]]
        for table, vals in values.items():
            if table != "idx_consent_grant":
                params.append(res_type)
            params.extend(list(column) for column in zip(*vals, strict=True))
        cur = _cursor(conn)
        try:
            cur.execute(sql, params)
            return int(cur.fetchone()[0])
        finally:
            cur.close()
    cur = _cursor(conn)
    try:
        cur.execute(_RESOURCE_SQL, resource_params)
        rid = int(cur.lastrowid)
    finally:
        cur.close()
    _execute(
        conn,
        [
            (_VERSION_SQL, [_version_params(rid, head, method)]),
            *_index_statements(rid, res_type, rows, grants),
        ],
    )
    return rid


@lru_cache(maxsize=64)
def _pg_create_sql(tables: tuple[str, ...]) -> str:
    """One PostgreSQL statement for a create: resource, version and index rows (``tables``:
    the non-empty index tables). Each table's rows come as one array per column, through
    ``unnest``, so the text depends only on which tables have rows — short, with few
    parameters, so that psycopg caches its conversion and prepares it server-side."""
    parts = [
        "WITH r AS (INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted,"
        " content, author) VALUES (%s::varchar, %s::varchar, %s::integer, %s::bigint,"
        " %s::boolean, %s::bytea, %s::varchar) RETURNING rid)",
        "v AS (INSERT INTO resource_version (rid, res_type, res_id, version_id, last_updated,"
        " method, deleted, content) SELECT rid, %s::varchar, %s::varchar, %s::integer,"
        " %s::bigint, %s::varchar, %s::boolean, %s::bytea"
        " FROM r)",
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
