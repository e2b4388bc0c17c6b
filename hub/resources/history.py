"""The history interactions: ``[base]/_history``, ``[type]/_history``, ``[type]/[id]/_history``.

http://hl7.org/fhir/R4/http.html#history — instance history shows every version of a resource
the caller may see; type and system history, for a consent-gated caller, only versions of
resources it may see now (``_gated_history``).
"""

from __future__ import annotations

from typing import Any

from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError
from hub.resources.interactions import require_visible, unknown
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.repository import HistoryPage, Repository


def history(req: FhirRequest, repo: Repository) -> FhirResponse:
    """``GET [base]/_history``, ``[type]/_history``, ``[type]/[id]/_history``.

    http://hl7.org/fhir/R4/http.html#history
    """
    from hub.resources.bundles import history_bundle
    from hub.resources.params import history_params

    hp = history_params(req, req.max_count, req.default_count)
    if req.resource_type and req.res_id:
        current = repo.read(req.resource_type, req.res_id)
        if current is None:
            raise unknown(req.resource_type, req.res_id)
        if not current.deleted:
            require_visible(req, current)
        elif req.gate is not None and not req.gate.unrestricted:
            last = repo.vread(req.resource_type, req.res_id, current.version_id - 1)
            if last is not None:
                require_visible(req, last)
    if req.gate is not None and not req.gate.unrestricted and not req.res_id:
        page = _gated_history(req, repo, hp.since, hp.at, hp.count, hp.offset)
    else:
        page = repo.history(
            req.resource_type,
            req.res_id,
            since=hp.since,
            at=hp.at,
            count=hp.count,
            offset=hp.offset,
        )
    return FhirResponse(200, raw=history_bundle(req, page, hp))


#: Versions decided per round trip, and at most, for a gated type or system history.
HISTORY_CHUNK = 500
HISTORY_SCAN_LIMIT = 20_000


def _gated_history(
    req: FhirRequest, repo: Repository, since: int | None, at: int | None, count: int, offset: int
) -> HistoryPage:
    """Type/system history for a gated caller: only versions of resources the caller may see
    now, deletions never (their content is gone, so nothing can permit them). ``total``,
    ``_offset`` and the ``next`` link count visible versions only — a total over all versions
    would tell the caller how much hidden data changed. Candidates are pre-filtered in SQL
    (``Gate.restrict``) and each is decided; beyond ``HISTORY_SCAN_LIMIT`` candidates the
    request is refused as too costly (narrow it with ``_since``/``_at``)."""
    from sqlalchemy import and_, false, select

    from hub.fhir.searchparams import SUPPORTED_TYPES
    from hub.store import schema as s
    from hub.store.repository import _VCOLUMNS, _record
    from hub.store.search import restrict_condition

    gate = req.gate
    if req.resource_type:  # (the system history leaves AuditEvents out)
        repo.materialize(req.resource_type)
    v = s.resource_version.c
    where = [v.deleted == false()]
    where.append(
        v.res_type == req.resource_type if req.resource_type else v.res_type != "AuditEvent"
    )
    if since is not None:
        where.append(v.last_updated >= since)
    if at is not None:
        where.append(v.last_updated <= at)
    restrict = gate.restrict([req.resource_type] if req.resource_type else SUPPORTED_TYPES)
    if restrict is not None:
        where.append(restrict_condition(s.resource_version, restrict))
    stmt = select(*_VCOLUMNS).where(and_(*where)).order_by(v.last_updated.desc(), v.vid.desc())
    visible: list[Any] = []
    scanned = 0
    while True:
        rows = [_record(r) for r in repo.conn.execute(stmt.limit(HISTORY_CHUNK).offset(scanned))]
        scanned += len(rows)
        visible.extend(x for x in gate.check(rows, record=False) if x.permit)
        if len(rows) < HISTORY_CHUNK:
            break
        if scanned >= HISTORY_SCAN_LIMIT:
            raise FhirError.of(
                400,
                IssueType.TOO_COSTLY,
                f"This history has more than {HISTORY_SCAN_LIMIT} versions to decide; "
                "narrow it with _since or _at",
            )
    shown = visible[offset : offset + count]
    gate.note(shown)
    return HistoryPage([x.item for x in shown], len(visible))


__all__ = ["HISTORY_CHUNK", "HISTORY_SCAN_LIMIT", "history"]
