"""Sharing a registration with the providers expected to act: ``Patient/[id]/$share-registration``.

Today the base sends paper copies of the 緊急時利用登録届 to the providers expected to act in an
emergency (seed 003, DOMAIN.md "flow"). Here that is one action, recorded::

    POST [base]/Patient/[id]/$share-registration
    Parameters:  provider  valueReference  (1..*) Organization/… expected to act
                 note      valueString     (0..1) a message for the providers

In one FHIR transaction (http://hl7.org/fhir/R4/http.html#transaction), through the hub's own
transaction processing (so every entry passes the scope checks, the consent gate and the
audit like a direct request):

* the register entry (``EpisodeOfCare``) lists the providers as expected providers
  (searchable: ``EpisodeOfCare?expected-provider=Organization/…``);
* the registration's ``Consent`` permits them (TREAT, ETREAT) — the purpose the person
  consented to on the form ("to prepare for and handle emergencies"); the new Consent version
  is a consent change in the ledger;
* a ``Communication`` (category ``registration-share``) records the share: ``sender`` the
  caller's organization, ``recipient`` the providers, ``about`` the register entry and the
  registration form, ``payload`` the form, ``sent`` now. It is in the Patient compartment, so
  the providers find it (``Communication?recipient=…``) and read the form through the gate.

Refused: a person the caller may not see (404, as an unknown one), a caller that does not
keep the person's consent (403: only the consultation office or the core center — its author,
``Consent.organization`` or its care-management permit — and never under break-glass), a person
without a register entry (422), a withdrawn consent (409 — sharing needs the person's consent),
a provider that is not a known Organization (422 naming the parameter), a register entry or
consent changed concurrently (412).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hub.fhir.canonical import loads
from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError
from hub.resources.interactions import require_visible
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.records import StoredResource
from hub.store.repository import Repository
from hub.workflows.conformance import CANONICAL_BASE, without_version_meta
from hub.workflows.register import run_transaction
from hub.workflows.registry import (
    EXT_FORM,
    EXT_PROVIDER,
    PROVIDER_PURPOSES,
    WITHDRAWN,
    consent_id,
    episode_id,
    ext_refs,
    permit,
)

COMMUNICATION_CATEGORY = f"{CANONICAL_BASE}/CodeSystem/communication-category"
SHARE = "registration-share"


def _param_where(name: str) -> str:
    return f"Parameters.parameter.where(name='{name}')"


def parse(body: Any) -> tuple[list[str], str | None]:
    """The providers and the note (400 when the body is not Parameters with a provider)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError.invalid("$share-registration takes Parameters", "Parameters")
    providers: list[str] = []
    note: str | None = None
    for p in body.get("parameter") or []:
        name = p.get("name") if isinstance(p, dict) else None
        if name == "provider":
            value = p.get("valueReference")
            ref = value.get("reference") if isinstance(value, dict) else None
            if not isinstance(ref, str) or not ref.startswith("Organization/"):
                raise FhirError.invalid(
                    "Parameter 'provider' takes valueReference → Organization/[id]",
                    _param_where("provider"),
                )
            providers.append(ref)
        elif name == "note":
            note = p.get("valueString") if isinstance(p.get("valueString"), str) else None
    if not providers:
        raise FhirError.invalid(
            "At least one 'provider' (Organization) is required", _param_where("provider")
        )
    return list(dict.fromkeys(providers)), note


def _current(repo: Repository, rtype: str, rid: str) -> StoredResource | None:
    stored = repo.read(rtype, rid)
    return None if stored is None or stored.deleted else stored


def _body(stored: StoredResource) -> dict[str, Any]:
    """The stored content without the server-set ``meta.versionId``/``lastUpdated``."""
    return without_version_meta(dict(loads(stored.content or b"{}")))


def with_providers(consent: dict[str, Any], providers: list[str]) -> dict[str, Any]:
    """The consent with ``providers`` permitted for TREAT and ETREAT (pure)."""
    out = dict(consent)
    root = dict(out.get("provision") or {"type": "deny"})
    nested = [dict(p) for p in root.get("provision") or []]
    purposes = set(PROVIDER_PURPOSES)

    def is_provider_permit(p: dict[str, Any]) -> bool:
        return p.get("type") == "permit" and {c.get("code") for c in p.get("purpose", [])} == (
            purposes
        )

    present = {
        a.get("reference", {}).get("reference")
        for p in nested
        if is_provider_permit(p)
        for a in p.get("actor", [])
    }
    missing = [r for r in providers if r not in present]
    if missing:
        target = next((p for p in nested if is_provider_permit(p)), None)
        if target is None:
            nested.append(permit(missing, PROVIDER_PURPOSES))
        else:
            target["actor"] = list(target.get("actor", [])) + permit(missing, ())["actor"]
    root["provision"] = nested
    out["provision"] = root
    return out


