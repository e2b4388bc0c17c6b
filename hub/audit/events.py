"""Build AuditEvents shaped after IHE Basic Audit Log Patterns (BALP) — pure.

http://hl7.org/fhir/R4/auditevent.html and https://profiles.ihe.net/ITI/BALP/ :
``type`` = rest, ``subtype`` = the RESTful interaction, ``action`` C/R/U/D/E, ``outcome``
0/4/8/12, ``agent`` = the client (with its organization and network address) and the
purpose of use, ``source`` = this hub, ``entity`` = the patient(s), the resources touched or
the query, and — the hub's addition — the Consent version and provision that decided each
access (``entity.detail``), or the break-glass reason.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.consent.codes import PURPOSE_OF_USE_SYSTEM
from hub.fhir.codes import Interaction

AUDIT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = PURPOSE_OF_USE_SYSTEM
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
CLIENT_ID_SYSTEM = "urn:hub:oauth-client"
HUB_DETAIL = "https://community-support-hub.example/audit-detail"


class Outcome(StrEnum):
    """http://hl7.org/fhir/R4/valueset-audit-event-outcome.html"""

    SUCCESS = "0"
    MINOR = "4"  # the request was refused (client error)
    SERIOUS = "8"  # the server failed
    MAJOR = "12"


_ACTIONS = {
    Interaction.CREATE: "C",
    Interaction.READ: "R",
    Interaction.VREAD: "R",
    Interaction.HISTORY_INSTANCE: "R",
    Interaction.HISTORY_TYPE: "R",
    Interaction.HISTORY_SYSTEM: "R",
    Interaction.SEARCH_TYPE: "E",
    Interaction.SEARCH_SYSTEM: "E",
    Interaction.UPDATE: "U",
    Interaction.PATCH: "U",
    Interaction.DELETE: "D",
    Interaction.TRANSACTION: "E",
    Interaction.BATCH: "E",
    Interaction.OPERATION: "E",
    Interaction.CAPABILITIES: "R",
}


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One resource the interaction touched (or was refused), and the decision about it."""

    reference: str  # "Condition/123" (versioned for reads: "Condition/123/_history/2")
    patient_id: str | None
    permit: bool
    rule: str
    consent: str | None = None  # "Consent/c1/_history/3"
    provision: str | None = None  # "0.2" (path of nested provisions), "" = root
    custodian: str | None = None  # the organization that holds (authored) the data
    detail: str = ""


@dataclass(slots=True)
class AuditRecord:
    """Everything the AuditEvent says; built along the request, rendered at the end."""

    interaction: str  # an Interaction value, or "operation:$name", or "auth"
    client_id: str | None
    organization: str | None
    purpose: str | None
    address: str | None
    recorded: str  # FHIR instant
    outcome: Outcome = Outcome.SUCCESS
    outcome_desc: str = ""
    query: str | None = None  # the search/operation query string, as received
    target: str | None = None  # what was asked for: "Patient/123", "Observation" (search)
    disclosures: list[Disclosure] = field(default_factory=list)
    break_glass_reason: str | None = None
    #: what a write stored: ("Type/id/_history/n", the patients whose compartment holds it)
    written: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


def _action(interaction: str) -> str:
    try:
        return _ACTIONS[Interaction(interaction)]
    except ValueError:
        return "E"


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def render(record: AuditRecord) -> dict[str, Any]:
    """The AuditEvent resource for ``record`` (BALP-shaped, R4)."""
    purpose = [{"coding": [_coding(ACT_REASON, record.purpose)]}] if record.purpose else []
    client_agent: dict[str, Any] = {
        "type": {"coding": [_coding(PARTICIPATION, "IRCP", "information recipient")]},
        "who": {
            "identifier": {"system": CLIENT_ID_SYSTEM, "value": record.client_id or "anonymous"}
        },
        "requestor": True,
    }
    if record.address:
        client_agent["network"] = {"address": record.address, "type": "2"}
    if purpose:
        client_agent["purposeOfUse"] = purpose
    agents = [client_agent]
    if record.organization:
        agents.append(
            {
                "type": {"coding": [_coding(PARTICIPATION, "PROV", "healthcare provider")]},
                "who": {"reference": record.organization},
                "requestor": False,
            }
        )
    entities: list[dict[str, Any]] = []
    patients = sorted(
        {d.patient_id for d in record.disclosures if d.patient_id}
        | {pid for _, pids in record.written for pid in pids}
    )
    for pid in patients:
        entities.append(
            {
                "what": {"reference": f"Patient/{pid}"},
                "type": _coding(ENTITY_TYPE, "1", "Person"),
                "role": _coding(OBJECT_ROLE, "1", "Patient"),
            }
        )
    for d in record.disclosures:
        detail = [
            {"type": "decision", "valueString": ("permit" if d.permit else "deny") + ":" + d.rule},
        ]
        if d.consent:
            detail.append({"type": "consent", "valueString": d.consent})
        if d.provision is not None:
            detail.append({"type": "provision", "valueString": d.provision or "root"})
        if d.patient_id:
            detail.append({"type": "patient", "valueString": f"Patient/{d.patient_id}"})
        if d.custodian:
            detail.append({"type": "custodian", "valueString": d.custodian})
        if d.detail:
            detail.append({"type": "explanation", "valueString": d.detail})
        entities.append(
            {
                "what": {"reference": d.reference},
                "type": _coding(ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
                "detail": detail,
            }
        )
    for ref, pids in record.written:
        entities.append(
            {
                "what": {"reference": ref},
                "type": _coding(ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
                "detail": [{"type": "written", "valueString": record.interaction}]
                + [{"type": "patient", "valueString": f"Patient/{p}"} for p in pids],
            }
        )
    if record.query is not None:
        entities.append(
            {
                "type": _coding(ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "24", "Query"),
                "description": record.target or "",
                "query": base64.b64encode(record.query.encode()).decode(),
            }
        )
    elif record.target and not record.disclosures and not record.written:
        entities.append(
            {
                "what": {"reference": record.target},
                "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
            }
        )
    if record.break_glass_reason is not None:
        entities.append(
            {
                "type": _coding(ENTITY_TYPE, "4", "Other"),
                "description": "break-glass",
                "detail": [{"type": "reason", "valueString": record.break_glass_reason}],
            }
        )
    if record.interaction == "auth":
        subtype = [_coding(HUB_DETAIL, "auth", "authentication/authorization")]
    elif record.interaction.startswith("operation:"):
        subtype = [
            _coding("http://hl7.org/fhir/restful-interaction", "operation"),
            _coding(HUB_DETAIL, record.interaction.split(":", 1)[1]),
        ]
    else:
        subtype = [_coding(RESTFUL, record.interaction)]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _coding(AUDIT_TYPE, "rest", "RESTful Operation"),
        "subtype": subtype,
        "action": _action(record.interaction),
        "recorded": record.recorded,
        "outcome": str(record.outcome),
        "agent": agents,
        "source": {
            "observer": {"display": "community-support-hub"},
            "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
        },
    }
    if record.outcome_desc:
        event["outcomeDesc"] = record.outcome_desc
    if purpose:
        event["purposeOfEvent"] = purpose
    if entities:
        event["entity"] = entities
    return event
