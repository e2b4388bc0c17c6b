"""Follow-ups of writes the base's workflows care about, in the writing transaction.

``hub.resources.routes.dispatch`` calls :func:`after_write` after every write interaction on
a type in ``routes.WORKFLOW_TYPES`` — directly or as a Bundle entry — inside the same database
transaction, so raising refuses the write and rolls it back:

* ``CarePlan``: the 個別支援計画 → サービス等利用計画 rule and the plan's monitoring Task
  (``hub.workflows.careplans``); deleting a plan cancels its Task;
* ``QuestionnaireResponse``: a completed health certificate must answer the common form
  (``hub.workflows.certificates``);
* ``Consent``: only an organization that keeps the person's consents may record one
  (``hub.access.gate.Gate.may_write_consent_for``).
"""

from __future__ import annotations

from hub.fhir.canonical import loads
from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.records import StoredResource
from hub.store.repository import Repository
from hub.workflows import careplans, certificates


def after_write(req: FhirRequest, repo: Repository, resp: FhirResponse) -> None:
    if resp.deleted is not None:
        rtype, rid = resp.deleted.split("/", 1)
        if rtype == "CarePlan":
            careplans.cancel_monitoring_task(req, repo, rid)
        return
    stored = careplans.written(repo, resp)
    if stored is None:
        return
    if stored.res_type == "CarePlan":
        careplans.after_write(req, repo, stored)
    elif stored.res_type == "QuestionnaireResponse":
        certificates.after_write(dict(loads(stored.content or b"{}")))
    elif stored.res_type == "Consent":
        _consent_writer(req, repo, stored)


def _patient_of(stored: StoredResource) -> str | None:
    ref = (loads(stored.content or b"{}").get("patient") or {}).get("reference")
    return ref.split("/", 1)[1] if isinstance(ref, str) and ref.startswith("Patient/") else None


def _consent_writer(req: FhirRequest, repo: Repository, stored: StoredResource) -> None:
    """Only an organization that keeps the person's consents may record one (403 otherwise)
    — else anyone with Consent write scope could grant themselves access to anyone: a keeper
    of the version it replaces, for the same person (``Gate.may_change_consent``), or one that
    may record a consent for that person (``Gate.may_write_consent_for``)."""
    gate = req.gate
    if gate is None:
        return
    pid = _patient_of(stored)
    prev = repo.vread("Consent", stored.res_id, stored.version_id - 1)
    keeps_prev = (
        prev is not None
        and not prev.deleted
        and _patient_of(prev) == pid
        and gate.may_change_consent(gate.check([prev], record=False)[0])
    )
    if pid is not None and (keeps_prev or gate.may_write_consent_for(pid, stored.rid)):
        return
    raise FhirError.of(
        403,
        IssueType.FORBIDDEN,
        "A Consent may be recorded only by the organization that created the person's record "
        "or one that keeps their consents (its author, Consent.organization, its "
        "care-management permit)",
        "Consent.patient",
    )
