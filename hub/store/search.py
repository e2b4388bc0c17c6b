"""Run a ``SearchQuery`` against the search index (SQLAlchemy Core; SQLite and PostgreSQL).

One SELECT over ``resource`` with each criterion an ``IN``/``NOT IN`` subquery against the
index table of its parameter (http://hl7.org/fhir/R4/search.html), ordered by ``_sort``
(#sort) with ``rid`` as the tiebreak, paged by offset + count (fetching one extra row to know
whether there is a next page, http://hl7.org/fhir/R4/http.html#paging), then
``_include``/``_revinclude`` (#include, #revinclude) for the page.

``_total``: counted (a separate COUNT over the same filter) unless ``_total=none``;
``estimate`` counts too. ``_summary=count`` always counts and returns no matches.

``restrict_rids`` — the rids the caller may see — bounds the matches, the included resources
and the targets of chained parameters (#chaining), so that no query can reveal a resource
outside it. It is either a SELECT of rids (``rid IN (…)``) or a ``RidRestriction``: a condition
correlated to the row being filtered (``EXISTS (… WHERE c.rid = resource.rid)``), which both
SQLite and PostgreSQL evaluate per candidate row with index lookups instead of materialising
every permitted rid first (the consent gate's form, ``hub.access.gate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Row,
    Select,
    and_,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import UnaryExpression

from hub.fhir.codes import SearchParamType
from hub.fhir.search.model import (
    ID_PARAM,
    LAST_UPDATED_PARAM,
    Criterion,
    DateValue,
    Include,
    MissingValue,
    Modifier,
    Prefix,
    ReferenceValue,
    SearchQuery,
    SortKey,
    StringValue,
    TokenValue,
    TotalMode,
)
from hub.fhir.searchparams import SUPPORTED_TYPES, SearchParamRegistry, default_registry
from hub.store import backlog
from hub.store.records import StoredResource
from hub.store.schema import idx_date, idx_reference, idx_string, idx_token, resource

__all__ = [
    "Restriction",
    "RidRestriction",
    "SearchPage",
    "count_search",
    "match_rids",
    "restrict_condition",
    "run_search",
]

#: the largest code point: ``p <= v < p + MAX_CHAR`` is "v starts with p" in binary collation
MAX_CHAR = "\U0010ffff"


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a search's results (http://hl7.org/fhir/R4/search.html#return)."""

    matches: list[StoredResource]  # this page, in order
    included: list[StoredResource]  # _include/_revinclude results (deduplicated, not in matches)
    total: int | None  # None when _total=none
    offset: int
    count: int
    has_next: bool


# Value predicates ---------------------------------------------------------------------------


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts_with(column: ColumnElement[str], prefix: str, dialect: str) -> ColumnElement[bool]:
    """Index-backed starts-with: a binary range on SQLite, ``LIKE 'p%'`` on PostgreSQL.

    SQLite compares text by bytes (code point order), so the range uses ``ix_*_lookup``;
    PostgreSQL uses ``ix_string_prefix`` (``varchar_pattern_ops``) for a constant LIKE.
    """
    if dialect == "sqlite":
        return and_(column >= prefix, column < prefix + MAX_CHAR)
    return column.like(_like_escape(prefix) + "%", escape="\\")


