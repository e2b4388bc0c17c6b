"""Registration intake: ``POST [base]/Patient/$register``.

``POST [base]/Patient/$register`` takes a completed 緊急時利用登録届 or 変更届
(QuestionnaireResponse), bare or in ``Parameters``::

    response             resource  the completed form (required)
    consultation-office  valueReference  the assigned 相談支援事業所 (default: the caller's
                                         organization, or the one already registered)
    core-center          valueReference  the 基幹相談支援センター that keeps the register
    city                 valueReference  the municipality
    provider             valueReference  (0..*) providers expected to act in an emergency

Why not SDC ``QuestionnaireResponse/$extract``: $extract *returns* the extracted resources
and stores nothing (SDC, "Form Data Extraction"); this operation stores the form, the
resources, the consent and the register entry in one transaction and is idempotent — a
different contract, so it has its own name, on Patient because a Patient is what it yields.

Everything is written as one FHIR transaction (http://hl7.org/fhir/R4/http.html#transaction)
through the hub's own transaction processing, so every entry passes the same scope checks,
consent gate and audit as a direct request, and the caller's organization is the author of
what it creates. Ids are deterministic (``hub.workflows.extract``) and PUT answers an
unchanged resource without a new version, so the same form twice changes nothing; a change
notice is laid over the earlier forms (``FormAnswers.overlay``) and only the resources whose
content changes get a new version. Resources a later form no longer yields (a medication
stopped, a household member gone) are deleted.

The register entry and the consent are built by ``hub.workflows.registry``; sharing the
registration with more providers is ``hub.workflows.share``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from hub.access.gate import visible_to
from hub.fhir.canonical import canonical, loads
from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError, Issue
from hub.resources.request import FhirRequest, FhirResponse
from hub.store import schema as s
from hub.store.records import StoredResource
from hub.store.repository import Repository, new_id
from hub.workflows import extract as x
from hub.workflows.forms import FormAnswers, check_response, form_error, questionnaire
from hub.workflows.registry import (
    WITHDRAWN,
    Actors,
    actors,
    consent,
    consent_id,
    episode,
    episode_id,
    signer_of,
)

FORMS = (x.REGISTRATION_FORM, x.CHANGE_FORM)


@dataclass
class Submission:
    response: dict[str, Any]
    given: Actors = field(default_factory=Actors)


def _ref(p: dict[str, Any], name: str) -> str:
    value = p.get("valueReference")
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str) or "/" not in ref:
        raise FhirError.invalid(
            f"Parameter {name!r} takes valueReference with a reference (Organization/id)",
            f"Parameters.parameter.where(name='{name}')",
        )
    return ref


def parse_submission(body: Any) -> Submission:
    """The form and the actors from the request body (400 when it is neither shape)."""
    if isinstance(body, dict) and body.get("resourceType") == "QuestionnaireResponse":
        return Submission(body)
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError.invalid(
            "$register takes a QuestionnaireResponse or Parameters with 'response'", "Parameters"
        )
    sub = Submission({})
    for p in body.get("parameter") or []:
        name = p.get("name") if isinstance(p, dict) else None
        if name == "response":
            sub.response = p.get("resource") or {}
        elif name == "consultation-office":
            sub.given.office = _ref(p, name)
        elif name == "core-center":
            sub.given.core = _ref(p, name)
        elif name == "city":
            sub.given.city = _ref(p, name)
        elif name == "provider":
            sub.given.providers.append(_ref(p, name))
    if sub.response.get("resourceType") != "QuestionnaireResponse":
        raise FhirError.invalid(
            "Parameter 'response' (a QuestionnaireResponse) is required",
            "Parameters.parameter.where(name='response')",
        )
    return sub


def _form_key(qr: dict[str, Any]) -> str:
    core = {k: v for k, v in qr.items() if k not in ("id", "meta", "subject", "text")}
    return hashlib.sha256(canonical(core)).hexdigest()[:48]


def _content(stored: StoredResource | None) -> dict[str, Any] | None:
    if stored is None or stored.deleted or stored.content is None:
        return None
    return dict(loads(stored.content))


def _person(
    req: FhirRequest,
    repo: Repository,
    sub: Submission,
    answers: FormAnswers,
    kind: str,
    form_id: str,
) -> str:
    """Whose form this is: the same form stored before, ``subject``, or kana + birth date."""
    from hub.resources.search import find_matches

    before = _content(repo.read("QuestionnaireResponse", form_id))
    ref = ((before or {}).get("subject") or sub.response.get("subject") or {}).get("reference")
    if isinstance(ref, str) and ref.startswith("Patient/"):
        pid = ref.split("/", 1)[1]
        stored = repo.read("Patient", pid)
        if stored is not None and not stored.deleted:
            if not visible_to(req.gate, stored):
                raise FhirError.not_found(f"Patient/{pid} is not known")
            return pid
        if kind == "registration":
            return pid
        raise form_error(422, [([], f"QuestionnaireResponse.subject: Patient/{pid} is not known")])
    kana, birth = answers.string("person.name.kana"), answers.date("person.birthDate")
    if kana and birth:
        found = find_matches(
            req,
            repo,
            "Patient",
            [("phonetic", kana), ("birthdate", birth), ("identifier", f"{x.REGISTRATION_NUMBER}|")],
            limit=2,
        )
        if len(found) > 1:
            raise form_error(422, [(["person"], "more than one registered person matches")])
        if found:
            return found[0].res_id
    if kind == "registration":
        return new_id()
    raise form_error(
        422, [(["person"], "no registered person matches this change notice (give subject)")]
    )


def _forms_of(req: FhirRequest, repo: Repository, pid: str) -> list[StoredResource]:
    r = s.idx_reference.c
    rids = select(r.rid).where(
        r.res_type == "QuestionnaireResponse",
        r.code == "subject",
        r.target_type == "Patient",
        r.target_id == pid,
    )
    rows = repo.conn.execute(
        select(s.resource.c.rid).where(s.resource.c.rid.in_(rids), s.resource.c.deleted.is_(False))
    )
    items = repo.read_rids([row[0] for row in rows])
    return req.gate.visible(items) if req.gate is not None else items


def _merged(
    req: FhirRequest, repo: Repository, pid: str, form_id: str, current: dict[str, Any]
) -> tuple[FormAnswers, dict[str, Any]]:
    """The person's answers now (last registration + later change notices) and that
    registration form."""
    forms: list[tuple[str, int, dict[str, Any]]] = []
    for item in _forms_of(req, repo, pid):
        body = dict(loads(item.content or b"{}"))
        if item.res_id != form_id and str(body.get("questionnaire", "")).split("|")[0] in FORMS:
            forms.append((str(body.get("authored", "")), item.last_updated, body))
    forms.append((str(current.get("authored", "")), 2**62, current))
    forms.sort(key=lambda f: (f[0], f[1]))
    starts = [i for i, f in enumerate(forms) if _kind(f[2]) == "registration"]
    if not starts:
        raise form_error(422, [([], "a change notice needs the person's registration first")])
    base = forms[starts[-1]][2]
    answers = _answers(base)
    for _, _, notice in forms[starts[-1] + 1 :]:
        answers = answers.overlay(_answers(notice))
    return answers, base


def _kind(qr: dict[str, Any]) -> str:
    url = str(qr.get("questionnaire", "")).split("|", 1)[0]
    return "registration" if url == x.REGISTRATION_FORM else "change"


def _answers(qr: dict[str, Any]) -> FormAnswers:
    q = questionnaire(str(qr.get("questionnaire", ""))) or {}
    return FormAnswers.of(qr.get("item", []), q.get("item", []))


def _texts(q: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    stack = list(q.get("item", []))
    while stack:
        it = stack.pop()
        out[it["linkId"]] = it.get("text", "")
        stack.extend(it.get("item", []))
    return out


def _stale(repo: Repository, pid: str, keep: set[str]) -> list[tuple[str, str]]:
    prefix = x.id_prefix(pid) + "-"
    rows = repo.conn.execute(
        select(s.resource.c.res_type, s.resource.c.res_id).where(
            s.resource.c.res_type.in_(x.DERIVED_TYPES),
            # a range, not LIKE: it uses the (res_type, res_id) index on SQLite too
            s.resource.c.res_id >= prefix,
            s.resource.c.res_id < prefix[:-1] + chr(ord(prefix[-1]) + 1),
            s.resource.c.deleted.is_(False),
        )
    )
    return [(t, i) for t, i in rows if i.startswith(prefix) and i not in keep]


def run_transaction(
    req: FhirRequest, repo: Repository, entries: list[dict[str, Any]], sources: list[list[str]]
) -> dict[str, Any]:
    from hub.resources.transaction import process_bundle

    sub = FhirRequest(
        method="POST",
        base=req.base,
        body={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        context=req.context,
        headers={"prefer": "return=minimal"},
        consent_gate=req.consent_gate,
        certificate_valid_months=req.certificate_valid_months,
        audit=req.audit,
    )
    try:
        resp = process_bundle(sub, repo)
    except FhirError as err:
        issues = []
        for issue in err.issues:
            where = next((e for e in issue.expression if e.startswith("Bundle.entry[")), "")
            index = int(where[13:].split("]")[0]) if where else -1
            path = sources[index] if 0 <= index < len(sources) else []
            expr = (f"QuestionnaireResponse.item.where(linkId='{path[-1]}')",) if path else ()
            issues.append(
                Issue(issue.code, issue.diagnostics, issue.severity, expr + issue.expression)
            )
        raise FhirError(err.status if err.status >= 400 else 422, issues) from None
    assert resp.resource is not None
    return resp.resource


def register(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``POST [base]/Patient/$register`` (see the module docstring)."""
    if req.resource_type != "Patient":
        raise FhirError.not_supported("$register is defined on Patient only", status=404)
    sub = parse_submission(req.body)
    qr = sub.response
    url = str(qr.get("questionnaire", ""))
    q = questionnaire(url)
    if q is None or url.split("|", 1)[0] not in FORMS:
        raise FhirError.invalid(
            f"questionnaire must be {x.REGISTRATION_FORM} or {x.CHANGE_FORM}",
            "QuestionnaireResponse.questionnaire",
        )
    if qr.get("status") != "completed":
        raise FhirError.of(
            422,
            IssueType.PROCESSING,
            "Only a completed form can be registered",
            "QuestionnaireResponse.status",
        )
    check_response(qr, q)
    kind = _kind(qr)
    form_id = f"form-{_form_key(qr)}"
    pid = _person(req, repo, sub, _answers(qr), kind, form_id)
    stored_form = {**qr, "id": form_id, "subject": {"reference": f"Patient/{pid}"}}
    stored_form.pop("meta", None)
    answers, registration = _merged(req, repo, pid, form_id, stored_form)
    reg_id = str(registration["id"])
    _short_stay_rule(answers)
    prefix = x.id_prefix(pid)
    old_patient = _content(repo.read("Patient", pid))
    old_episode = _content(repo.read("EpisodeOfCare", episode_id(pid)))
    old_consent = _content(repo.read("Consent", consent_id(pid)))
    number = (
        next(
            (
                i["value"]
                for i in (old_patient or {}).get("identifier", [])
                if i.get("system") == x.REGISTRATION_NUMBER
            ),
            None,
        )
        or f"R{str(registration.get('authored', ''))[:4] or '0000'}-{prefix[:8].upper()}"
    )
    org = getattr(req.context, "organization", None)
    who = actors(sub.given, old_episode, org if isinstance(org, str) else None)
    related = x.contacts(answers, pid)
    granted = consent(
        pid, who, registration, reg_id, _answers(registration), signer_of(answers, related)
    )
    withdrawn = (old_consent or {}).get("status")
    if kind == "change" and withdrawn in WITHDRAWN:
        granted["status"] = withdrawn  # a change notice does not grant again
    filed = _answers(registration).date("filed-date") or ""
    texts = _texts(questionnaire(x.REGISTRATION_FORM) or {})
    resources: list[tuple[dict[str, Any], list[str]]] = [
        (stored_form, []),
        (x.patient(answers, pid, old_patient, number), ["person"]),
        *((r, [_contact_item(r["id"])]) for r in related.values()),
        *((r, ["status"]) for r in x.clinical(answers, pid).values()),
        *((r, ["certificates"]) for r in x.observations(answers, pid, texts).values()),
        (granted, ["consent.statement"]),
        (episode(pid, who, answers, number, reg_id, filed), ["registration"]),
    ]
    entries: list[dict[str, Any]] = []
    sources: list[list[str]] = []
    keep = {r["id"] for r, _ in resources}
    for rtype, rid in _stale(repo, pid, keep):
        entries.append({"request": {"method": "DELETE", "url": f"{rtype}/{rid}"}})
        sources.append([])
    for body, src in resources:
        entries.append(
            {
                "resource": body,
                "request": {"method": "PUT", "url": f"{body['resourceType']}/{body['id']}"},
            }
        )
        sources.append(src)
    result = run_transaction(req, repo, entries, sources)
    out = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": f"Patient/{pid}"}},
            {
                "name": "register-entry",
                "valueReference": {"reference": f"EpisodeOfCare/{episode_id(pid)}"},
            },
            {
                "name": "consent",
                "valueReference": {"reference": f"Consent/{consent_id(pid)}"},
            },
            {
                "name": "response",
                "valueReference": {"reference": f"QuestionnaireResponse/{form_id}"},
            },
            {"name": "outcome", "resource": result},
        ],
    }
    return FhirResponse(200, resource=out)


def _contact_item(rid: str) -> str:
    part, n = rid.rsplit("-", 2)[-2:]
    return f"contact.{n}" if part == "contact" else "household"


def _short_stay_rule(answers: FormAnswers) -> None:
    """Short stay (短期入所, 24) is for eligibility case (1) only (seed 003, DOMAIN.md)."""
    if "24" in answers.codes("emergency.wanted-services.kind") and "carer-unable" not in (
        answers.codes("registration.eligibility")
    ):
        raise form_error(
            422,
            [
                (
                    ["emergency.wanted-services", "emergency.wanted-services.kind"],
                    "短期入所 is only for registrations where the carer cannot give care "
                    "(registration.eligibility carer-unable)",
                )
            ],
        )
