"""The repository: versioned FHIR resources over one SQLAlchemy connection.

Implements the storage side of http://hl7.org/fhir/R4/http.html — create, read, vread,
update (version-aware), delete (logical), history — keeping ``resource`` (current),
``resource_version`` (every version) and the search index in the caller's transaction.
The caller (an interaction) owns the transaction; the repository never commits.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, select, update

from hub.consent.grants import grant_rows
from hub.fhir.canonical import canonical
from hub.fhir.indexing import IndexRows, index_resource
from hub.fhir.searchparams import SearchParamRegistry, default_registry
from hub.store import schema as s
from hub.store.records import StoredResource, micros_to_instant, now_micros
from hub.store.statements import (
    READ_SQL,
    VERSION_SQL,
    cursor,
    execute,
    head_of,
    index_statements,
    raw_create,
    version_params,
)

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


class Deferred:
    """The type of :data:`DEFERRED`."""

    __slots__ = ()


DEFERRED_TYPES = frozenset({"AuditEvent"})
"""The only types that may be written with :data:`DEFERRED`: the hub writes them and never
changes them (``hub.store.backlog`` copies version 1 from the resource row)."""

DEFERRED = Deferred()
"""``Repository.create(index=DEFERRED)``: no index rows now; the rid goes on the backlog."""

NO_ROWS = IndexRows(strings=[], tokens=[], dates=[], references=[], compartments=[])


def new_id() -> str:
    """A server-assigned logical id (http://hl7.org/fhir/R4/resource.html#id)."""
    return str(uuid.uuid4())


def time_ordered_id() -> str:
    """A server-assigned id that sorts by creation time: a UUID version 7 (RFC 9562 §5.7 —
    48-bit Unix milliseconds, then 74 random bits). For AuditEvents, written on every request:
    each new id lands at the end of the ``(res_type, res_id)`` index (and the ledger's ``ref``
    index) instead of on a random page, so a write touches pages already in hand — fewer page
    splits, and on PostgreSQL fewer full-page images after a checkpoint. It reveals when the
    record was made, which the AuditEvent says anyway (``recorded``)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & (2**62 - 1)
    h = f"{value:032x}"  # str(uuid.UUID(int=value)), without building the UUID object
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
        sql = READ_SQL.replace("?", "%s") if pg else READ_SQL
        if for_update and pg:  # SQLite: BEGIN IMMEDIATE already holds the write lock
            sql += " FOR UPDATE"
        cur = cursor(self.conn)
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
        self.materialize(res_type)
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
        if res_type is not None:  # (the system history leaves AuditEvents out)
            self.materialize(res_type)
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

    def materialize(self, res_type: str) -> None:
        """Before reading versions of ``res_type``: if it is a deferred type, write its
        waiting version rows (``hub.store.backlog.ensure``)."""
        from hub.store import backlog

        backlog.ensure(self.conn, [res_type], self.registry)

    def _complete(self, current: StoredResource) -> None:
        """Before a new version of a deferred-type resource (never through the API): write
        its waiting version 1 and index rows, here — it may be this transaction's own."""
        if current.res_type in DEFERRED_TYPES:
            from hub.store import backlog

            backlog.catch_up(self.conn, self.registry, rid=current.rid)

    # -- writes ------------------------------------------------------------------------------

    def create(
        self,
        resource: dict[str, Any],
        *,
        res_id: str | None = None,
        method: str = "POST",
        author: str | None = None,
        index: IndexRows | Deferred | None = None,
    ) -> StoredResource:
        """Store ``resource`` as version 1 under a new (or the given) id.

        ``index``: the resource's search index rows when the caller already has them;
        :data:`DEFERRED` to write only the resource row now and put it on the backlog
        (``hub.store.backlog``: its version row and index rows are written later, and before
        any search, history or vread that could return it — for resources never changed
        afterwards, AuditEvents); otherwise computed here.
        """
        res_type = resource["resourceType"]
        rid_value = res_id or new_id()
        stamp = now_micros()
        content = self._stamp(resource, rid_value, 1, stamp)
        deferred = isinstance(index, Deferred)
        if deferred and res_type not in DEFERRED_TYPES:
            raise ValueError(f"{res_type} is not written with its rows deferred")
        if isinstance(index, IndexRows):
            rows = index
        elif deferred:
            rows = NO_ROWS
        else:
            rows = index_resource(resource, self.registry)
        grants = grant_rows(resource) if res_type == "Consent" else []
        head = (res_type, rid_value, 1, stamp, False, content)
        rid = raw_create(self.conn, head, author, method, rows, grants, deferred=deferred)
        stored = StoredResource(rid, res_type, rid_value, 1, stamp, False, content)
        if res_type == "Consent":  # every consent change goes into the ledger (issue 5)
            from hub.ledger.log.store import record_consent

            record_consent(self.conn, stored)
        return stored

    def update(
        self, current: StoredResource, resource: dict[str, Any], *, method: str = "PUT"
    ) -> StoredResource:
        """Store ``resource`` as the next version of ``current`` (which may be deleted)."""
        self._complete(current)
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
        self._complete(current)
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
        execute(
            self.conn,
            [(VERSION_SQL, [version_params(stored.rid, head_of(stored), method)])],
        )
        if stored.res_type == "Consent":  # every consent change goes into the ledger (issue 5)
            from hub.ledger.log.store import record_consent

            record_consent(self.conn, stored)

    def _index(self, rid: int, res_type: str, resource: dict[str, Any]) -> None:
        rows: IndexRows = index_resource(resource, self.registry)
        grants = grant_rows(resource) if res_type == "Consent" else []
        execute(self.conn, index_statements(rid, res_type, rows, grants))

    def _unindex(self, rid: int) -> None:
        for table in s.INDEX_TABLES:
            self.conn.execute(delete(table).where(table.c.rid == rid))
