"""The hub's one error type: ``FhirError`` carries an OperationOutcome and an HTTP status.

Every refusal the hub makes — bad input, not found, gone, conflict, unauthorized, forbidden —
is raised as a ``FhirError`` and turned into an HTTP response in exactly one place
(``hub.resources.errors``). See http://hl7.org/fhir/R4/operationoutcome.html and
http://hl7.org/fhir/R4/http.html#2.21.0.19 (status codes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.fhir.codes import IssueSeverity, IssueType


@dataclass(frozen=True, slots=True)
class Issue:
    """One ``OperationOutcome.issue``: what went wrong and where (FHIRPath ``expression``)."""

    code: IssueType
    diagnostics: str
    severity: IssueSeverity = IssueSeverity.ERROR
    expression: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": str(self.severity),
            "code": str(self.code),
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def operation_outcome(issues: list[Issue] | tuple[Issue, ...]) -> dict[str, Any]:
    """Build an OperationOutcome resource from issues."""
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


@dataclass(eq=False)
class FhirError(Exception):
    """A refusal with an HTTP status and the OperationOutcome that explains it."""

    status: int
    issues: list[Issue]
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, "; ".join(i.diagnostics for i in self.issues))

    @property
    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)

    # Constructors for the common refusals -------------------------------------------------

    @classmethod
    def of(
        cls,
        status: int,
        code: IssueType,
        diagnostics: str,
        *expression: str,
        headers: dict[str, str] | None = None,
    ) -> FhirError:
        return cls(status, [Issue(code, diagnostics, expression=expression)], headers or {})

    @classmethod
    def invalid(cls, diagnostics: str, *expression: str) -> FhirError:
        return cls.of(400, IssueType.INVALID, diagnostics, *expression)

    @classmethod
    def not_found(cls, diagnostics: str) -> FhirError:
        return cls.of(404, IssueType.NOT_FOUND, diagnostics)

    @classmethod
    def gone(cls, diagnostics: str) -> FhirError:
        return cls.of(410, IssueType.DELETED, diagnostics)

    @classmethod
    def conflict(cls, diagnostics: str) -> FhirError:
        return cls.of(409, IssueType.CONFLICT, diagnostics)

    @classmethod
    def precondition_failed(cls, diagnostics: str) -> FhirError:
        return cls.of(412, IssueType.CONFLICT, diagnostics)

    @classmethod
    def not_supported(cls, diagnostics: str, *expression: str, status: int = 400) -> FhirError:
        return cls.of(status, IssueType.NOT_SUPPORTED, diagnostics, *expression)
