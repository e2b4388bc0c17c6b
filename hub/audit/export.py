"""Finding audit records in the store and writing them out (CSV, JSON) — the thin I/O edge.

The queries go through the hub's own search engine (AuditEvent search parameters ``patient``,
``agent``, ``date``; http://hl7.org/fhir/R4/auditevent.html#search), so the CLI and the FHIR
API answer the same question the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection

from hub.audit.provisions import FIELDS, ProvisionRecord, from_audit_event
from hub.fhir.canonical import loads
from hub.fhir.search import parse_search
from hub.store.repository import Repository
from hub.store.search import run_search

PAGE = 500


def _params(
    patient: str | None, recipient: str | None, since: str | None, until: str | None
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = [("_sort", "date")]
    if patient:
        params.append(("patient", patient))
    if recipient:
        params.append(("agent", recipient))
    if since:
        params.append(("date", f"ge{since}"))
    if until:
        params.append(("date", f"le{until}"))
    return params


def audit_events(
    conn: Connection,
    *,
    patient: str | None = None,
    recipient: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Iterator[dict[str, Any]]:
    """AuditEvents about ``patient`` and/or with agent ``recipient`` in [since, until], oldest
    first. ``since``/``until`` are FHIR dates or dateTimes (``until`` inclusive, as ``le``)."""
    repo = Repository(conn)
    base = _params(patient, recipient, since, until)
    offset = 0
    while True:
        query = parse_search(
            "AuditEvent",
            [*base, ("_count", str(PAGE)), ("_offset", str(offset))],
            repo.registry,
            max_count=PAGE,
        )
        page = run_search(conn, query)
        for stored in page.matches:
            yield loads(stored.content or b"{}")
        if not page.has_next:
            return
        offset += PAGE


def _name(resource: dict[str, Any]) -> str:
    if resource.get("resourceType") == "Organization":
        return str(resource.get("name", ""))
    for name in resource.get("name", []):
        if name.get("text"):
            return str(name["text"])
        parts = [name.get("family", ""), " ".join(name.get("given", []))]
        text = " ".join(p for p in parts if p)
        if text:
            return text
    return ""


def _address(resource: dict[str, Any]) -> str:
    for addr in resource.get("address", []):
        if addr.get("text"):
            return str(addr["text"])
        parts = [addr.get("postalCode", ""), addr.get("state", ""), addr.get("city", "")]
        parts += addr.get("line", [])
        text = " ".join(p for p in parts if p)
        if text:
            return text
    return ""


def provision_records(
    conn: Connection,
    *,
    patient: str | None = None,
    recipient: str | None = None,
    since: str | None = None,
    until: str | None = None,
    retention_years: int = 3,
) -> list[ProvisionRecord]:
    """The third-party provision records (hub.audit.provisions) in a period, oldest first."""
    repo = Repository(conn)
    cache: dict[str, dict[str, Any] | None] = {}

    def lookup(ref: str) -> dict[str, Any] | None:
        if ref not in cache:
            rtype, _, rid = ref.partition("/")
            stored = repo.read(rtype, rid) if rid else None
            cache[ref] = (
                loads(stored.content) if stored and not stored.deleted and stored.content else None
            )
        return cache[ref]

    out: list[ProvisionRecord] = []
    events = audit_events(conn, patient=patient, recipient=recipient, since=since, until=until)
    for event in events:
        refs = {a.get("who", {}).get("reference") for a in event.get("agent", [])}
        refs |= {
            d.get("valueString")
            for e in event.get("entity", [])
            for d in e.get("detail", [])
            if d.get("type") == "patient"
        }
        names: dict[str, str] = {}
        addresses: dict[str, str] = {}
        for ref in refs:
            if isinstance(ref, str) and (res := lookup(ref)) is not None:
                names[ref] = _name(res)
                addresses[ref] = _address(res)
        for record in from_audit_event(event, names, addresses, retention_years):
            if patient and record.patient != patient:
                continue
            if recipient and record.recipient != recipient:
                continue
            out.append(record)
    return out


def to_csv(records: list[ProvisionRecord]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(r.as_row())
    return buf.getvalue()


def to_json(records: list[ProvisionRecord]) -> str:
    from dataclasses import asdict

    return json.dumps([asdict(r) for r in records], ensure_ascii=False, indent=2)
