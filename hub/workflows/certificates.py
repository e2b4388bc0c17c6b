"""Health certificates (健康診断書共通様式): stored forms and ``Patient/[id]/$health-certificate``.

The base wants one common health-certificate form that every short-stay provider accepts
(seed 000; DOMAIN.md), valid for a period the base sets. In the hub a certificate is a
``QuestionnaireResponse`` of ``Questionnaire/health-certificate`` (profiles/jp-hub) whose
``subject`` is the Patient; its issue date is the form's 記入日 (item ``date``), else
``authored``. The validity is the base's setting ``HUB_CERTIFICATE_VALID_MONTHS`` (default
12): a certificate issued on D is valid through D + months − 1 day.

* Writing one (create, update, patch; directly or in a Bundle) is checked against the form by
  ``after_write`` in the same transaction: a ``completed`` certificate must answer the form
  (``hub.workflows.forms.check_response``; errors name the item) and have a Patient subject.
* ``GET [base]/Patient/[id]/$health-certificate[?date=YYYY-MM-DD]`` answers a ``Parameters``
  for the latest completed certificate the caller may see (consent-gated like a read): ``valid``
  (valueBoolean, on ``date``, default today), ``issued``, ``valid-until`` (valueDate),
  ``validity`` (valueQuantity, months), ``certificate`` (valueReference) and ``form`` (the
  QuestionnaireResponse). With no certificate on record: ``valid`` false and no ``certificate``.
  A person the caller may not see answers 404, as an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.fhir.canonical import loads
from hub.fhir.errors import FhirError
from hub.resources.interactions import require_visible
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.repository import Repository
from hub.workflows.careplans import parse_date
from hub.workflows.conformance import CANONICAL_BASE
from hub.workflows.forms import FormAnswers, check_response, form_error, questionnaire
from hub.workflows.monitoring import add_months

CERTIFICATE_FORM = f"{CANONICAL_BASE}/Questionnaire/health-certificate"
DEFAULT_VALID_MONTHS = 12
SEARCH_LIMIT = 100


def is_certificate(body: dict[str, Any]) -> bool:
    return str(body.get("questionnaire", "")).split("|", 1)[0] == CERTIFICATE_FORM


def issued(body: dict[str, Any]) -> date | None:
    """The issue date: the form's 記入日 (``date``), else ``authored``."""
    q = questionnaire(CERTIFICATE_FORM) or {}
    answers = FormAnswers.of(body.get("item", []), q.get("item", []))
    return parse_date(answers.date("date")) or parse_date(body.get("authored"))


def valid_until(issue: date, months: int) -> date:
    """The last day a certificate issued on ``issue`` is valid (pure)."""
    return add_months(issue, months) - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Validity:
    issued: date
    valid_until: date
    valid: bool


def validity(issue: date, months: int, on: date) -> Validity:
    """Whether a certificate issued on ``issue`` is still valid ``on`` a day (pure)."""
    until = valid_until(issue, months)
    return Validity(issue, until, issue <= on <= until)


def after_write(body: dict[str, Any]) -> None:
    """Check a written certificate against the common form (see the module docstring)."""
    if not is_certificate(body) or body.get("status") != "completed":
        return
    ref = (body.get("subject") or {}).get("reference")
    if not isinstance(ref, str) or not ref.startswith("Patient/"):
        raise FhirError.invalid(
            "A health certificate's subject must be the Patient it certifies",
            "QuestionnaireResponse.subject",
        )
    check_response(body, questionnaire(CERTIFICATE_FORM) or {})
    if issued(body) is None:
        raise form_error(422, [(["date"], "記入日 (date) or authored is required")])


def _on(req: FhirRequest) -> date:
    raw = req.param("date")
    if raw is None:
        return datetime.now(UTC).date()
    on = parse_date(raw)
    if on is None or len(raw) != 10:
        raise FhirError.invalid("date must be YYYY-MM-DD", "date")
    return on


def health_certificate(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``GET [base]/Patient/[id]/$health-certificate`` (see the module docstring)."""
    from hub.resources.search import find_matches

    assert req.res_id
    if req.resource_type != "Patient":
        raise FhirError.not_supported("$health-certificate is defined on Patient only", status=404)
    on = _on(req)
    patient = repo.read("Patient", req.res_id)
    if patient is None or patient.deleted:
        raise FhirError.not_found(f"Patient/{req.res_id} is not known")
    require_visible(req, patient)
    found = find_matches(
        req,
        repo,
        "QuestionnaireResponse",
        [("subject", f"Patient/{req.res_id}"), ("status", "completed"), ("_sort", "-authored")],
        limit=SEARCH_LIMIT,
    )
    best: tuple[date, int, Any, dict[str, Any]] | None = None
    for stored in found:
        body = dict(loads(stored.content or b"{}"))
        day = issued(body) if is_certificate(body) else None
        if day is not None and (best is None or (day, stored.last_updated) > best[:2]):
            best = (day, stored.last_updated, stored, body)
    months = req.certificate_valid_months
    params: list[dict[str, Any]] = [
        {
            "name": "validity",
            "valueQuantity": {
                "value": months,
                "unit": "month",
                "system": "http://unitsofmeasure.org",
                "code": "mo",
            },
        }
    ]
    if best is None:
        params.insert(0, {"name": "valid", "valueBoolean": False})
        return FhirResponse(200, resource={"resourceType": "Parameters", "parameter": params})
    day, _, stored, body = best
    v = validity(day, months, on)
    params = [
        {"name": "valid", "valueBoolean": v.valid},
        {"name": "issued", "valueDate": v.issued.isoformat()},
        {"name": "valid-until", "valueDate": v.valid_until.isoformat()},
        *params,
        {
            "name": "certificate",
            "valueReference": {"reference": f"QuestionnaireResponse/{stored.res_id}"},
        },
        {"name": "form", "resource": body},
    ]
    return FhirResponse(200, resource={"resourceType": "Parameters", "parameter": params})
