"""The CapabilityStatement (http://hl7.org/fhir/R4/capabilitystatement.html), generated.

Built from the route table (which interactions exist), the search-parameter registry (what
each type can be searched by) and the hub's extension points (security, operations) — never
kept by hand, so it cannot drift from what the server does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hub
from hub.fhir.codes import Interaction
from hub.fhir.searchparams import SUPPORTED_TYPES, SearchParamRegistry

_TYPE_INTERACTIONS = {
    Interaction.READ: "read",
    Interaction.VREAD: "vread",
    Interaction.UPDATE: "update",
    Interaction.PATCH: "patch",
    Interaction.DELETE: "delete",
    Interaction.HISTORY_INSTANCE: "history-instance",
    Interaction.HISTORY_TYPE: "history-type",
    Interaction.CREATE: "create",
    Interaction.SEARCH_TYPE: "search-type",
}

#: Extra contributors (security from hub.auth, operations from workflows) register here.
CONTRIBUTORS: list[Callable[[dict[str, Any], str], None]] = []

_SEARCHABLE = ("string", "token", "date", "reference")

#: types the API never writes (the hub alone writes AuditEvents; routes.dispatch answers 405)
READ_ONLY_TYPES = frozenset({"AuditEvent"})
_WRITES = frozenset({"create", "update", "patch", "delete"})

#: canonical definitions of the operations the route table serves
OPERATION_DEFINITIONS = {
    "everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
}
HUB_OPERATIONS = "https://community-support-hub.example/fhir/OperationDefinition/"


def _operations(instance: bool) -> list[dict[str, str]]:
    """``rest.resource.operation`` (instance ops, on Patient) or ``rest.operation`` (system)."""
    from hub.resources.routes import ROUTES

    out = []
    for r in ROUTES:
        if r.interaction is not Interaction.OPERATION or "$" not in r.rule:
            continue
        on_instance = not r.rule.startswith("/$")
        if on_instance != instance:
            continue
        name = r.rule.rsplit("$", 1)[1]
        op = {"name": name, "definition": OPERATION_DEFINITIONS.get(name, HUB_OPERATIONS + name)}
        if op not in out:
            out.append(op)
    return out


def _resource_entry(
    rtype: str, registry: SearchParamRegistry, interactions: list[str]
) -> dict[str, Any]:
    params = []
    refs = []
    for code, p in sorted(registry.for_type(rtype).items()):
        if code in ("_id", "_lastUpdated") or (p.indexed and p.type.value in _SEARCHABLE):
            param = {"name": code, "type": p.type.value}
            if p.url:
                param["definition"] = p.url
            if p.description:
                param["documentation"] = p.description
            params.append(param)
            if p.type.value == "reference":
                refs.append(code)
    if rtype in READ_ONLY_TYPES:
        interactions = [c for c in interactions if c not in _WRITES]
    entry: dict[str, Any] = {
        "type": rtype,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
        "interaction": [{"code": c} for c in interactions],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "not-supported",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "referencePolicy": ["literal", "local"],
        "searchInclude": [f"{rtype}:{r}" for r in refs],
        "searchRevInclude": sorted(
            f"{other}:{code}"
            for other in SUPPORTED_TYPES
            for code, p in registry.for_type(other).items()
            if p.type.value == "reference" and p.indexed and (not p.target or rtype in p.target)
        ),
        "searchParam": params,
    }
    if rtype == "Patient" and (ops := _operations(instance=True)):
        entry["operation"] = ops
    return entry


def capability_statement(base: str, registry: SearchParamRegistry) -> dict[str, Any]:
    from hub.resources.routes import ROUTES

    per_type = [
        _TYPE_INTERACTIONS[r.interaction] for r in ROUTES if r.interaction in _TYPE_INTERACTIONS
    ]
    interactions = sorted(set(per_type), key=per_type.index)
    system = sorted(
        {
            r.interaction.value
            for r in ROUTES
            if r.interaction in (Interaction.TRANSACTION, Interaction.HISTORY_SYSTEM)
        }
        | {"batch"}
    )
    cs: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "community-support-hub",
        "kind": "instance",
        "software": {"name": "community-support-hub", "version": hub.__version__},
        "implementation": {"description": "地域生活支援拠点等 records hub", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "resource": [_resource_entry(t, registry, interactions) for t in SUPPORTED_TYPES],
                "interaction": [{"code": c} for c in system],
                **({"operation": ops} if (ops := _operations(instance=False)) else {}),
                "searchParam": [
                    {"name": "_count", "type": "number"},
                    {"name": "_offset", "type": "number"},
                    {"name": "_sort", "type": "string"},
                    {"name": "_summary", "type": "token"},
                    {"name": "_elements", "type": "string"},
                    {"name": "_total", "type": "token"},
                ],
            }
        ],
    }
    for contribute in CONTRIBUTORS:
        contribute(cs, base)
    return cs
