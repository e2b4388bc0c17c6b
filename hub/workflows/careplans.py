"""Care plans: the 個別支援計画 → サービス等利用計画 link, and the monitoring Task of a plan.

``after_write`` is called once, through ``hub.workflows.hooks``, after every CarePlan write
(create, update, conditional update, patch — directly or as a Bundle entry), inside the same
database transaction, so raising refuses the write and rolls it back; deleting a plan cancels
its monitoring Task (``cancel_monitoring_task``).

* A 個別支援計画 (category ``individual-support-plan``) must have ``basedOn`` → a *current*
  (``status = active``) サービス等利用計画 (category ``service-use-plan``) of the *same*
  ``subject``; otherwise 422 naming ``CarePlan.basedOn`` (seed 004: each provider's plan is
  built on the person's service-use plan; profile ``individual-support-plan``). A plan the
  caller may not see counts as absent, with the same message.
* Writing a サービス等利用計画 keeps its monitoring Task (``Task/monitoring-<plan>``) in step:
  ``code`` monitoring, ``for`` → the Patient, ``basedOn`` → the plan, ``owner`` → the
  consultation office, ``restriction.period.end`` = the due date from
  :func:`hub.workflows.monitoring.next_monitoring`, ``reasonCode`` = the rule
  (CodeSystem monitoring-category). A plan that is no longer active, or that has no service
  with a standard period, cancels the Task.

Inputs the table needs and the profile does not carry are read from hub extensions on the
plan: ``monitoring-last-date`` (valueDate; default ``period.start``, else ``created``),
``monitoring-service-start`` (valueDate, the new-user window), ``monitoring-intensive-support``
and ``monitoring-ltc-care-management`` (valueBoolean). Services are the plan's
``activity.detail.code`` codings of CodeSystem welfare-service-kind; the birth date is the
Patient's.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from hub.access.gate import visible_to
from hub.fhir.canonical import loads
from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError
from hub.fhir.validate import validate_resource
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.records import StoredResource, location_parts
from hub.store.repository import Repository
from hub.workflows.conformance import CANONICAL_BASE
from hub.workflows.monitoring import MonitoringSubject, next_monitoring

CATEGORY = f"{CANONICAL_BASE}/CodeSystem/careplan-category"
SERVICE_KIND = f"{CANONICAL_BASE}/CodeSystem/welfare-service-kind"
MONITORING_CATEGORY = f"{CANONICAL_BASE}/CodeSystem/monitoring-category"
TASK_CODE = f"{CANONICAL_BASE}/CodeSystem/workflow-task"
EXT = f"{CANONICAL_BASE}/StructureDefinition"
EXT_LAST = f"{EXT}/monitoring-last-date"
EXT_START = f"{EXT}/monitoring-service-start"
EXT_INTENSIVE = f"{EXT}/monitoring-intensive-support"
EXT_LTC = f"{EXT}/monitoring-ltc-care-management"
SERVICE_USE = "service-use-plan"
INDIVIDUAL = "individual-support-plan"


def plan_kind(body: dict[str, Any]) -> str | None:
    for concept in body.get("category") or []:
        for c in concept.get("coding") or []:
            if c.get("system") == CATEGORY and c.get("code") in (SERVICE_USE, INDIVIDUAL):
                return str(c["code"])
    return None


def written(repo: Repository, resp: FhirResponse) -> StoredResource | None:
    """The resource a create or update wrote (from its ``Location``), if it still exists."""
    parts = location_parts(resp.headers.get("Location"))
    if resp.status >= 300 or parts is None:
        return None
    stored = repo.read(parts[0], parts[1])
    return None if stored is None or stored.deleted else stored


def after_write(req: FhirRequest, repo: Repository, stored: StoredResource) -> None:
    """Check and follow up one CarePlan write (see the module docstring)."""
    body = dict(loads(stored.content or b"{}"))
    kind = plan_kind(body)
    if kind == INDIVIDUAL:
        check_based_on(req, repo, body)
    elif kind == SERVICE_USE:
        keep_monitoring_task(req, repo, body)


def _refuse(msg: str) -> FhirError:
    return FhirError.of(422, IssueType.PROCESSING, msg, "CarePlan.basedOn")


def check_based_on(req: FhirRequest, repo: Repository, body: dict[str, Any]) -> None:
    """A 個別支援計画 rests on a current サービス等利用計画 of the same person."""
    subject = (body.get("subject") or {}).get("reference")
    refs = [
        b.get("reference") for b in body.get("basedOn") or [] if isinstance(b.get("reference"), str)
    ]
    if not refs:
        raise _refuse("個別支援計画 needs basedOn → the person's current サービス等利用計画")
    for ref in refs:
        rtype, _, rid = str(ref).partition("/")
        stored = repo.read(rtype, rid) if rtype == "CarePlan" and rid else None
        if stored is not None and (stored.deleted or not visible_to(req.gate, stored)):
            stored = None  # a plan the caller may not see counts as absent
        plan = dict(loads(stored.content or b"{}")) if stored is not None else {}
        if not plan or plan_kind(plan) != SERVICE_USE:
            raise _refuse(f"basedOn {ref} is not a サービス等利用計画")
        if plan.get("status") != "active":
            raise _refuse(f"basedOn {ref} is not current (status {plan.get('status')!r})")
        if (plan.get("subject") or {}).get("reference") != subject:
            raise _refuse(f"basedOn {ref} is the plan of another person")


def _ext(body: dict[str, Any], url: str, key: str) -> Any:
    return next((e.get(key) for e in body.get("extension") or [] if e.get("url") == url), None)


def parse_date(value: Any) -> date | None:
    """The date of a FHIR date/dateTime string (its first 10 characters), else None."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def monitoring_subject(body: dict[str, Any], birth: date | None) -> MonitoringSubject:
    services = {
        str(c.get("code"))
        for a in body.get("activity") or []
        for c in ((a.get("detail") or {}).get("code") or {}).get("coding") or []
        if c.get("system") == SERVICE_KIND and c.get("code")
    }
    return MonitoringSubject(
        services=frozenset(services),
        birth_date=birth,
        service_start=parse_date(_ext(body, EXT_START, "valueDate")),
        intensive_support=_ext(body, EXT_INTENSIVE, "valueBoolean") is True,
        ltc_care_management=_ext(body, EXT_LTC, "valueBoolean") is True,
    )


