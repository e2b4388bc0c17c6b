"""The registry of FHIR R4 SearchParameter definitions the hub serves.

Loaded from ``profiles/fhir-r4/search-parameters.json`` (the R4 4.0.1 definitions bundle,
filtered to the resource types the hub supports) and from any hub SearchParameter in
``profiles/``. See http://hl7.org/fhir/R4/searchparameter.html and
http://hl7.org/fhir/R4/search.html#standard (``_id``, ``_lastUpdated``, …).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hub.fhir.codes import SearchParamType

#: Resource types served at /fhir (issue 2's list, plus the compartment owners the consent
#: engine names: List, CareTeam, Group; and the conformance types the hub publishes).
SUPPORTED_TYPES: tuple[str, ...] = (
    "Patient",
    "RelatedPerson",
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Consent",
    "Questionnaire",
    "QuestionnaireResponse",
    "CarePlan",
    "Goal",
    "Condition",
    "Observation",
    "MedicationStatement",
    "AllergyIntolerance",
    "Encounter",
    "EpisodeOfCare",
    "HealthcareService",
    "Location",
    "Schedule",
    "Slot",
    "Appointment",
    "ServiceRequest",
    "Task",
    "Communication",
    "Composition",
    "DocumentReference",
    "Bundle",
    "Provenance",
    "AuditEvent",
    "List",
    "CareTeam",
    "Group",
    "CodeSystem",
    "ValueSet",
    "StructureDefinition",
    "OperationDefinition",
    "SearchParameter",
)

#: Parameters the hub indexes and searches (FHIR types string, token, date, reference, uri).
#: uri values are kept in ``idx_string`` (``exact`` = the uri as written; matched exactly, or
#: by prefix with ``:below`` — http://hl7.org/fhir/R4/search.html#uri).
INDEXED_TYPES = frozenset(
    {
        SearchParamType.STRING,
        SearchParamType.TOKEN,
        SearchParamType.DATE,
        SearchParamType.REFERENCE,
        SearchParamType.URI,
    }
)

PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter as it applies to one resource type."""

    code: str
    type: SearchParamType
    resource_type: str
    #: the FHIRPath expression restricted to this resource type (terms of other bases dropped)
    expression: str
    url: str = ""
    target: tuple[str, ...] = ()
    description: str = ""

    @property
    def indexed(self) -> bool:
        return self.type in INDEXED_TYPES and bool(self.expression)


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on top-level ``|`` (not inside parentheses or quotes)."""
    parts: list[str] = []
    depth = 0
    quote = False
    start = 0
    for i, ch in enumerate(expression):
        if ch == "'" and (i == 0 or expression[i - 1] != "\\"):
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0 and ch == "|":
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def _term_root(term: str) -> str:
    t = term.lstrip("(").strip()
    root = ""
    for ch in t:
        if ch.isalnum() or ch == "_":
            root += ch
        else:
            break
    return root


def restrict_expression(expression: str, resource_type: str) -> str:
    """Keep only the union terms of ``expression`` that start at ``resource_type``.

    R4 shares one SearchParameter among several bases (``Patient.name | Practitioner.name``);
    per type only its own terms apply. ``Resource.x`` / ``DomainResource.x`` apply to all.
    """
    keep = []
    for term in split_union(expression):
        root = _term_root(term)
        if root == resource_type:
            keep.append(term)
        elif root in ("Resource", "DomainResource"):
            keep.append(resource_type + term.lstrip("(").strip()[len(root) :])
    return " | ".join(keep)


@dataclass
class SearchParamRegistry:
    """Search parameters by resource type and code."""

    by_type: dict[str, dict[str, SearchParam]] = field(default_factory=dict)

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self.by_type.get(resource_type, {}).get(code)

    def for_type(self, resource_type: str) -> dict[str, SearchParam]:
        return self.by_type.get(resource_type, {})

    def add(self, definition: dict[str, Any]) -> None:
        """Register a SearchParameter resource for each of its bases that the hub supports."""
        code = definition["code"]
        ptype = SearchParamType(definition["type"])
        bases = definition.get("base", [])
        types = SUPPORTED_TYPES if set(bases) & {"Resource", "DomainResource"} else bases
        for rtype in types:
            if rtype not in SUPPORTED_TYPES:
                continue
            expression = restrict_expression(definition.get("expression", ""), rtype)
            self.by_type.setdefault(rtype, {})[code] = SearchParam(
                code=code,
                type=ptype,
                resource_type=rtype,
                expression=expression,
                url=definition.get("url", ""),
                target=tuple(definition.get("target", ())),
                description=definition.get("description", ""),
            )


def load_registry(paths: list[Path]) -> SearchParamRegistry:
    """Build a registry from Bundles (or single resources) of SearchParameter definitions."""
    registry = SearchParamRegistry()
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        resources = (
            [e["resource"] for e in data.get("entry", [])]
            if data.get("resourceType") == "Bundle"
            else [data]
        )
        for res in resources:
            if res.get("resourceType") == "SearchParameter" and res.get("status") != "retired":
                registry.add(res)
    return registry


@cache
def default_registry() -> SearchParamRegistry:
    """The registry the hub serves: R4 core definitions plus the hub's own in profiles/."""
    paths = [PROFILES_DIR / "fhir-r4" / "search-parameters.json"]
    hub_params = PROFILES_DIR / "hub" / "search-parameters.json"
    if hub_params.exists():
        paths.append(hub_params)
    return load_registry(paths)
