"""Writing audit records: an AuditEvent resource (and its ledger entry) per interaction.

Success: written by ``routes.dispatch`` through the interaction's own repository, so the
record commits in the same transaction as the access — no access without its record.
Refusal: the interaction's transaction rolls back, so the record waits in ``AuditTrail`` and
the HTTP edge writes it in a unit of its own right after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.audit.events import AuditRecord, Disclosure, Outcome, render
from hub.audit.index import audit_index
from hub.store.records import StoredResource, micros_to_instant, now_micros
from hub.store.repository import Repository


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


def written(repo: Repository, location: str | None) -> list[tuple[str, tuple[str, ...]]]:
    """What a create or update stored (its ``Location``) and whose compartment holds it, so
    that the AuditEvent of a write names the person (BALP: the patient entity)."""
    from sqlalchemy import select

    from hub.store import schema as s

    if not location or "/_history/" not in location:
        return []
    head, version = location.rsplit("/_history/", 1)
    parts = head.rsplit("/", 2)
    if len(parts) < 3:
        return []
    stored = repo.read(parts[1], parts[2])
    if stored is None or stored.deleted:
        return []
    rows = repo.conn.execute(
        select(s.idx_compartment.c.patient_id).where(s.idx_compartment.c.rid == stored.rid)
    )
    pids = tuple(sorted({str(r[0]) for r in rows}))
    return [(f"{parts[1]}/{parts[2]}/_history/{version}", pids)]


def write(repo: Repository, record: AuditRecord) -> StoredResource:
    """Store the AuditEvent (the hub is its only author; the API refuses to write one) and
    append its 'access' entry to the ledger, in the same transaction. Its search index rows
    come from ``hub.audit.index.audit_index`` (the shapes ``render`` makes, no FHIRPath)."""
    from hub.ledger.log.store import record_access

    event = render(record)
    stored = repo.create(event, method="AUDIT", index=audit_index(event, repo.registry))
    record_access(repo.conn, stored)
    return stored


def refused(record: AuditRecord, status: int, diagnostics: str) -> AuditRecord:
    record.outcome = Outcome.MINOR if status < 500 else Outcome.SERIOUS
    record.outcome_desc = f"{status}: {diagnostics}"[:500]
    return record
