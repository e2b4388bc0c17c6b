"""FHIR operations: ``Patient/[id]/$everything`` and ``Patient/[id]/$break-glass``.

* ``$everything`` (http://hl7.org/fhir/R4/patient-operation-everything.html): the patient
  and every resource in their compartment — each one through the consent gate.
* ``$break-glass`` (the hub's own): emergency access for life protection (個人情報保護法
  27条1項2号). A client whose token carries the break-glass power (``purpose_of_use=ETREAT``
  issued to a client registered with the flag) names the patient and gives a reason; the hub
  grants that client access to that patient's data for ``HUB_BREAK_GLASS_HOURS`` (24 h),
  flags every access made under it, and queues the grant for a privacy officer's review.
* ``$break-glass-review`` (the hub's own, system level): the review queue. Only clients with
  the privacy-officer flag (any other caller: 403). ``GET [base]/$break-glass-review`` returns
  a ``Parameters`` with one ``grant`` per grant still open (``?status=all``: every grant);
  ``POST [base]/$break-glass-review`` with ``Parameters`` ``id`` (valueString), ``justified``
  (valueBoolean) and ``comment`` (valueString) closes one as ``justified`` or
  ``unjustified``, naming the reviewer (the officer's client and organization). A closed grant
  cannot be reviewed again (409). Closing a review does not end an emergency grant early;
  it records the officer's judgement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from hub.access.schema import break_glass
from hub.fhir.codes import IssueSeverity, IssueType
from hub.fhir.errors import FhirError, Issue, operation_outcome
from hub.resources.bundles import unpaged_searchset
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
    body = unpaged_searchset(req, f"Patient/{req.res_id}/$everything", [], shown)
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


# -- the review queue --------------------------------------------------------------------------

REVIEW_STATUSES = ("open", "justified", "unjustified")


def _privacy_officer(req: FhirRequest) -> None:
    if not getattr(req.context, "privacy_officer", False):
        raise FhirError.of(
            403,
            IssueType.FORBIDDEN,
            "The break-glass review queue is for privacy officers only "
            "(a client registered with the privacy-officer flag)",
        )


def _grant_parameter(row: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "id", "valueString": str(row.id)},
        {"name": "client", "valueString": row.client_id},
        {"name": "patient", "valueReference": {"reference": f"Patient/{row.patient_id}"}},
        {"name": "reason", "valueString": row.reason},
        {"name": "created", "valueInstant": micros_to_instant(row.created)},
        {"name": "expires", "valueInstant": micros_to_instant(row.expires)},
        {"name": "status", "valueCode": row.review_status},
    ]
    if row.organization:
        parts.insert(2, {"name": "organization", "valueReference": {"reference": row.organization}})
    if row.review_status != "open":
        parts += [
            {"name": "reviewer", "valueString": row.reviewer or ""},
            {"name": "comment", "valueString": row.review_comment or ""},
            {"name": "reviewed", "valueInstant": micros_to_instant(row.reviewed_at or 0)},
        ]
    return {"name": "grant", "part": parts}


def break_glass_queue(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``GET [base]/$break-glass-review[?status=open|all]``: the grants awaiting review."""
    _privacy_officer(req)
    status = req.param("status") or "open"
    if status not in ("open", "all"):
        raise FhirError.invalid(f"status must be 'open' or 'all', not {status!r}", "status")
    stmt = select(break_glass).order_by(break_glass.c.created, break_glass.c.id)
    if status == "open":
        stmt = stmt.where(break_glass.c.review_status == "open")
    rows = repo.conn.execute(stmt)
    body = {"resourceType": "Parameters", "parameter": [_grant_parameter(r) for r in rows]}
    return FhirResponse(200, resource=body)


def _parameter(body: Any, name: str, kind: str) -> Any:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError.invalid("The review takes a Parameters resource", "Parameters")
    for p in body.get("parameter") or []:
        if isinstance(p, dict) and p.get("name") == name:
            return p.get(kind)
    return None


def break_glass_review(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``POST [base]/$break-glass-review``: close one grant (id, justified, comment)."""
    _privacy_officer(req)
    gid = _parameter(req.body, "id", "valueString")
    justified = _parameter(req.body, "justified", "valueBoolean")
    comment = _parameter(req.body, "comment", "valueString")
    if not isinstance(gid, str) or not gid.strip().isdigit():
        raise FhirError.invalid(
            "Parameter 'id' (valueString, the grant's id from the queue) is required",
            "Parameters.parameter.where(name='id')",
        )
    if not isinstance(justified, bool):
        raise FhirError.invalid(
            "Parameter 'justified' (valueBoolean) is required",
            "Parameters.parameter.where(name='justified')",
        )
    if not isinstance(comment, str) or not comment.strip():
        raise FhirError.invalid(
            "Parameter 'comment' (valueString) is required: say why",
            "Parameters.parameter.where(name='comment')",
        )
    row = repo.conn.execute(
        select(break_glass).where(break_glass.c.id == int(gid)).with_for_update()
    ).first()
    if row is None:
        raise FhirError.not_found(f"No break-glass grant {gid}")
    if row.review_status != "open":
        raise FhirError.of(409, IssueType.CONFLICT, f"Break-glass grant {gid} was already reviewed")
    ctx = req.context
    reviewer = " ".join(
        x for x in (getattr(ctx, "client_id", None), getattr(ctx, "organization", None)) if x
    )
    repo.conn.execute(
        update(break_glass)
        .where(break_glass.c.id == row.id)
        .values(
            review_status="justified" if justified else "unjustified",
            reviewer=reviewer or "hub",
            review_comment=comment.strip(),
            reviewed_at=now_micros(),
        )
    )
    closed = repo.conn.execute(select(break_glass).where(break_glass.c.id == row.id)).one()
    return FhirResponse(
        200, resource={"resourceType": "Parameters", "parameter": [_grant_parameter(closed)]}
    )
