"""Follow-ups of writes the base's workflows care about, in the writing transaction.

``hub.resources.routes.dispatch`` calls :func:`after_write` after every write interaction on
a type in ``routes.WORKFLOW_TYPES`` — directly or as a Bundle entry — inside the same database
transaction, so raising refuses the write and rolls it back:

* ``CarePlan``: the 個別支援計画 → サービス等利用計画 rule and the plan's monitoring Task
  (``hub.workflows.careplans``); deleting a plan cancels its Task;
* ``QuestionnaireResponse``: a completed health certificate must answer the common form
  (``hub.workflows.certificates``).
"""

from __future__ import annotations

from hub.fhir.canonical import loads
from hub.resources.request import FhirRequest, FhirResponse
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
