"""Writing audit records: an AuditEvent resource (and its ledger entry) per interaction.

Success: written by ``routes.dispatch`` through the interaction's own repository, so the
record commits in the same transaction as the access — no access without its record.
Refusal: the interaction's transaction rolls back, so the record waits in ``AuditTrail`` and
the HTTP edge writes it in a unit of its own right after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.audit import index as _index  # noqa: F401  (registers the backlog's AuditEvent indexer)
from hub.audit.events import AuditRecord, Disclosure, Outcome, render
from hub.store import backlog
from hub.store.records import StoredResource, location_parts, micros_to_instant, now_micros
from hub.store.repository import DEFERRED, Repository, time_ordered_id
from hub.store.statements import raw_rows


@dataclass
class AuditTrail:
    """The audit records of one HTTP request (one per interaction, Bundle entries included)."""

    address: str | None = None
    pending: list[AuditRecord] = field(default_factory=list)


def new_record(
    interaction: str, context: Any, trail: AuditTrail | None, target: str | None, query: str | None
) -> AuditRecord:
    purpose = getattr(context, "purpose_of_use", None)
    return AuditRecord(
        interaction=interaction,
        client_id=getattr(context, "client_id", None) or getattr(context, "reason", None),
        organization=getattr(context, "organization", None),
        purpose=purpose if isinstance(purpose, str) else None,
        address=trail.address if trail else None,
        recorded=micros_to_instant(now_micros()),
        target=target,
        query=query,
    )


def disclosures(verdicts: list[Any]) -> list[Disclosure]:
    out = []
    for v in verdicts:
        item = v.item
        ref = f"{item.reference}/_history/{item.version_id}"
        for pid in v.patients or (None,):
            out.append(
                Disclosure(
                    ref, pid, v.permit, v.rule, v.consent, v.provision, v.custodian, v.detail
                )
            )
    return out


_WRITTEN_SQL = (
    "SELECT c.patient_id FROM resource r LEFT JOIN idx_compartment c ON c.rid = r.rid"
    " WHERE r.res_type = ? AND r.res_id = ? AND r.deleted = ?"
)


def written(repo: Repository, location: str | None) -> list[tuple[str, tuple[str, ...]]]:
    """What a create or update stored (its ``Location``) and whose compartment holds it, so
    that the AuditEvent of a write names the person (BALP: the patient entity). One fixed
    query on the transaction's cursor: every write's audit record asks it."""
    parts = location_parts(location)
    if parts is None or parts[2] is None:
        return []
    res_type, res_id, version = parts
    rows = raw_rows(repo.conn, _WRITTEN_SQL, (res_type, res_id, False))
    if not rows:  # not stored, or deleted
        return []
    pids = tuple(sorted({str(r[0]) for r in rows if r[0] is not None}))
    return [(f"{res_type}/{res_id}/_history/{version}", pids)]


def write(repo: Repository, record: AuditRecord) -> StoredResource:
    """Store the AuditEvent (the hub is its only author; the API refuses to write one) and
    append its 'access' entry to the ledger, in the same transaction. Its search index rows
    are deferred to the index backlog (``hub.store.backlog``: written off the request path by
    ``hub.audit.index.audit_index``, and always before a search that could return it)."""
    from hub.ledger.log.store import record_access

    stored = repo.create(render(record), res_id=time_ordered_id(), method="AUDIT", index=DEFERRED)
    record_access(repo.conn, stored)
    if (indexer := backlog.indexer_of(repo.conn)) is not None:
        indexer.notify()
    return stored


def refused(record: AuditRecord, status: int, diagnostics: str) -> AuditRecord:
    record.outcome = Outcome.MINOR if status < 500 else Outcome.SERIOUS
    record.outcome_desc = f"{status}: {diagnostics}"[:500]
    return record
