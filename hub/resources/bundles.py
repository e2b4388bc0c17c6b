"""Bundles the server builds: searchset and history (http://hl7.org/fhir/R4/bundle.html).

Entries embed the stored canonical bytes as they are — no parse and re-serialise on the
read path — unless ``_summary``/``_elements`` ask for a part of each resource.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from hub.fhir.canonical import canonical, loads
from hub.fhir.codes import BundleType, SearchEntryMode
from hub.fhir.shaping import Summary, shape
from hub.resources.params import HistoryParams
from hub.resources.request import FhirRequest
from hub.store.records import StoredResource, micros_to_instant, now_micros
from hub.store.repository import HistoryPage


def _url(base: str, path: str, params: list[tuple[str, str]]) -> str:
    q = urlencode(params, safe=":|,/$")
    return f"{base}/{path}" + (f"?{q}" if q else "")


def _link(relation: str, url: str) -> bytes:
    return canonical({"relation": relation, "url": url})


def _resource_bytes(
    stored: StoredResource, summary: Summary | None, elements: tuple[str, ...] | None
) -> bytes:
    assert stored.content is not None
    if (summary is None or summary is Summary.FALSE) and not elements:
        return stored.content
    return canonical(shape(loads(stored.content), summary, elements))


def _assemble(
    btype: BundleType, total: int | None, links: list[bytes], entries: Iterable[bytes]
) -> bytes:
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": micros_to_instant(now_micros())},
        "type": str(btype),
    }
    if total is not None:
        head["total"] = total
    body = canonical(head)[:-1]  # drop the closing brace, append link and entry arrays
    parts = [body]
    if links:
        parts.append(b',"link":[' + b",".join(links) + b"]")
    entry_list = list(entries)
    if entry_list:
        parts.append(b',"entry":[' + b",".join(entry_list) + b"]")
    parts.append(b"}")
    return b"".join(parts)


def search_entry(
    base: str,
    stored: StoredResource,
    mode: SearchEntryMode,
    summary: Summary | None = None,
    elements: tuple[str, ...] | None = None,
) -> bytes:
    full_url = f"{base}/{stored.res_type}/{stored.res_id}"
    return (
        b'{"fullUrl":'
        + canonical(full_url)
        + b',"resource":'
        + _resource_bytes(stored, summary, elements)
        + b',"search":{"mode":"'
        + str(mode).encode()
        + b'"}}'
    )


def outcome_entry(outcome: dict[str, Any]) -> bytes:
    return b'{"resource":' + canonical(outcome) + b',"search":{"mode":"outcome"}}'


def unpaged_searchset(
    req: FhirRequest, path: str, params: list[tuple[str, str]], shown: list[StoredResource]
) -> bytes:
    """A searchset holding all of ``shown`` on one page (operations such as ``$everything``)."""
    return searchset_bundle(
        req,
        path,
        params,
        matches=shown,
        included=[],
        total=len(shown),
        offset=0,
        count=len(shown),
        has_next=False,
        summary=None,
        elements=None,
    )


def searchset_bundle(
    req: FhirRequest,
    path: str,
    params: list[tuple[str, str]],
    *,
    matches: list[StoredResource],
    included: list[StoredResource],
    total: int | None,
    offset: int,
    count: int,
    has_next: bool,
    summary: Summary | None,
    elements: tuple[str, ...] | None,
    outcome: dict[str, Any] | None = None,
) -> bytes:
    """A searchset with self/first/previous/next links (http://hl7.org/fhir/R4/search.html#paging)."""
    params = [(k, v) for k, v in params if k != "_offset"]

    def page(off: int) -> str:
        return _url(req.base, path, [*params, *([("_offset", str(off))] if off else [])])

    links = [_link("self", page(offset)), _link("first", page(0))]
    if offset > 0:
        links.append(_link("previous", page(max(0, offset - count))))
    if has_next:
        links.append(_link("next", page(offset + count)))
    entries = [search_entry(req.base, m, SearchEntryMode.MATCH, summary, elements) for m in matches]
    entries += [
        search_entry(req.base, i, SearchEntryMode.INCLUDE, summary, elements) for i in included
    ]
    if outcome is not None:
        entries.append(outcome_entry(outcome))
    return _assemble(BundleType.SEARCHSET, total, links, entries)


def _history_entry(base: str, v: StoredResource) -> bytes:
    full_url = f"{base}/{v.res_type}/{v.res_id}"
    if v.deleted:
        method, url, status = "DELETE", f"{v.res_type}/{v.res_id}", "204"
    elif v.version_id == 1:
        method, url, status = "POST", v.res_type, "201"
    else:
        method, url, status = "PUT", f"{v.res_type}/{v.res_id}", "200"
    req = canonical({"method": method, "url": url})
    resp = canonical(
        {
            "status": status,
            "etag": v.etag,
            "lastModified": micros_to_instant(v.last_updated),
        }
    )
    out = b'{"fullUrl":' + canonical(full_url) + b',"request":' + req
    if v.content is not None:
        out += b',"resource":' + v.content
    return out + b',"response":' + resp + b"}"


def history_bundle(req: FhirRequest, page: HistoryPage, hp: HistoryParams) -> bytes:
    """A history Bundle, newest first (http://hl7.org/fhir/R4/http.html#history)."""
    path = "/".join(p for p in (req.resource_type, req.res_id, "_history") if p)
    params = hp.to_params()

    def url(off: int) -> str:
        return _url(req.base, path, [*params, *([("_offset", str(off))] if off else [])])

    links = [_link("self", url(hp.offset))]
    if hp.offset > 0:
        links.append(_link("previous", url(max(0, hp.offset - hp.count))))
    if hp.offset + hp.count < page.total:
        links.append(_link("next", url(hp.offset + hp.count)))
    return _assemble(
        BundleType.HISTORY, page.total, links, (_history_entry(req.base, v) for v in page.entries)
    )
