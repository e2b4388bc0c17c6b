"""Batch and transaction Bundles at ``POST [base]`` (http://hl7.org/fhir/R4/http.html#transaction).

* transaction: all entries in one database transaction — all succeed or none is stored;
  processed in the order DELETE, POST, PUT/PATCH, GET/HEAD (http.html#trules); ``urn:uuid:``
  fullUrls of created (and conditionally matched) resources are resolved in every reference;
  ``ifNoneExist``, ``ifMatch``, conditional URLs are honoured.
* batch: each entry on its own (a savepoint each); a failing entry answers its own
  OperationOutcome and the others still apply.
Each entry goes through ``routes.dispatch`` — the same path as a direct HTTP request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hub.fhir.canonical import loads
from hub.fhir.codes import BundleType, HttpVerb, IssueType
from hub.fhir.errors import FhirError, Issue, operation_outcome
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.repository import Repository, new_id

_ORDER = {
    HttpVerb.DELETE: 0,
    HttpVerb.POST: 1,
    HttpVerb.PUT: 2,
    HttpVerb.PATCH: 2,
    HttpVerb.GET: 3,
    HttpVerb.HEAD: 3,
}
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    422: "Unprocessable Entity",
}


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code, '')}".strip()


def _entry_error(index: int, msg: str, element: str = "") -> FhirError:
    return FhirError.invalid(msg, f"Bundle.entry[{index}]" + (f".{element}" if element else ""))


def _parse_entry(
    index: int, entry: Any
) -> tuple[HttpVerb, str, list[tuple[str, str]], dict[str, Any]]:
    if not isinstance(entry, dict):
        raise _entry_error(index, "An entry must be an object")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise _entry_error(index, "entry.request is required in a batch or transaction", "request")
    try:
        method = HttpVerb(str(request.get("method", "")))
    except ValueError:
        raise _entry_error(
            index, f"Unknown method {request.get('method')!r}", "request.method"
        ) from None
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise _entry_error(index, "entry.request.url is required", "request.url")
    parts = urlsplit(url)
    path = parts.path
    if parts.scheme:  # absolute URL: keep what follows the FHIR base
        marker = path.find("/fhir/")
        path = path[marker + len("/fhir/") :] if marker >= 0 else path
    return method, path.strip("/"), parse_qsl(parts.query, keep_blank_values=True), request


def _replace_refs(node: Any, mapping: dict[str, str]) -> Any:
    """Rewrite ``Reference.reference`` values (and uri strings) that are resolved fullUrls."""
    if isinstance(node, dict):
        return {
            k: (
                mapping.get(v, v)
                if k in ("reference", "url") and isinstance(v, str)
                else _replace_refs(v, mapping)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_replace_refs(v, mapping) for v in node]
    return node


def _entry_response(resp: FhirResponse) -> dict[str, Any]:
    out: dict[str, Any] = {"status": _status(resp.status)}
    if "Location" in resp.headers:
        out["location"] = resp.headers["Location"]
    if "ETag" in resp.headers:
        out["etag"] = resp.headers["ETag"]
    if "Last-Modified" in resp.headers:
        out["lastModified"] = resp.headers["Last-Modified"]
    return out


def _entry_result(resp: FhirResponse, req: FhirRequest) -> dict[str, Any]:
    entry: dict[str, Any] = {"response": _entry_response(resp)}
    body: Any = resp.resource
    if body is None and resp.raw is not None:
        body = loads(resp.raw)
    if body is not None:
        if body.get("resourceType") == "OperationOutcome" and resp.status < 300:
            entry["response"]["outcome"] = body
        else:
            entry["resource"] = body
    if (loc := resp.headers.get("Location")) is not None:
        entry["fullUrl"] = loc.split("/_history/")[0]
    return entry


def _sub_request(
    req: FhirRequest,
    method: HttpVerb,
    path: str,
    params: list[tuple[str, str]],
    request: dict[str, Any],
    body: Any,
) -> FhirRequest:
    headers: dict[str, str] = {}
    for key, header in (
        ("ifNoneExist", "if-none-exist"),
        ("ifMatch", "if-match"),
        ("ifNoneMatch", "if-none-match"),
        ("ifModifiedSince", "if-modified-since"),
    ):
        if isinstance(request.get(key), str):
            headers[header] = request[key]
    if (prefer := req.header("prefer")) is not None:
        headers["prefer"] = prefer
    return FhirRequest(
        method=str(method),
        base=req.base,
        params=params,
        headers=headers,
        body=body,
        context=req.context,
        max_count=req.max_count,
        default_count=req.default_count,
        consent_gate=req.consent_gate,
        certificate_valid_months=req.certificate_valid_months,
    )


def _run(sub: FhirRequest, path: str, repo: Repository) -> FhirResponse:
    from hub.resources.routes import apply_args, dispatch, match

    route, args = match(sub.method, path)
    if route.endpoint == "bundle":
        raise FhirError.invalid("Nested batch/transaction Bundles are not supported")
    apply_args(sub, args)
    return dispatch(route, sub, repo)


def process_bundle(req: FhirRequest, repo: Repository) -> FhirResponse:
    """Entry point for ``POST [base]`` with a Bundle of type batch or transaction."""
    bundle = req.body
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError.invalid("POST to the base URL takes a Bundle", "Bundle")
    btype = bundle.get("type")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError.invalid("Bundle.entry must be an array", "Bundle.entry")
    if btype == BundleType.TRANSACTION:
        return _transaction(req, repo, entries)
    if btype == BundleType.BATCH:
        return _batch(req, repo, entries)
    raise FhirError.invalid(
        f"Bundle.type must be batch or transaction, not {btype!r}", "Bundle.type"
    )


def _batch(req: FhirRequest, repo: Repository, entries: list[Any]) -> FhirResponse:
    results: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        try:
            with repo.conn.begin_nested():
                method, path, params, request = _parse_entry(index, entry)
                sub = _sub_request(req, method, path, params, request, entry.get("resource"))
                results.append(_entry_result(_run(sub, path, repo), sub))
        except FhirError as err:
            results.append({"response": {"status": _status(err.status), "outcome": err.outcome}})
    return FhirResponse(
        200, resource={"resourceType": "Bundle", "type": "batch-response", "entry": results}
    )


def _transaction(req: FhirRequest, repo: Repository, entries: list[Any]) -> FhirResponse:
    from hub.resources.search import find_matches

    parsed = [_parse_entry(i, e) for i, e in enumerate(entries)]
    full_urls: dict[str, int] = {}
    for index, entry in enumerate(entries):
        fu = entry.get("fullUrl")
        if isinstance(fu, str):
            if fu in full_urls:
                raise _entry_error(index, f"fullUrl {fu!r} appears twice", "fullUrl")
            full_urls[fu] = index
    # Resolve ids for created and conditionally matched entries before anything is written.
    mapping: dict[str, str] = {}
    assigned: dict[int, str] = {}
    for index, (method, path, params, request) in enumerate(parsed):
        resource = entries[index].get("resource")
        fu = entries[index].get("fullUrl")
        rtype = path.split("/")[0]
        if method is HttpVerb.POST and isinstance(resource, dict):
            existing = None
            if isinstance(request.get("ifNoneExist"), str):
                found = find_matches(
                    req, repo, rtype, parse_qsl(request["ifNoneExist"].lstrip("?")), limit=2
                )
                if len(found) > 1:
                    raise FhirError(
                        412,
                        [
                            Issue(
                                IssueType.MULTIPLE_MATCHES,
                                f"ifNoneExist of entry {index} matches more than one resource",
                                expression=(f"Bundle.entry[{index}].request.ifNoneExist",),
                            )
                        ],
                    )
                existing = found[0].res_id if found else None
            rid = existing or new_id()
            if existing is None:
                assigned[index] = rid
            if isinstance(fu, str):
                mapping[fu] = f"{rtype}/{rid}"
        elif method is HttpVerb.PUT and isinstance(fu, str) and "/" not in path and params:
            found = find_matches(req, repo, rtype, params, limit=2)
            if len(found) == 1:
                mapping[fu] = f"{rtype}/{found[0].res_id}"
            elif not found:
                assigned[index] = new_id()
                mapping[fu] = f"{rtype}/{assigned[index]}"
    order = sorted(range(len(parsed)), key=lambda k: (_ORDER[parsed[k][0]], k))
    results: dict[int, dict[str, Any]] = {}
    for index in order:
        method, path, params, request = parsed[index]
        body = entries[index].get("resource")
        if body is not None and mapping:
            body = _replace_refs(body, mapping)
        if (
            method is HttpVerb.PUT
            and "/" not in path
            and params
            and index in assigned
            and isinstance(body, dict)
        ):
            body = {**body, "id": assigned[index]}
        sub = _sub_request(req, method, path, params, request, body)
        sub.assigned_id = assigned.get(index)
        try:
            resp = _run(sub, path, repo)
        except FhirError as err:
            issues = [
                Issue(
                    i.code,
                    f"Bundle.entry[{index}]: {i.diagnostics}",
                    i.severity,
                    i.expression or (f"Bundle.entry[{index}]",),
                )
                for i in err.issues
            ]
            raise FhirError(err.status, issues) from None
        results[index] = _entry_result(resp, sub)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [results[k] for k in range(len(parsed))],
    }
    return FhirResponse(200, resource=bundle)


__all__ = ["operation_outcome", "process_bundle"]
