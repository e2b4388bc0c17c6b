"""The search interaction (http://hl7.org/fhir/R4/http.html#search, search.html).

``GET [base]/[type]?…`` and ``POST [base]/[type]/_search`` (form body): parse the query
(pure, ``hub.fhir.search``), run it over the index (``hub.store.search``), and answer with a
searchset Bundle whose entries are the stored bytes.
"""

from __future__ import annotations

from dataclasses import replace

from hub.fhir.codes import IssueSeverity, IssueType
from hub.fhir.errors import Issue, operation_outcome
from hub.fhir.search import SearchQuery, parse_search
from hub.fhir.shaping import Summary
from hub.resources.bundles import searchset_bundle
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.records import StoredResource
from hub.store.repository import Repository
from hub.store.search import run_search


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
    gate = req.gate
    restrict = gate.restrict(involved_types(query, repo)) if gate is not None else None
    page = run_search(repo.conn, query, restrict_rids=restrict)
    if gate is not None and not gate.unrestricted:
        verdicts = gate.check([*page.matches, *page.included])
        allowed = {v.item.rid for v in verdicts if v.permit}
        hidden = sum(1 for m in page.matches if m.rid not in allowed)
        page = replace(
            page,
            matches=[m for m in page.matches if m.rid in allowed],
            included=[i for i in page.included if i.rid in allowed],
            total=None if page.total is None else page.total - hidden,
        )
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
    kept = [(k, v) for k, v in criteria if k != "_count"]
    query = parse_search(rtype, [*kept, ("_count", str(limit))], repo.registry)
    gate = req.gate
    restrict = gate.restrict(involved_types(query, repo)) if gate is not None else None
    return run_search(repo.conn, query, restrict_rids=restrict).matches


def involved_types(query: SearchQuery, repo: Repository) -> set[str]:
    """Every resource type a search can return or reveal: its own, chain targets, includes."""
    from hub.fhir.searchparams import SUPPORTED_TYPES

    types = {query.resource_type}
    for crit in query.criteria:
        if getattr(crit, "chain", None) is not None:
            types |= {crit.chain_type} if crit.chain_type else set(SUPPORTED_TYPES)
    for inc in (*query.includes, *query.revincludes):
        types.add(inc.source_type)
        target = getattr(inc, "target_type", None)
        if target:
            types.add(target)
        else:
            param = repo.registry.get(inc.source_type, inc.param)
            types |= set(param.target) if param and param.target else set(SUPPORTED_TYPES)
    return types
