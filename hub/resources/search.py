"""The search interaction (http://hl7.org/fhir/R4/http.html#search, search.html).

``GET [base]/[type]?…`` and ``POST [base]/[type]/_search`` (form body): parse the query
(pure, ``hub.fhir.search``), run it over the index (``hub.store.search``), and answer with a
searchset Bundle whose entries are the stored bytes.

Under the consent gate (``gated_page``) the SQL pre-filter (``Gate.restrict``) is only a
superset of what the caller may see, so the page is made from *decided* matches: candidates
are read in the query's order, chunk by chunk, and each is decided by the engine; ``_offset``
and ``_count`` count visible matches only, so the ``next`` link (``_offset`` = offset + count)
is stable and a page is never short because something was hidden. ``total`` counts only the
visible matches (search.html#total): every candidate is decided, up to ``TOTAL_SCAN_LIMIT``
candidates — beyond that the total is omitted (Bundle.total is optional) rather than
estimated from the pre-filter, which could reveal that hidden resources exist.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Select, select

from hub.fhir.codes import IssueSeverity, IssueType, SearchParamType
from hub.fhir.errors import Issue, operation_outcome
from hub.fhir.search import SearchQuery, parse_search
from hub.fhir.search.model import Criterion, ReferenceValue, TotalMode
from hub.fhir.shaping import Summary
from hub.resources.bundles import searchset_bundle
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.records import StoredResource
from hub.store.repository import Repository
from hub.store.schema import resource
from hub.store.search import (
    SearchPage,
    _filter,
    _included,
    _ordered,
    _stored,
    query_types,
    run_search,
)

#: Candidates decided per round trip, and at most for a total (see the module docstring).
SCAN_CHUNK = 200
TOTAL_SCAN_LIMIT = 10_000


def parse(
    req: FhirRequest, repo: Repository, rtype: str, params: list[tuple[str, str]]
) -> SearchQuery:
    return parse_search(
        rtype,
        params,
        repo.registry,
        lenient=req.lenient,
        max_count=req.max_count,
        default_count=req.default_count,
    )


def search(req: FhirRequest, repo: Repository) -> FhirResponse:
    """Search one resource type; the answer is a searchset Bundle."""
    assert req.resource_type
    query = parse(req, repo, req.resource_type, req.params)
    page = _page(req, repo, query)
    outcome = None
    if query.ignored:
        outcome = operation_outcome(
            [
                Issue(
                    IssueType.NOT_SUPPORTED,
                    f"Parameter {name!r} was ignored (Prefer: handling=lenient)",
                    severity=IssueSeverity.WARNING,
                    expression=(name,),
                )
                for name in query.ignored
            ]
        )
    summary = Summary(query.summary) if query.summary else None
    body = searchset_bundle(
        req,
        req.resource_type,
        query.to_params(),
        matches=page.matches,
        included=page.included,
        total=page.total,
        offset=page.offset,
        count=page.count,
        has_next=page.has_next,
        summary=summary,
        elements=query.elements or None,
        outcome=outcome,
    )
    return FhirResponse(200, raw=body)


def find_matches(
    req: FhirRequest,
    repo: Repository,
    rtype: str,
    criteria: list[tuple[str, str]],
    *,
    limit: int = 2,
) -> list[StoredResource]:
    """Resources matching ``criteria`` (conditional create/update/delete), at most ``limit``."""
    kept = [(k, v) for k, v in criteria if k not in ("_count", "_total")]
    query = parse_search(rtype, [*kept, ("_count", str(limit)), ("_total", "none")], repo.registry)
    return _page(req, repo, query).matches


def _page(req: FhirRequest, repo: Repository, query: SearchQuery) -> SearchPage:
    gate = req.gate
    if gate is None or gate.unrestricted:
        return run_search(repo.conn, query)
    restrict = gate.restrict(query_types(query, repo.registry))
    return gated_page(repo, query, gate, restrict)


def _decided_chains(
    repo: Repository, query: SearchQuery, gate: Any, restrict: Select[tuple[int]] | None
) -> SearchQuery:
    """Chains into a person's data, decided: ``subject:Patient.name=山田`` becomes
    ``subject=Patient/<id>,…`` over the targets the engine permits (not just those the SQL
    pre-filter admits), so a chain cannot probe a resource the caller may not see — e.g. an
    emergency contact without their own agreement, or a type a consent's ``class`` leaves out."""
    from hub.access.gate import GATED_TYPES

    criteria = []
    for crit in query.criteria:
        if crit.chain is None or crit.chain_type not in GATED_TYPES:
            criteria.append(crit)
            continue
        assert crit.chain_type is not None
        targets = replace(
            query,
            resource_type=crit.chain_type,
            criteria=(crit.chain,),
            sort=(),
            count=TOTAL_SCAN_LIMIT,
            offset=0,
            summary=None,
            total=TotalMode.NONE,
            includes=(),
            revincludes=(),
        )
        found = gated_page(repo, targets, gate, restrict, record=False).matches
        values = tuple(ReferenceValue(crit.chain_type, m.res_id) for m in found)
        criteria.append(
            Criterion(
                crit.code,
                SearchParamType.REFERENCE,
                values or (ReferenceValue(crit.chain_type, ""),),  # "" matches nothing
            )
        )
    return replace(query, criteria=tuple(criteria))


def gated_page(
    repo: Repository,
    query: SearchQuery,
    gate: Any,
    restrict: Select[tuple[int]] | None,
    *,
    record: bool = True,
) -> SearchPage:
    """One page of *visible* matches, their visible includes, and the visible total."""
    conn = repo.conn
    if any(c.chain is not None for c in query.criteria):
        query = _decided_chains(repo, query, gate, restrict)
    ordered = _ordered(select(resource).where(*_filter(conn, query, restrict)), query)
    want_total = query.count_only or query.total is not TotalMode.NONE
    needed = 0 if query.count_only else query.offset + query.count + 1
    visible: list[Any] = []  # verdicts that permit, in the query's order
    scanned, exhausted = 0, False
    while len(visible) < needed or (want_total and scanned < TOTAL_SCAN_LIMIT):
        rows = [_stored(r) for r in conn.execute(ordered.limit(SCAN_CHUNK).offset(scanned))]
        scanned += len(rows)
        visible.extend(v for v in gate.check(rows, record=False) if v.permit)
        if len(rows) < SCAN_CHUNK:
            exhausted = True
            break
    shown = [] if query.count_only else visible[query.offset : query.offset + query.count]
    matches = [v.item for v in shown]
    if record:
        gate.note(shown)
    included = gate.check(_included(conn, query, matches, restrict), record=record)
    return SearchPage(
        matches=matches,
        included=[v.item for v in included if v.permit],
        total=len(visible) if want_total and exhausted else None,
        offset=query.offset,
        count=query.count,
        has_next=len(visible) > query.offset + query.count,
    )
