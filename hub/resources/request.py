"""The plain request and response values interactions work on (no Flask in here).

An interaction is ``handler(request, repository) -> FhirResponse`` (Medplum's fhir-router
shape): the HTTP edge builds a ``FhirRequest`` from Flask's request, and a Bundle entry
builds one from ``entry.request`` — both go through the same handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.fhir.codes import PreferReturn
from hub.fhir.errors import FhirError


@dataclass(slots=True)
class FhirRequest:
    method: str
    #: FHIR base URL without the trailing slash, e.g. ``http://127.0.0.1:8080/fhir``
    base: str
    resource_type: str | None = None
    res_id: str | None = None
    version_id: str | None = None
    operation: str | None = None
    params: list[tuple[str, str]] = field(default_factory=list)
    #: header names in lower case
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    #: the access context (auth, purpose of use) once the auth layer is in place
    context: Any = None
    #: inside a transaction: the id already assigned to this entry's new resource
    assigned_id: str | None = None
    max_count: int = 1000
    default_count: int = 20
    #: the access gate of this interaction (set by ``routes.dispatch``)
    gate: Any = None
    #: False only when the operator turned the consent gate off (``HUB_CONSENT_GATE=off``)
    consent_gate: bool = True
    #: the HTTP request's audit trail (``hub.audit.recorder.AuditTrail``)
    audit: Any = None
    #: how long a health certificate stays valid (``HUB_CERTIFICATE_VALID_MONTHS``)
    certificate_valid_months: int = 12

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        for k, v in self.params:
            if k == name:
                return v
        return None

    @property
    def prefer_return(self) -> PreferReturn:
        """``Prefer: return=…`` (http://hl7.org/fhir/R4/http.html#ops); representation if absent."""
        for token in _prefer_tokens(self.header("prefer")):
            if token.startswith("return="):
                try:
                    return PreferReturn(token.split("=", 1)[1].strip('"'))
                except ValueError:
                    return PreferReturn.REPRESENTATION
        return PreferReturn.REPRESENTATION

    @property
    def lenient(self) -> bool:
        """``Prefer: handling=lenient`` (http://hl7.org/fhir/R4/search.html#errors)."""
        return "handling=lenient" in _prefer_tokens(self.header("prefer"))

    def if_match_version(self) -> int | None:
        """The version in ``If-Match: W/"n"`` (http://hl7.org/fhir/R4/http.html#concurrency)."""
        value = self.header("if-match")
        if value is None:
            return None
        v = value.strip()
        if v.startswith("W/"):
            v = v[2:]
        v = v.strip('"')
        if not v.isdigit():
            raise FhirError.invalid(
                f'If-Match must be a weak ETag like W/"3", got {value!r}', "If-Match"
            )
        return int(v)


def _prefer_tokens(value: str | None) -> list[str]:
    if not value:
        return []
    return [t.strip() for part in value.split(",") for t in part.split(";") if t.strip()]


@dataclass(slots=True)
class FhirResponse:
    status: int = 200
    #: a resource to serialise, or
    resource: dict[str, Any] | None = None
    #: stored canonical bytes to serve as they are
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: the resource a delete acted on (``Type/id``), for the workflow hooks
    deleted: str | None = None
