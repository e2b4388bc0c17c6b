"""FHIR operations: ``Patient/[id]/$everything`` and ``Patient/[id]/$break-glass``.

* ``$everything`` (http://hl7.org/fhir/R4/patient-operation-everything.html): the patient
  and every resource in their compartment — each one through the consent gate.
* ``$break-glass`` (the hub's own): emergency access for life protection (個人情報保護法
  27条1項2号). A client whose token carries the break-glass power (``purpose_of_use=ETREAT``
  issued to a client registered with the flag) names the patient and gives a reason; the hub
  grants that client access to that patient's data for ``HUB_BREAK_GLASS_HOURS`` (24 h),
  flags every access made under it, and queues the grant for a privacy officer's review.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from hub.access.schema import break_glass
from hub.fhir.codes import IssueSeverity, IssueType
from hub.fhir.errors import FhirError, Issue, operation_outcome
from hub.resources.bundles import searchset_bundle
from hub.resources.interactions import require_visible
from hub.resources.request import FhirRequest, FhirResponse
from hub.store import schema as s
from hub.store.records import micros_to_instant, now_micros
from hub.store.repository import Repository

BREAK_GLASS_HOURS = 24
EVERYTHING_LIMIT = 5000


def everything(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``GET [base]/Patient/[id]/$everything``: the compartment, consent-gated, as a searchset."""
    assert req.res_id
    if req.resource_type != "Patient":
        raise FhirError.not_supported("$everything is defined on Patient only", status=404)
    patient = repo.read("Patient", req.res_id)
    if patient is None or patient.deleted:
        raise FhirError.not_found(f"Patient/{req.res_id} is not known")
    require_visible(req, patient)
    rids = [
        r
        for (r,) in repo.conn.execute(
            select(s.idx_compartment.c.rid)
            .where(
                s.idx_compartment.c.patient_id == req.res_id,
                s.idx_compartment.c.res_type != "AuditEvent",
            )
            .order_by(s.idx_compartment.c.rid)
            .limit(EVERYTHING_LIMIT)
        )
    ]
    items = [i for i in repo.read_rids(rids) if not i.deleted and i.rid != patient.rid]
    shown = [patient, *(req.gate.visible(items) if req.gate is not None else items)]
    body = searchset_bundle(
        req,
        f"Patient/{req.res_id}/$everything",
        [],
        matches=shown,
        included=[],
        total=len(shown),
        offset=0,
        count=len(shown),
        has_next=False,
        summary=None,
        elements=None,
    )
    return FhirResponse(200, raw=body)


def _reason(body: Any) -> str:
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for p in body.get("parameter", []):
            if p.get("name") == "reason" and isinstance(p.get("valueString"), str):
                return p["valueString"].strip()
    return ""


def break_glass_op(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``POST [base]/Patient/[id]/$break-glass`` with Parameters ``reason`` (valueString)."""
    assert req.res_id
    ctx = req.context
    if req.resource_type != "Patient":
        raise FhirError.not_supported("$break-glass is defined on Patient only", status=404)
    if not getattr(ctx, "break_glass", False):
        raise FhirError.of(
            403,
            IssueType.FORBIDDEN,
            "Break-glass needs a token issued with purpose_of_use=ETREAT to a "
            "client registered with the break-glass power",
        )
    reason = _reason(req.body)
    if not reason:
        raise FhirError.invalid(
            "Break-glass needs a reason (Parameters.parameter 'reason')", "Parameters.parameter"
        )
    patient = repo.read("Patient", req.res_id)
    if patient is None or patient.deleted:
        raise FhirError.not_found(f"Patient/{req.res_id} is not known")
    now = now_micros()
    expires = now + BREAK_GLASS_HOURS * 3600 * 1_000_000
    repo.conn.execute(
        insert(break_glass).values(
            client_id=ctx.client_id,
            organization=getattr(ctx, "organization", None),
            patient_id=req.res_id,
            reason=reason,
            created=now,
            expires=expires,
            review_status="open",
        )
    )
    if req.gate is not None:
        req.gate._glass = None  # the new grant counts for this very interaction's record
    oo = operation_outcome(
        [
            Issue(
                IssueType.INFORMATIONAL,
                f"Break-glass access to Patient/{req.res_id} granted until "
                f"{micros_to_instant(expires)}; "
                "every access is flagged and this grant is queued for privacy-officer review",
                severity=IssueSeverity.WARNING,
            )
        ]
    )
    return FhirResponse(200, resource=oo)