def _contains(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    return column.like("%" + _like_escape(text) + "%", escape="\\")


def _string_match(v: StringValue, mod: Modifier | None, dialect: str) -> ColumnElement[bool]:
    """http://hl7.org/fhir/R4/search.html#string"""
    if mod is Modifier.EXACT:
        # value = normalize(exact) for every row, so this narrows by the lookup index
        return and_(idx_string.c.value == v.normalized, idx_string.c.exact == v.value)
    if mod is Modifier.CONTAINS:
        return _contains(idx_string.c.value, v.normalized)
    return _starts_with(idx_string.c.value, v.normalized, dialect)


def _uri_match(v: StringValue, mod: Modifier | None, dialect: str) -> ColumnElement[bool]:
    """Exact, or ``:below`` a prefix (http://hl7.org/fhir/R4/search.html#uri), on ``exact``."""
    if mod is Modifier.BELOW:
        return and_(
            _starts_with(idx_string.c.value, v.normalized, dialect),
            _starts_with(idx_string.c.exact, v.value, dialect),
        )
    return and_(idx_string.c.value == v.normalized, idx_string.c.exact == v.value)


def _token_match(v: TokenValue) -> ColumnElement[bool]:
    """``code``, ``system|code``, ``|code``, ``system|`` (http://hl7.org/fhir/R4/search.html#token)."""
    conds: list[ColumnElement[bool]] = []
    if v.code is not None:
        conds.append(idx_token.c.value == v.code)
    if v.system is not None:
        conds.append(idx_token.c.system == v.system)
    return and_(*conds)


def _date_match(
    low: ColumnElement[int], high: ColumnElement[int], v: DateValue
) -> ColumnElement[bool]:
    """The prefix table of http://hl7.org/fhir/R4/search.html#prefix over ranges.

    The search range is ``[v.low, v.high]``, the indexed one ``[low, high]`` (inclusive µs).
    """
    contained = and_(low >= v.low, high <= v.high)
    match v.prefix:
        case Prefix.EQ:
            return contained
        case Prefix.NE:
            return or_(low < v.low, high > v.high)
        case Prefix.GT:
            return high > v.high
        case Prefix.LT:
            return low < v.low
        case Prefix.GE:
            return or_(high > v.high, contained)
        case Prefix.LE:
            return or_(low < v.low, contained)
        case Prefix.SA:
            return low > v.high
        case Prefix.EB:
            return high < v.low
        case Prefix.AP:
            slack = (v.high - v.low + 1) // 10
            return and_(low <= v.high + slack, high >= v.low - slack)
    raise AssertionError(v.prefix)  # pragma: no cover


def _reference_match(v: ReferenceValue) -> ColumnElement[bool]:
    """``Type/id``, ``id``, absolute URL (http://hl7.org/fhir/R4/search.html#reference)."""
    if v.url is not None:
        return idx_reference.c.url == v.url
    if v.target_type is None:
        return idx_reference.c.target_id == v.target_id
    return and_(
        idx_reference.c.target_type == v.target_type, idx_reference.c.target_id == v.target_id
    )


@dataclass(frozen=True, slots=True)
class RidRestriction:
    """A restriction correlated to the filtered row: ``condition(table)`` is the condition on a
    row of ``table`` (``resource``, an alias of it, or ``resource_version``: anything with
    ``rid`` and ``res_type`` columns) that holds exactly for the rows the caller may consider."""

    condition: Callable[[FromClause], ColumnElement[bool]]


#: What bounds a search: a SELECT of the permitted rids, or a correlated condition.
Restriction = Select[tuple[int]] | RidRestriction


def restrict_condition(table: FromClause, restrict: Restriction) -> ColumnElement[bool]:
    """The condition that keeps ``table``'s rows inside ``restrict``."""
    if isinstance(restrict, RidRestriction):
        return restrict.condition(table)
    # the caller's SELECT exactly as written: never auto-correlated into an enclosing query
    # (``SELECT resource.rid FROM resource, other WHERE …`` would otherwise lose its ``resource``)
    return table.c.rid.in_(restrict.correlate(None))


# Criteria -------------------------------------------------------------------------------------


class _Builder:
    """Turns criteria into conditions on a ``resource`` (alias) of one resource type."""

    def __init__(self, dialect: str, restrict: Restriction | None) -> None:
        self.dialect = dialect
        self.restrict = restrict

    def conditions(
        self, res: FromClause, res_type: str, criteria: Iterable[Criterion]
    ) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [res.c.res_type == res_type, res.c.deleted == false()]
        if self.restrict is not None:
            conds.append(restrict_condition(res, self.restrict))
        conds.extend(self.criterion(res, res_type, c) for c in criteria)
        return conds

    def criterion(self, res: FromClause, res_type: str, crit: Criterion) -> ColumnElement[bool]:
        if crit.code == ID_PARAM:
            return self.resource_id(res, crit)
        if crit.code == LAST_UPDATED_PARAM:
            return self.last_updated(res, crit)
        table = {
            SearchParamType.STRING: idx_string,
            SearchParamType.TOKEN: idx_token,
            SearchParamType.DATE: idx_date,
            SearchParamType.REFERENCE: idx_reference,
            SearchParamType.URI: idx_string,  # uri values live in the string index
        }[crit.type]

        def rids(*where: ColumnElement[bool]) -> Select[tuple[int]]:
            return select(table.c.rid).where(
                table.c.res_type == res_type, table.c.code == crit.code, *where
            )

        if crit.modifier is Modifier.MISSING:
            return or_(*(self.missing(res.c.rid, rids(), v) for v in crit.values))
        if crit.chain is not None:
            return res.c.rid.in_(rids(*self.chain(crit)))
        alternatives = or_(*(self.value(crit, v) for v in crit.values))
        if crit.modifier is Modifier.NOT:
            # :not — no value of the element matches (resources without it included)
            return res.c.rid.not_in(rids(alternatives))
        return res.c.rid.in_(rids(alternatives))

    @staticmethod
    def missing(
        rid: ColumnElement[int], rids: Select[tuple[int]], v: object
    ) -> ColumnElement[bool]:
        """http://hl7.org/fhir/R4/search.html#missing"""
        assert isinstance(v, MissingValue)
        return rid.not_in(rids) if v.missing else rid.in_(rids)

    def value(self, crit: Criterion, v: object) -> ColumnElement[bool]:
        if isinstance(v, StringValue):
            if crit.type is SearchParamType.URI:
                return _uri_match(v, crit.modifier, self.dialect)
            if crit.modifier is Modifier.TEXT:
                return _contains(idx_token.c.text, v.normalized)
            return _string_match(v, crit.modifier, self.dialect)
        if isinstance(v, TokenValue):
            return _token_match(v)
        if isinstance(v, DateValue):
            return _date_match(idx_date.c.low, idx_date.c.high, v)
        if isinstance(v, ReferenceValue):
            return _reference_match(v)
        raise AssertionError(v)  # pragma: no cover

    def chain(self, crit: Criterion) -> list[ColumnElement[bool]]:
        """``ref:Type.param=v``: the reference points at a visible ``Type`` matching ``param=v``."""
        assert crit.chain is not None and crit.chain_type is not None
        target = resource.alias("chain_target")
        ids = select(target.c.res_id).where(*self.conditions(target, crit.chain_type, [crit.chain]))
        return [idx_reference.c.target_type == crit.chain_type, idx_reference.c.target_id.in_(ids)]

    @staticmethod
    def resource_id(res: FromClause, crit: Criterion) -> ColumnElement[bool]:
        """``_id`` on ``resource.res_id`` (http://hl7.org/fhir/R4/search.html#id)."""
        if crit.modifier is Modifier.MISSING:
            # every resource has an id
            return or_(*(false() if v.missing else true() for v in _missing_values(crit)))
        ids = [v.code for v in crit.values if isinstance(v, TokenValue) and v.code is not None]
        if crit.modifier is Modifier.NOT:
            return res.c.res_id.not_in(ids)
        return res.c.res_id.in_(ids)

    @staticmethod
    def last_updated(res: FromClause, crit: Criterion) -> ColumnElement[bool]:
        """``_lastUpdated`` on ``resource.last_updated`` (search.html#lastUpdated)."""
        if crit.modifier is Modifier.MISSING:
            return or_(*(false() if v.missing else true() for v in _missing_values(crit)))
        col = res.c.last_updated
        return or_(*(_date_match(col, col, v) for v in crit.values if isinstance(v, DateValue)))


def _missing_values(crit: Criterion) -> list[MissingValue]:
    return [v for v in crit.values if isinstance(v, MissingValue)]


# Ordering ---------------------------------------------------------------------------------------


def _ordered(stmt: Select[Any], query: SearchQuery) -> Select[Any]:
    """Order by ``_sort`` (http://hl7.org/fhir/R4/search.html#sort), then ``rid``.

    A multi-valued parameter sorts by its least value ascending and its greatest descending
    (dates: least ``low`` / greatest ``high``; strings: the normalised value; tokens: the code);
    resources without a value sort last either way. Each such key is an outer join to one
    aggregate over the parameter's index rows (a single pass over ``ix_*_lookup``/``ix_date_*``
    rather than a correlated subquery per row). Default: ``_lastUpdated`` descending.
    """
    keys = list(query.sort) or [SortKey(LAST_UPDATED_PARAM, SearchParamType.DATE, True)]
    source: FromClause = resource
    order: list[UnaryExpression[Any]] = []
    for n, key in enumerate(keys):
        expr: ColumnElement[Any]
        if key.code == ID_PARAM:
            expr = resource.c.res_id
        elif key.code == LAST_UPDATED_PARAM:
            expr = resource.c.last_updated
        else:
            agg = func.max if key.descending else func.min
            if key.type is SearchParamType.DATE:
                table, column = idx_date, (idx_date.c.high if key.descending else idx_date.c.low)
            elif key.type is SearchParamType.STRING:
                table, column = idx_string, idx_string.c.value
            else:
                table, column = idx_token, idx_token.c.value
            values = (
                select(table.c.rid, agg(column).label("sort_value"))
                .where(table.c.res_type == query.resource_type, table.c.code == key.code)
                .group_by(table.c.rid)
                .subquery(f"sort_{n}")
            )
            source = source.outerjoin(values, values.c.rid == resource.c.rid)
            expr = values.c.sort_value
        order.append(expr.desc().nulls_last() if key.descending else expr.asc().nulls_last())
    return stmt.select_from(source).order_by(*order, resource.c.rid.asc())


# Running --------------------------------------------------------------------------------------


def _stored(row: Row[Any]) -> StoredResource:
    m = row._mapping
    return StoredResource(
        rid=m["rid"],
        res_type=m["res_type"],
        res_id=m["res_id"],
        version_id=m["version_id"],
        last_updated=m["last_updated"],
        deleted=bool(m["deleted"]),
        content=m["content"],
    )


def query_types(query: SearchQuery, registry: SearchParamRegistry | None = None) -> set[str]:
    """Every resource type a search can return or reveal: its own, chain targets, include
    sources and targets (an open chain, or an include whose parameter names no target: every
    supported type). The gate pre-filters these (``Gate.restrict``); a deferred one among them
    is caught up first (``hub.store.backlog``)."""
    registry = registry or default_registry()
    types = {query.resource_type}
    for crit in query.criteria:
        if crit.chain is not None:
            types |= {crit.chain_type} if crit.chain_type else set(SUPPORTED_TYPES)
    for inc in (*query.includes, *query.revincludes):
        types.add(inc.source_type)
        if inc.target_type:
            types.add(inc.target_type)
        else:
            param = registry.get(inc.source_type, inc.param)
            types |= set(param.target) if param and param.target else set(SUPPORTED_TYPES)
    return types


def _filter(
    conn: Connection, query: SearchQuery, restrict_rids: Restriction | None
) -> list[ColumnElement[bool]]:
    # a search that could return a deferred-index type sees every one committed before it
    backlog.ensure(conn, query_types(query))
    builder = _Builder(conn.dialect.name, restrict_rids)
    return builder.conditions(resource, query.resource_type, query.criteria)


def match_rids(
    conn: Connection, query: SearchQuery, *, restrict_rids: Restriction | None = None
) -> Select[tuple[int]]:
    """A SELECT of the rids matching the query's criteria (no order, no paging)."""
    return select(resource.c.rid).where(*_filter(conn, query, restrict_rids))


def count_search(
    conn: Connection, query: SearchQuery, *, restrict_rids: Restriction | None = None
) -> int:
    """The number of resources matching the query (``_total=accurate``, search.html#total)."""
    return _count(conn, _filter(conn, query, restrict_rids))


def _count(conn: Connection, conditions: list[ColumnElement[bool]]) -> int:
    stmt = select(func.count()).select_from(resource).where(*conditions)
    return int(conn.execute(stmt).scalar_one())


def run_search(
    conn: Connection, query: SearchQuery, *, restrict_rids: Restriction | None = None
) -> SearchPage:
    """One page of matches, its included resources and the total (search.html#return)."""
    conditions = _filter(conn, query, restrict_rids)
    matches: list[StoredResource] = []
    has_next = False
    if not query.count_only and query.count > 0:
        stmt = (
            _ordered(select(resource).where(*conditions), query)
            .limit(query.count + 1)
            .offset(query.offset)
        )
        rows = [_stored(r) for r in conn.execute(stmt)]
        has_next = len(rows) > query.count
        matches = rows[: query.count]
    total: int | None = None
    if query.count_only or query.total is not TotalMode.NONE:
        total = _count(conn, conditions)
    included = _included(conn, query, matches, restrict_rids)
    return SearchPage(
        matches=matches,
        included=included,
        total=total,
        offset=query.offset,
        count=query.count,
        has_next=has_next,
    )


# _include / _revinclude ------------------------------------------------------------------------


def _include_stmt(inc: Include, sources: Sequence[int]) -> Select[tuple[int]]:
    """rids that ``inc`` reaches from ``sources`` (http://hl7.org/fhir/R4/search.html#include)."""
    ref = idx_reference
    where: list[ColumnElement[bool]] = [ref.c.res_type == inc.source_type, ref.c.code == inc.param]
    if inc.target_type is not None:
        where.append(ref.c.target_type == inc.target_type)
    if inc.reverse:
        # resources whose param points at a source
        src = resource.alias("rev_source")
        joined = ref.join(
            src, and_(src.c.res_type == ref.c.target_type, src.c.res_id == ref.c.target_id)
        )
        return select(ref.c.rid).select_from(joined).where(src.c.rid.in_(sources), *where)
    tgt = resource.alias("inc_target")
    joined = ref.join(
        tgt, and_(tgt.c.res_type == ref.c.target_type, tgt.c.res_id == ref.c.target_id)
    )
    return select(tgt.c.rid).select_from(joined).where(ref.c.rid.in_(sources), *where)


def _fetch_included(
    conn: Connection,
    incs: Sequence[Include],
    sources: Sequence[int],
    restrict: Restriction | None,
) -> list[StoredResource]:
    if not incs or not sources:
        return []
    reached = [resource.c.rid.in_(_include_stmt(inc, sources)) for inc in incs]
    where: list[ColumnElement[bool]] = [or_(*reached), resource.c.deleted == false()]
    if restrict is not None:
        where.append(restrict_condition(resource, restrict))
    stmt = select(resource).where(*where).order_by(resource.c.rid)
    return [_stored(r) for r in conn.execute(stmt)]


def _included(
    conn: Connection,
    query: SearchQuery,
    matches: list[StoredResource],
    restrict: Restriction | None,
) -> list[StoredResource]:
    """``_include``/``_revinclude`` over the page, then ``:iterate`` ones once more over
    what that included; deduplicated and never repeating a match."""
    incs = list(query.includes + query.revincludes)
    seen = {m.rid for m in matches}
    out: list[StoredResource] = []
    sources = [m.rid for m in matches]
    for level_incs in (incs, [i for i in incs if i.iterate]):
        found = [
            r for r in _fetch_included(conn, level_incs, sources, restrict) if r.rid not in seen
        ]
        seen.update(r.rid for r in found)
        out.extend(found)
        sources = [r.rid for r in found]
    return out
