"""Write-time validation with ``fhir.resources`` (R4B models; JP Core is R4).

A resource is checked against its model (unknown elements, wrong types, malformed
primitives, cardinality) and every problem becomes an OperationOutcome issue whose
``expression`` is the FHIRPath of the offending element (http://hl7.org/fhir/R4/operationoutcome.html,
``OperationOutcome.issue.expression``). The stored payload is the client's JSON, not the
model's re-serialisation: the model is only a checker.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import ValidationError

from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError, Issue
from hub.fhir.searchparams import SUPPORTED_TYPES

MAX_ISSUES = 20


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _fhirpath(resource_type: str, loc: tuple[Any, ...]) -> str:
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str):
            if part.startswith("function-") or part in ("__root__",):
                continue
            out += "." + part
    return out


def check_type(resource: Any, expected: str | None = None) -> str:
    """Check that ``resource`` is a JSON object of a supported type; return its type."""
    if not isinstance(resource, dict):
        raise FhirError.of(
            400, IssueType.STRUCTURE, "The body must be a FHIR resource (a JSON object)"
        )
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise FhirError.of(400, IssueType.REQUIRED, "resourceType is missing", "resourceType")
    if expected is not None and rtype != expected:
        raise FhirError.invalid(
            f"resourceType {rtype!r} does not match the URL's type {expected!r}", "resourceType"
        )
    if rtype not in SUPPORTED_TYPES:
        raise FhirError.not_supported(f"Resource type {rtype!r} is not supported", "resourceType")
    return rtype


def validate_resource(resource: Any, expected: str | None = None) -> None:
    """Raise ``FhirError`` (400) listing every structural problem found in ``resource``."""
    rtype = check_type(resource, expected)
    try:
        _model(rtype).model_validate(resource)
    except ValidationError as exc:
        issues = []
        for err in exc.errors()[:MAX_ISSUES]:
            loc = tuple(err.get("loc", ()))
            msg = str(err.get("msg", "invalid"))
            code = IssueType.STRUCTURE if err.get("type") == "extra_forbidden" else IssueType.VALUE
            if err.get("type") == "extra_forbidden":
                msg = "Unknown element"
            elif err.get("type") == "missing":
                code = IssueType.REQUIRED
            issues.append(
                Issue(code, f"{_fhirpath(rtype, loc)}: {msg}", expression=(_fhirpath(rtype, loc),))
            )
        raise FhirError(400, issues) from None
    except (TypeError, ValueError) as exc:  # a model's own checks outside pydantic's errors
        raise FhirError.invalid(f"{rtype}: {exc}", rtype) from None
