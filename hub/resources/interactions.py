"""FHIR RESTful interactions, each a function ``(FhirRequest, Repository) -> FhirResponse``.

http://hl7.org/fhir/R4/http.html — read, vread, create (+ conditional), update (+ version
check, conditional), patch (JSON Patch), delete (logical, + conditional). History lives in
``history.py``, search in ``search.py``, batch/transaction in ``transaction.py``.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from hub.fhir.canonical import canonical, loads
from hub.fhir.codes import IssueSeverity, IssueType, PreferReturn
from hub.fhir.errors import FhirError, Issue, operation_outcome
from hub.fhir.shaping import parse_elements, parse_summary, shape
from hub.fhir.validate import validate_resource
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.records import StoredResource
from hub.store.repository import Repository


def _location(req: FhirRequest, stored: StoredResource) -> str:
    return f"{req.base}/{stored.res_type}/{stored.res_id}/_history/{stored.version_id}"


def version_headers(stored: StoredResource) -> dict[str, str]:
    """``ETag`` and ``Last-Modified`` (http://hl7.org/fhir/R4/http.html#read)."""
    return {
        "ETag": stored.etag,
        "Last-Modified": stored.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


def _serve(req: FhirRequest, stored: StoredResource, status: int = 200) -> FhirResponse:
    """Serve stored bytes, shaped only when ``_summary``/``_elements`` ask for it."""
    headers = version_headers(stored)
    summary = parse_summary(req.param("_summary"))
    elements = parse_elements(req.param("_elements"))
    if (summary is None or summary.value == "false") and not elements:
        return FhirResponse(status, raw=stored.content, headers=headers)
    return FhirResponse(
        status, resource=shape(loads(stored.content or b"{}"), summary, elements), headers=headers
    )


def _written(req: FhirRequest, stored: StoredResource, status: int) -> FhirResponse:
    """The response to a write, per ``Prefer: return`` (http://hl7.org/fhir/R4/http.html#ops)."""
    headers = {**version_headers(stored), "Location": _location(req, stored)}
    pref = req.prefer_return
    if pref is PreferReturn.MINIMAL:
        return FhirResponse(status, headers=headers)
    if pref is PreferReturn.OPERATION_OUTCOME:
        oo = operation_outcome(
            [
                Issue(
                    IssueType.INFORMATIONAL,
                    f"{stored.res_type}/{stored.res_id} version {stored.version_id} stored",
                    severity=IssueSeverity.INFORMATION,
                )
            ]
        )
        return FhirResponse(status, resource=oo, headers=headers)
    return FhirResponse(status, raw=stored.content, headers=headers)


def _author(req: FhirRequest) -> str | None:
    """The creating client's organization (kept for the consent engine's author rule)."""
    org = getattr(req.context, "organization", None)
    return org if isinstance(org, str) else None


def unknown(rtype: str, rid: str) -> FhirError:
    return FhirError.not_found(f"{rtype}/{rid} is not known")


def require_visible(req: FhirRequest, stored: StoredResource) -> None:
    """Ask the gate; a refusal answers exactly like an unknown resource (404), so that a
    caller without consent learns nothing — not even that the record exists. Changing or
    deleting a Consent the caller may see also needs to be one of its keepers (403,
    ``Gate.may_change_consent``)."""
    if req.gate is None:
        return
    verdict = req.gate.check([stored])[0]
    if not verdict.permit:
        raise unknown(stored.res_type, stored.res_id)
    if (
        stored.res_type == "Consent"
        and req.method in ("PUT", "PATCH", "DELETE")
        and not req.gate.may_change_consent(verdict)
    ):
        raise FhirError.of(
            403,
            IssueType.FORBIDDEN,
            f"Consent/{stored.res_id} may be changed only by the organizations that keep it "
            "(its author, Consent.organization, its care-management permit), and never under "
            "break-glass",
            "Consent",
        )


def _current(
    req: FhirRequest, repo: Repository, rtype: str, rid: str, *, for_update: bool = False
) -> StoredResource:
    stored = repo.read(rtype, rid, for_update=for_update)
    if stored is None:
        raise unknown(rtype, rid)
    if stored.deleted:
        if req.gate is not None and not req.gate.unrestricted:
            last = repo.vread(rtype, rid, stored.version_id - 1)
            if last is not None:
                require_visible(req, last)
        raise FhirError.gone(f"{rtype}/{rid} was deleted (version {stored.version_id})")
    require_visible(req, stored)
    return stored


# -- read / vread ----------------------------------------------------------------------------


def read(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``GET [base]/[type]/[id]`` (http://hl7.org/fhir/R4/http.html#read)."""
    assert req.resource_type and req.res_id
    stored = _current(req, repo, req.resource_type, req.res_id)
    inm = req.header("if-none-match")
    if inm is not None and inm.strip() in (stored.etag, f'"{stored.version_id}"'):
        return FhirResponse(304, headers=version_headers(stored))
    return _serve(req, stored)


def vread(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``GET [base]/[type]/[id]/_history/[vid]`` (http://hl7.org/fhir/R4/http.html#vread)."""
    assert req.resource_type and req.res_id and req.version_id
    if not req.version_id.isdigit():
        raise FhirError.not_found(f"Version {req.version_id!r} is not a version id")
    stored = repo.vread(req.resource_type, req.res_id, int(req.version_id))
    if stored is None:
        current = repo.read(req.resource_type, req.res_id)
        if current is None:
            raise unknown(req.resource_type, req.res_id)
        require_visible(req, current)
        raise FhirError.not_found(
            f"{req.resource_type}/{req.res_id} has no version {req.version_id}"
        )
    current = repo.read(req.resource_type, req.res_id)
    if current is not None:
        require_visible(req, current if not current.deleted else stored)
    if stored.deleted:
        raise FhirError.gone(
            f"{req.resource_type}/{req.res_id} version {req.version_id} is a deletion"
        )
    return _serve(req, stored)


# -- create ----------------------------------------------------------------------------------


def _body(req: FhirRequest) -> dict[str, Any]:
    validate_resource(req.body, req.resource_type)
    return dict(req.body)


def _conditional_matches(
    req: FhirRequest, repo: Repository, criteria: list[tuple[str, str]]
) -> list[StoredResource]:
    from hub.resources.search import find_matches

    assert req.resource_type
    return find_matches(req, repo, req.resource_type, criteria, limit=2)


def create(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``POST [base]/[type]``; with ``If-None-Exist`` a conditional create (http.html#ccreate)."""
    resource = _body(req)
    condition = req.header("if-none-exist")
    if condition:
        from urllib.parse import parse_qsl

        found = _conditional_matches(
            req, repo, parse_qsl(condition.lstrip("?"), keep_blank_values=True)
        )
        if len(found) > 1:
            raise FhirError.precondition_failed(
                f"If-None-Exist {condition!r} matches more than one resource"
            )
        if found:
            return _written(req, found[0], 200)
    resource.pop("id", None)  # the server assigns ids on create (http.html#create)
    stored = repo.create(resource, res_id=req.assigned_id, author=_author(req))
    return _written(req, stored, 201)


# -- update ----------------------------------------------------------------------------------


def _same_content(stored: StoredResource, resource: dict[str, Any]) -> bool:
    """True when ``resource`` equals the stored one but for ``meta.versionId/lastUpdated``."""
    if stored.content is None:
        return False
    old = loads(stored.content)
    for r in (old, resource):
        meta = dict(r.get("meta") or {})
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
        if meta:
            r["meta"] = meta
        else:
            r.pop("meta", None)
    return canonical(old) == canonical(resource)


def _update_existing(
    req: FhirRequest,
    repo: Repository,
    current: StoredResource | None,
    resource: dict[str, Any],
    rid: str,
) -> FhirResponse:
    expected = req.if_match_version()
    if current is None or current.deleted:
        if expected is not None and (current is None or expected != current.version_id):
            raise FhirError.precondition_failed(
                f'If-Match W/"{expected}" but {req.resource_type}/{rid} has no such current version'
            )
        if current is None:
            return _written(
                req, repo.create(resource, res_id=rid, method="PUT", author=_author(req)), 201
            )
        return _written(req, repo.update(current, resource), 201)
    if expected is not None and expected != current.version_id:
        raise FhirError.precondition_failed(
            f'Version conflict: If-Match W/"{expected}" but the current version of '
            f"{current.reference} is {current.version_id}"
        )
    if _same_content(current, dict(resource)):
        return _written(req, current, 200)
    return _written(req, repo.update(current, resource), 200)


def update(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``PUT [base]/[type]/[id]`` (http.html#update), version-aware with ``If-Match``."""
    assert req.resource_type and req.res_id
    resource = _body(req)
    if resource.get("id") is None:
        raise FhirError.invalid(
            "The resource must carry its id for an update", f"{req.resource_type}.id"
        )
    if resource["id"] != req.res_id:
        raise FhirError.invalid(
            f"The resource id {resource['id']!r} does not match the URL id {req.res_id!r}",
            f"{req.resource_type}.id",
        )
    _check_id(req.res_id)
    current = repo.read(req.resource_type, req.res_id, for_update=True)
    if current is not None and not current.deleted:
        require_visible(req, current)
    return _update_existing(req, repo, current, resource, req.res_id)


def conditional_update(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``PUT [base]/[type]?[search]`` (http.html#cond-update)."""
    assert req.resource_type
    resource = _body(req)
    if not req.params:
        raise FhirError.invalid("A conditional update needs search parameters")
    found = _conditional_matches(req, repo, req.params)
    if len(found) > 1:
        raise FhirError.precondition_failed(
            "The conditional update's criteria match more than one resource"
        )
    if not found:
        rid = resource.get("id")
        if rid is not None:
            _check_id(rid)
            current = repo.read(req.resource_type, rid, for_update=True)
            return _update_existing(req, repo, current, resource, rid)
        return _written(
            req,
            repo.create(resource, res_id=req.assigned_id, method="PUT", author=_author(req)),
            201,
        )
    current = repo.read(found[0].res_type, found[0].res_id, for_update=True)
    assert current is not None
    if resource.get("id") not in (None, current.res_id):
        raise FhirError.invalid(
            f"The resource id {resource['id']!r} does not match the matched "
            f"resource {current.res_id!r}",
            f"{req.resource_type}.id",
        )
    return _update_existing(req, repo, current, resource, current.res_id)


def _check_id(rid: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", rid):
        raise FhirError.invalid(f"{rid!r} is not a valid FHIR id", "id")


# -- patch -----------------------------------------------------------------------------------


def _apply_patch(req: FhirRequest, repo: Repository, current: StoredResource) -> FhirResponse:
    expected = req.if_match_version()
    if expected is not None and expected != current.version_id:
        raise FhirError.precondition_failed(
            f'Version conflict: If-Match W/"{expected}" but the current version '
            f"is {current.version_id}"
        )
    ops = req.body
    if not isinstance(ops, list):
        raise FhirError.invalid("A JSON Patch document is an array of operations (RFC 6902)")
    try:
        patched = jsonpatch.JsonPatch(ops).apply(loads(current.content or b"{}"))
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        TypeError,
        KeyError,
    ) as exc:
        raise FhirError.of(
            422, IssueType.PROCESSING, f"The patch could not be applied: {exc}"
        ) from None
    if patched.get("id") != current.res_id or patched.get("resourceType") != current.res_type:
        raise FhirError.of(
            422, IssueType.PROCESSING, "A patch may not change the resource's type or id"
        )
    try:
        validate_resource(patched, current.res_type)
    except FhirError as err:
        raise FhirError(422, err.issues) from None
    if _same_content(current, dict(patched)):
        return _written(req, current, 200)
    return _written(req, repo.update(current, patched, method="PATCH"), 200)


def patch(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``PATCH [base]/[type]/[id]`` with a JSON Patch (http://hl7.org/fhir/R4/http.html#patch)."""
    assert req.resource_type and req.res_id
    return _apply_patch(
        req, repo, _current(req, repo, req.resource_type, req.res_id, for_update=True)
    )


def conditional_patch(req: FhirRequest, repo: Repository) -> FhirResponse:
    assert req.resource_type
    if not req.params:
        raise FhirError.invalid("A conditional patch needs search parameters")
    found = _conditional_matches(req, repo, req.params)
    if len(found) != 1:
        if not found:
            raise FhirError.not_found("The conditional patch's criteria match no resource")
        raise FhirError.precondition_failed(
            "The conditional patch's criteria match more than one resource"
        )
    return _apply_patch(
        req, repo, _current(req, repo, found[0].res_type, found[0].res_id, for_update=True)
    )


# -- delete ----------------------------------------------------------------------------------


def _deleted(req: FhirRequest, stored: StoredResource) -> FhirResponse:
    oo = operation_outcome(
        [
            Issue(
                IssueType.INFORMATIONAL,
                f"{stored.res_type}/{stored.res_id} deleted",
                severity=IssueSeverity.INFORMATION,
            )
        ]
    )
    return FhirResponse(
        200,
        resource=oo,
        headers={"ETag": stored.etag},
        deleted=f"{stored.res_type}/{stored.res_id}",
    )


def delete(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``DELETE [base]/[type]/[id]`` — logical; a later read answers 410 (http.html#delete)."""
    assert req.resource_type and req.res_id
    current = repo.read(req.resource_type, req.res_id, for_update=True)
    if current is None:
        raise unknown(req.resource_type, req.res_id)
    if current.deleted:
        return _deleted(req, current)
    require_visible(req, current)
    expected = req.if_match_version()
    if expected is not None and expected != current.version_id:
        raise FhirError.precondition_failed(
            f'Version conflict: If-Match W/"{expected}" but the current version '
            f"is {current.version_id}"
        )
    return _deleted(req, repo.delete(current))


def conditional_delete(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``DELETE [base]/[type]?[search]`` — single match only (http.html#cdelete)."""
    assert req.resource_type
    if not req.params:
        raise FhirError.invalid("A conditional delete needs search parameters")
    found = _conditional_matches(req, repo, req.params)
    if len(found) > 1:
        raise FhirError.precondition_failed(
            "The conditional delete's criteria match more than one resource"
        )
    if not found:
        return FhirResponse(204)
    current = repo.read(found[0].res_type, found[0].res_id, for_update=True)
    assert current is not None
    return _deleted(req, repo.delete(current))


__all__ = [
    "conditional_delete",
    "conditional_patch",
    "conditional_update",
    "create",
    "delete",
    "patch",
    "read",
    "update",
    "version_headers",
    "vread",
]
