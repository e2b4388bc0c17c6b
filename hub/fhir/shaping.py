"""``_summary`` and ``_elements``: returning part of a resource.

http://hl7.org/fhir/R4/search.html#summary and #elements. A shaped resource is marked with
the ``SUBSETTED`` tag (http://terminology.hl7.org/CodeSystem/v3-ObservationValue).
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from typing import Any

from hub.fhir.errors import FhirError
from hub.fhir.searchparams import PROFILES_DIR

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
_ALWAYS = ("resourceType", "id", "meta")


class Summary(StrEnum):
    TRUE = "true"
    TEXT = "text"
    DATA = "data"
    COUNT = "count"
    FALSE = "false"


def parse_summary(value: str | None) -> Summary | None:
    if value is None:
        return None
    try:
        return Summary(value)
    except ValueError:
        raise FhirError.invalid(
            f"_summary must be one of {', '.join(s.value for s in Summary)}", "_summary"
        ) from None


@cache
def _summary_elements() -> dict[str, tuple[str, ...]]:
    path = PROFILES_DIR / "fhir-r4" / "summary-elements.json"
    data = json.loads(path.read_text(encoding="utf-8"))["summary"]
    return {k: tuple(v) for k, v in data.items()}


def _matches(key: str, element: str) -> bool:
    if element.endswith("[x]"):
        stem = element[:-3]
        return key.startswith(stem) and key[len(stem) : len(stem) + 1].isupper()
    return key == element


def _keep(resource: dict[str, Any], elements: tuple[str, ...]) -> dict[str, Any]:
    out = {
        k: v for k, v in resource.items() if k in _ALWAYS or any(_matches(k, e) for e in elements)
    }
    meta = dict(out.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    out["meta"] = meta
    return out


def shape(
    resource: dict[str, Any], summary: Summary | None, elements: tuple[str, ...] | None
) -> dict[str, Any]:
    """Return ``resource`` reduced per ``_summary`` / ``_elements`` (or unchanged)."""
    rtype = resource.get("resourceType", "")
    if elements:
        return _keep(resource, elements)
    if summary in (None, Summary.FALSE):
        return resource
    if summary is Summary.TRUE:
        return _keep(resource, _summary_elements().get(rtype, ()))
    if summary is Summary.TEXT:
        return _keep(resource, ("text", "id", "meta", *_mandatory(rtype)))
    if summary is Summary.DATA:
        return _keep(resource, tuple(k for k in resource if k != "text"))
    return resource


def _mandatory(rtype: str) -> tuple[str, ...]:
    # R4: _summary=text keeps text, id, meta and top-level mandatory elements; `status` is the
    # common one among the hub's types.
    return ("status",)


def parse_elements(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(e.strip() for e in value.split(",") if e.strip())
    for e in items:
        if not e.replace("_", "").isalnum():
            raise FhirError.invalid(f"_elements: {e!r} is not an element name", "_elements")
    return items
