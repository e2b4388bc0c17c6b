"""Third-party provision records (第三者提供記録), derived from the audit trail — pure.

個人情報保護法 29条 (record of each provision of personal data to a third party) and its
rules (施行規則 19条・20条) ask, per provision made with the person's consent: that consent was
obtained; the date; the recipient's name (and, for a corporation, its address); whom the data
concerns (name or other identification); which items were provided. For a provision under an
exception (27条1項2号, protection of life: the hub's break-glass) no record is legally
required, but the hub records it too, with the reason, because privacy officers review it.

A provision is a *permitted* disclosure (an AuditEvent ``entity`` whose decision is
``permit``) to an organization other than the data's custodian (the organization that wrote
the record; data written by the hub itself has the hub as custodian). An organization reading
what it wrote itself (rule ``author``) provides nothing to anyone.

:func:`from_audit_event` turns one AuditEvent into records; :mod:`hub.audit.export` finds the
AuditEvents and writes CSV or JSON.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from hub.audit.events import PARTICIPATION
from hub.consent.codes import DecisionRule

#: custodian of data that no organization authored (seed data, the CLI)
HUB_CUSTODIAN = "hub"


@dataclass(frozen=True, slots=True)
class ProvisionRecord:
    """One provision of one person's data to one recipient in one interaction."""

    recorded: str  # when (AuditEvent.recorded, FHIR instant)
    recipient: str  # "Organization/…"
    recipient_name: str
    recipient_address: str
    patient: str  # "Patient/…"
    patient_name: str
    items: tuple[str, ...]  # resource types provided, sorted ("CarePlan", "Patient", …)
    resources: tuple[str, ...]  # versioned references provided
    custodians: tuple[str, ...]
    basis: str  # "consent" or "break-glass"
    consents: tuple[str, ...]  # "Consent/…/_history/n" (basis consent)
    provisions: tuple[str, ...]  # provision paths that decided ("root", "0", "0.1")
    break_glass_reason: str
    purpose: str
    client_id: str
    audit_event: str  # "AuditEvent/…"
    retain_until: str = ""  # the date until which the record must be kept (FHIR date)

    def as_row(self) -> dict[str, str]:
        """Flat strings for CSV (lists joined with a space)."""
        row: dict[str, str] = {}
        for key, value in asdict(self).items():
            row[key] = " ".join(value) if isinstance(value, (tuple, list)) else str(value)
        return row


FIELDS = tuple(ProvisionRecord.__dataclass_fields__)


def _details(entity: dict[str, Any]) -> dict[str, str]:
    return {
        d.get("type", ""): d.get("valueString", "")
        for d in entity.get("detail", [])
        if isinstance(d, dict)
    }


def _recipient(event: dict[str, Any]) -> str | None:
    for agent in event.get("agent", []):
        codes = {c.get("code") for c in agent.get("type", {}).get("coding", [])}
        ref = agent.get("who", {}).get("reference")
        if "PROV" in codes and isinstance(ref, str):
            return ref
    return None


def _client(event: dict[str, Any]) -> tuple[str, str]:
    for agent in event.get("agent", []):
        if agent.get("requestor"):
            client = agent.get("who", {}).get("identifier", {}).get("value", "")
            purposes = [
                c.get("code", "")
                for p in agent.get("purposeOfUse", [])
                for c in p.get("coding", [])
            ]
            return client, " ".join(purposes)
    return "", ""


def _break_glass_reason(event: dict[str, Any]) -> str:
    for entity in event.get("entity", []):
        if entity.get("description") == "break-glass":
            return _details(entity).get("reason", "")
    return ""


def retain_until(recorded: str, years: int) -> str:
    """The date ``years`` after the (local) date of ``recorded``; 29 Feb → 28 Feb."""
    day = date.fromisoformat(recorded[:10])
    try:
        return day.replace(year=day.year + years).isoformat()
    except ValueError:
        return day.replace(year=day.year + years, day=28).isoformat()


def from_audit_event(
    event: dict[str, Any],
    names: dict[str, str] | None = None,
    addresses: dict[str, str] | None = None,
    retention_years: int = 3,
) -> list[ProvisionRecord]:
    """The provision records an AuditEvent stands for (one per person), sorted by patient.

    ``names`` and ``addresses`` map references (``Organization/…``, ``Patient/…``) to display
    strings; missing ones are left empty, never guessed.
    """
    names = names or {}
    addresses = addresses or {}
    if event.get("outcome") not in (None, "0"):
        return []
    recipient = _recipient(event)
    if recipient is None:
        return []
    grouped: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for entity in event.get("entity", []):
        ref = entity.get("what", {}).get("reference")
        details = _details(entity)
        decision = details.get("decision", "")
        if not isinstance(ref, str) or not decision.startswith("permit:"):
            continue
        if decision == f"permit:{DecisionRule.AUTHOR}":
            continue
        custodian = details.get("custodian") or HUB_CUSTODIAN
        if custodian == recipient:
            continue
        patient = _patient_of(ref, details)
        if patient is None:
            continue
        grouped[patient].append((ref, details))
    client, purpose = _client(event)
    reason = _break_glass_reason(event)
    out = []
    for patient, touched in sorted(grouped.items()):
        rules = {d.get("decision", "") for _, d in touched}
        out.append(
            ProvisionRecord(
                recorded=str(event.get("recorded", "")),
                recipient=recipient,
                recipient_name=names.get(recipient, ""),
                recipient_address=addresses.get(recipient, ""),
                patient=patient,
                patient_name=names.get(patient, ""),
                items=tuple(sorted({ref.split("/", 1)[0] for ref, _ in touched})),
                resources=tuple(sorted(ref for ref, _ in touched)),
                custodians=tuple(sorted({d.get("custodian") or HUB_CUSTODIAN for _, d in touched})),
                basis="break-glass" if f"permit:{DecisionRule.BREAK_GLASS}" in rules else "consent",
                consents=tuple(sorted({d["consent"] for _, d in touched if d.get("consent")})),
                provisions=tuple(
                    sorted({d["provision"] for _, d in touched if d.get("provision")})
                ),
                break_glass_reason=reason,
                purpose=purpose,
                client_id=client,
                audit_event=f"AuditEvent/{event.get('id', '')}",
                retain_until=retain_until(str(event.get("recorded", "")), retention_years),
            )
        )
    return out


def _patient_of(ref: str, details: dict[str, str]) -> str | None:
    """The person a touched resource belongs to (``entity.detail`` type ``patient``)."""
    if details.get("patient"):
        return details["patient"]
    return "/".join(ref.split("/")[:2]) if ref.startswith("Patient/") else None


__all__ = ["FIELDS", "HUB_CUSTODIAN", "PARTICIPATION", "ProvisionRecord", "from_audit_event"]