def share_registration(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``POST [base]/Patient/[id]/$share-registration`` (see the module docstring)."""
    assert req.res_id
    if req.resource_type != "Patient":
        raise FhirError.not_supported("$share-registration is defined on Patient only", status=404)
    providers, note = parse(req.body)
    pid = req.res_id
    patient = _current(repo, "Patient", pid)
    if patient is None:
        raise FhirError.not_found(f"Patient/{pid} is not known")
    require_visible(req, patient)
    for ref in providers:
        if _current(repo, "Organization", ref.split("/", 1)[1]) is None:
            raise FhirError.of(
                422,
                IssueType.NOT_FOUND,
                f"{ref} is not a known Organization",
                _param_where("provider"),
            )
    stored_episode = _current(repo, "EpisodeOfCare", episode_id(pid))
    stored_consent = _current(repo, "Consent", consent_id(pid))
    if stored_episode is None or stored_consent is None:
        raise FhirError.of(422, IssueType.PROCESSING, f"Patient/{pid} has no registration to share")
    require_visible(req, stored_episode)
    if req.gate is not None:
        verdict = req.gate.check([stored_consent])[0]
        if not verdict.permit:
            raise FhirError.not_found(f"Patient/{pid} is not known")
        if not req.gate.may_change_consent(verdict):
            raise FhirError.of(
                403,
                IssueType.FORBIDDEN,
                "Only the organizations that keep the person's consent (the consultation "
                "office, the core center) may share the registration; never under break-glass",
            )
    episode, consent = _body(stored_episode), _body(stored_consent)
    if consent.get("status") in WITHDRAWN:
        raise FhirError.of(
            409,
            IssueType.CONFLICT,
            f"The registration consent of Patient/{pid} is withdrawn; it cannot be shared",
        )
    known = ext_refs(episode, EXT_PROVIDER)
    added = [p for p in providers if p not in known]
    if added:
        episode["extension"] = list(episode.get("extension", [])) + [
            {"url": EXT_PROVIDER, "valueReference": {"reference": p}} for p in added
        ]
    form = next(iter(ext_refs(episode, EXT_FORM)), None)
    sender = getattr(req.context, "organization", None)
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [
            {
                "coding": [
                    {
                        "system": COMMUNICATION_CATEGORY,
                        "code": SHARE,
                        "display": "緊急時利用登録の共有",
                    }
                ]
            }
        ],
        "subject": {"reference": f"Patient/{pid}"},
        "about": [{"reference": f"EpisodeOfCare/{episode_id(pid)}"}]
        + ([{"reference": form}] if form else []),
        "sent": datetime.now(UTC).isoformat(timespec="seconds"),
        "recipient": [{"reference": p} for p in providers],
    }
    if isinstance(sender, str):
        communication["sender"] = {"reference": sender}
    if form:
        communication["payload"] = [{"contentReference": {"reference": form}}]
    if note:
        communication["note"] = [{"text": note}]
    entries: list[dict[str, Any]] = []
    for body, stored in (
        (episode, stored_episode),
        (with_providers(consent, providers), stored_consent),
    ):
        # ifMatch: a concurrent change of either makes this share fail (412), not lose it
        entries.append(
            {
                "resource": body,
                "request": {
                    "method": "PUT",
                    "url": f"{body['resourceType']}/{body['id']}",
                    "ifMatch": stored.etag,
                },
            }
        )
    entries.append(
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": communication,
            "request": {"method": "POST", "url": "Communication"},
        }
    )
    result = run_transaction(req, repo, entries, [[] for _ in entries])
    location = str(result["entry"][-1]["response"]["location"])
    comm_ref = "/".join(location.split("/_history/")[0].split("/")[-2:])
    out = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "communication", "valueReference": {"reference": comm_ref}},
            {
                "name": "register-entry",
                "valueReference": {"reference": f"EpisodeOfCare/{episode_id(pid)}"},
            },
            {"name": "consent", "valueReference": {"reference": f"Consent/{consent_id(pid)}"}},
            *({"name": "added", "valueReference": {"reference": p}} for p in added),
            {"name": "outcome", "resource": result},
        ],
    }
    return FhirResponse(200, resource=out)