def last_monitoring(body: dict[str, Any]) -> date | None:
    return (
        parse_date(_ext(body, EXT_LAST, "valueDate"))
        or parse_date((body.get("period") or {}).get("start"))
        or parse_date(body.get("created"))
    )


def task_id(plan_id: str) -> str:
    tid = f"monitoring-{plan_id}"
    return tid if len(tid) <= 64 else "monitoring-" + hashlib.sha256(plan_id.encode()).hexdigest()


def _owner(req: FhirRequest, repo: Repository, body: dict[str, Any]) -> str | None:
    author = (body.get("author") or {}).get("reference")
    if isinstance(author, str) and author.startswith("Organization/"):
        return author
    if isinstance(author, str) and author.startswith("PractitionerRole/"):
        role = repo.read("PractitionerRole", author.split("/", 1)[1])
        if role is not None and not role.deleted and role.content:
            org = (loads(role.content).get("organization") or {}).get("reference")
            if isinstance(org, str):
                return org
    org = getattr(req.context, "organization", None)
    return org if isinstance(org, str) else None


def keep_monitoring_task(req: FhirRequest, repo: Repository, body: dict[str, Any]) -> None:
    """Create or update ``Task/monitoring-<plan>`` (unchanged content: no new version)."""
    from hub.resources.interactions import _same_content

    subject = (body.get("subject") or {}).get("reference")
    birth = None
    if isinstance(subject, str) and subject.startswith("Patient/"):
        patient = repo.read("Patient", subject.split("/", 1)[1])
        if patient is not None and patient.content:
            birth = parse_date(loads(patient.content).get("birthDate"))
    last = last_monitoring(body)
    due = next_monitoring(monitoring_subject(body, birth), last) if last else None
    tid = task_id(str(body["id"]))
    current = repo.read("Task", tid, for_update=True)
    if due is None or body.get("status") != "active":
        if current is None or current.deleted:
            return
        task = dict(loads(current.content or b"{}"))
        task["status"] = "cancelled"
    else:
        task = {
            "resourceType": "Task",
            "id": tid,
            "status": "requested",
            "intent": "plan",
            "code": {
                "coding": [{"system": TASK_CODE, "code": "monitoring", "display": "モニタリング"}]
            },
            "description": f"次回モニタリング（標準期間 {due.months}か月）",
            "for": {"reference": subject},
            "basedOn": [{"reference": f"CarePlan/{body['id']}"}],
            "reasonCode": {"coding": [{"system": MONITORING_CATEGORY, "code": str(due.rule)}]},
            "restriction": {"period": {"end": due.due.isoformat()}},
        }
        if owner := _owner(req, repo, body):
            task["owner"] = {"reference": owner}
    validate_resource(task, "Task")
    org = getattr(req.context, "organization", None)
    if current is None:
        repo.create(task, res_id=tid, method="PUT", author=org if isinstance(org, str) else None)
    elif current.deleted or not _same_content(current, dict(task)):
        repo.update(current, task)


def cancel_monitoring_task(req: FhirRequest, repo: Repository, plan_id: str) -> None:
    """A deleted plan needs no monitoring: its Task (if any) becomes ``cancelled``."""
    current = repo.read("Task", task_id(plan_id), for_update=True)
    if current is None or current.deleted:
        return
    task = dict(loads(current.content or b"{}"))
    if task.get("status") != "cancelled":
        task["status"] = "cancelled"
        repo.update(current, task)


def monitoring_due(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``GET [base]/Task/$monitoring-due?owner=Organization/x[&date=YYYY-MM-DD]``: the
    monitoring Tasks of an office due on or before ``date`` (default today) — overdue ones
    included — oldest first, as a searchset; each passes the consent gate like a search."""
    from hub.resources.bundles import unpaged_searchset
    from hub.resources.search import find_matches

    if req.resource_type != "Task":
        raise FhirError.not_supported("$monitoring-due is defined on Task only", status=404)
    owner = req.param("owner")
    if not owner:
        raise FhirError.invalid("Parameter 'owner' (Organization/id) is required", "owner")
    raw = req.param("date")
    until = parse_date(raw) if raw else date.today()
    if until is None:
        raise FhirError.invalid(f"{raw!r} is not a date (YYYY-MM-DD)", "date")
    criteria = [("code", f"{TASK_CODE}|monitoring"), ("owner", owner), ("status", "requested")]
    found = find_matches(req, repo, "Task", criteria, limit=req.max_count)
    due: list[tuple[date, StoredResource]] = []
    for item in found:
        end = parse_date(
            ((loads(item.content or b"{}").get("restriction") or {}).get("period") or {}).get("end")
        )
        if end is not None and end <= until:
            due.append((end, item))
    due.sort(key=lambda d: (d[0], d[1].res_id))
    shown = [d[1] for d in due]
    body = unpaged_searchset(req, "Task/$monitoring-due", list(req.params), shown)
    return FhirResponse(200, raw=body)
