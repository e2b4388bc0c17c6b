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
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update

from hub.consent.grants import grant_rows
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


def _record(row: Row[Any, Any, Any, Any, Any, Any, Any]) -> StoredResource:
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
        """The current version (deleted ones included, with ``deleted=True``)."""
        q = select(*_COLUMNS).where(
            s.resource.c.res_type == res_type, s.resource.c.res_id == res_id
        )
        if for_update:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
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
    ) -> StoredResource:
        """Store ``resource`` as version 1 under a new (or the given) id."""
        res_type = resource["resourceType"]
        rid_value = res_id or new_id()
        stamp = now_micros()
        content = self._stamp(resource, rid_value, 1, stamp)
        rid = self.conn.execute(
            insert(s.resource)
            .values(
                res_type=res_type,
                res_id=rid_value,
                version_id=1,
                last_updated=stamp,
                deleted=False,
                content=content,
                author=author,
            )
            .returning(s.resource.c.rid)
        ).scalar_one()
        stored = StoredResource(rid, res_type, rid_value, 1, stamp, False, content)
        self._version(stored, method)
        self._index(rid, res_type, resource)
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
        self.conn.execute(
            insert(s.resource_version).values(
                rid=stored.rid,
                res_type=stored.res_type,
                res_id=stored.res_id,
                version_id=stored.version_id,
                last_updated=stored.last_updated,
                method=method,
                deleted=stored.deleted,
                content=stored.content,
            )
        )
        if stored.res_type == "Consent":  # every consent change goes into the ledger (issue 5)
            from hub.ledger.log.store import record_consent

            record_consent(self.conn, stored)

    def _index(self, rid: int, res_type: str, resource: dict[str, Any]) -> None:
        rows: IndexRows = index_resource(resource, self.registry)
        base = {"rid": rid, "res_type": res_type}
        if rows.strings:
            self.conn.execute(
                insert(s.idx_string),
                [
                    {**base, "code": r.code, "value": r.value, "exact": r.exact}
                    for r in rows.strings
                ],
            )
        if rows.tokens:
            self.conn.execute(
                insert(s.idx_token),
                [
                    {**base, "code": r.code, "system": r.system, "value": r.value, "text": r.text}
                    for r in rows.tokens
                ],
            )
        if rows.dates:
            self.conn.execute(
                insert(s.idx_date),
                [{**base, "code": r.code, "low": r.low, "high": r.high} for r in rows.dates],
            )
        if rows.references:
            self.conn.execute(
                insert(s.idx_reference),
                [
                    {
                        **base,
                        "code": r.code,
                        "target_type": r.target_type,
                        "target_id": r.target_id,
                        "url": r.url,
                    }
                    for r in rows.references
                ],
            )
        if rows.compartments:
            self.conn.execute(
                insert(s.idx_compartment),
                [{**base, "patient_id": p} for p in rows.compartments],
            )
        if res_type == "Consent" and (grants := grant_rows(resource)):
            self.conn.execute(
                insert(s.idx_consent_grant),
                [
                    {
                        "rid": rid,
                        "kind": g.kind,
                        "patient_id": g.patient_id,
                        "policy": g.policy[:256],
                        "date": g.date,
                        "actor": g.actor[:256],
                        "purpose": g.purpose[:64],
                        "low": g.low,
                        "high": g.high,
                    }
                    for g in grants
                ],
            )

    def _unindex(self, rid: int) -> None:
        for table in s.INDEX_TABLES:
            self.conn.execute(delete(table).where(table.c.rid == rid))
