"""The parsed form of a FHIR search: ``SearchQuery`` and its parts (pure values).

A ``SearchQuery`` is what ``hub.fhir.search.parse.parse_search`` makes of a query string and
what ``hub.store.search.run_search`` turns into SQL. It is a frozen dataclass of tuples, so it
is hashable and comparable, and ``to_params()`` gives back a canonical, re-parseable
parameter list (for the Bundle's ``self``/``next``/``previous`` links,
http://hl7.org/fhir/R4/http.html#paging).

See http://hl7.org/fhir/R4/search.html for the semantics each part carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from hub.fhir.codes import SearchParamType
from hub.fhir.errors import Issue

#: the µs bounds the index uses for open-ended ranges (0001-01-01 … 9999-12-31T23:59:59.999999)
MIN_MICROS = -62135596800000000
MAX_MICROS = 253402300799999999

#: the search parameters served from the ``resource`` table rather than an index table
#: (http://hl7.org/fhir/R4/search.html#id, #lastUpdated)
ID_PARAM = "_id"
LAST_UPDATED_PARAM = "_lastUpdated"


class Modifier(StrEnum):
    """Search modifiers the hub supports (http://hl7.org/fhir/R4/search.html#modifiers).

    The reference type modifier (``subject:Patient``) is not a ``Modifier``: it is folded
    into the values (``ReferenceValue.target_type``) or into ``Criterion.chain_type``.
    """

    MISSING = "missing"
    EXACT = "exact"
    CONTAINS = "contains"
    NOT = "not"
    TEXT = "text"
    BELOW = "below"


class Prefix(StrEnum):
    """Comparison prefixes for ordered types (http://hl7.org/fhir/R4/search.html#prefix)."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    LT = "lt"
    GE = "ge"
    LE = "le"
    SA = "sa"
    EB = "eb"
    AP = "ap"


class SummaryMode(StrEnum):
    """``_summary`` (http://hl7.org/fhir/R4/search.html#summary)."""

    TRUE = "true"
    TEXT = "text"
    DATA = "data"
    COUNT = "count"
    FALSE = "false"


class TotalMode(StrEnum):
    """``_total`` (http://hl7.org/fhir/R4/search.html#total)."""

    NONE = "none"
    ESTIMATE = "estimate"
    ACCURATE = "accurate"


# Escaping, http://hl7.org/fhir/R4/search.html#escaping --------------------------------------

_SPECIAL = "\\,|$"


def escape(value: str) -> str:
    """Escape ``\\``, ``,``, ``|`` and ``$`` so that the value parses back to itself."""
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in value)


# Values (one alternative of a comma-separated OR list) -----------------------------------------


@dataclass(frozen=True, slots=True)
class StringValue:
    """A string search value (also the value of token ``:text``)."""

    value: str  # as given (unescaped), for :exact
    normalized: str  # ``normalize_string(value)``, for the default starts-with and :contains

    def encode(self) -> str:
        return escape(self.value)


@dataclass(frozen=True, slots=True)
class TokenValue:
    """``code`` (system None: any), ``system|code``, ``|code`` (system ""), ``system|``."""

    system: str | None
    code: str | None

    def encode(self) -> str:
        code = escape(self.code or "")
        return code if self.system is None else f"{escape(self.system)}|{code}"


@dataclass(frozen=True, slots=True)
class DateValue:
    """A prefixed (partial) date: ``value`` as given, ``[low, high]`` its inclusive µs range."""

    prefix: Prefix
    value: str
    low: int
    high: int

    def encode(self) -> str:
        return escape(self.value if self.prefix is Prefix.EQ else f"{self.prefix}{self.value}")


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    """``Type/id`` (both set), ``id`` (type None: any allowed type), or an absolute ``url``."""

    target_type: str | None = None
    target_id: str | None = None
    url: str | None = None

    def encode(self) -> str:
        if self.url is not None:
            return escape(self.url)
        ref = self.target_id or ""
        return escape(f"{self.target_type}/{ref}" if self.target_type else ref)


@dataclass(frozen=True, slots=True)
class MissingValue:
    """``:missing=true|false`` (http://hl7.org/fhir/R4/search.html#missing)."""

    missing: bool

    def encode(self) -> str:
        return "true" if self.missing else "false"


SearchValue = StringValue | TokenValue | DateValue | ReferenceValue | MissingValue


# Criteria and result parameters -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Criterion:
    """One search parameter occurrence: its values are ORed; criteria of a query are ANDed.

    For a chained parameter (``subject:Patient.name=山田``, one level,
    http://hl7.org/fhir/R4/search.html#chaining) ``code`` is the reference parameter,
    ``chain_type`` the target type and ``chain`` the criterion applied to the targets.
    """

    code: str
    type: SearchParamType
    values: tuple[SearchValue, ...]
    modifier: Modifier | None = None
    chain_type: str | None = None
    chain: Criterion | None = None

    @property
    def key(self) -> str:
        """The parameter as written in a query (``name:exact``, ``subject:Patient.name``)."""
        if self.chain is not None:
            return f"{self.code}:{self.chain_type}.{self.chain.key}"
        return f"{self.code}:{self.modifier}" if self.modifier else self.code

    def encode_values(self) -> str:
        if self.chain is not None:
            return self.chain.encode_values()
        return ",".join(v.encode() for v in self.values)


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``_sort`` key (http://hl7.org/fhir/R4/search.html#sort)."""

    code: str
    type: SearchParamType
    descending: bool = False

    def encode(self) -> str:
        return f"-{self.code}" if self.descending else self.code


@dataclass(frozen=True, slots=True)
class Include:
    """``_include``/``_revinclude`` = ``source_type:param[:target_type]`` (+ ``:iterate``).

    See http://hl7.org/fhir/R4/search.html#include and #revinclude.
    """

    source_type: str
    param: str
    target_type: str | None = None
    iterate: bool = False
    reverse: bool = False

    @property
    def name(self) -> str:
        base = "_revinclude" if self.reverse else "_include"
        return f"{base}:iterate" if self.iterate else base

    def encode(self) -> str:
        value = f"{self.source_type}:{self.param}"
        return f"{value}:{self.target_type}" if self.target_type else value


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search over one resource type (http://hl7.org/fhir/R4/search.html).

    ``criteria`` are ANDed and kept in a canonical order; ``count``/``offset`` page the
    result. ``ignored`` names the parameters dropped under ``handling=lenient`` (as written,
    e.g. ``name:bogus``) and ``warnings`` explains each as a warning ``Issue`` for the Bundle's
    OperationOutcome; neither is part of equality (they do not change what the query means).
    """

    resource_type: str
    criteria: tuple[Criterion, ...] = ()
    sort: tuple[SortKey, ...] = ()
    count: int = 20
    offset: int = 0
    summary: SummaryMode | None = None
    elements: tuple[str, ...] = ()
    total: TotalMode | None = None
    includes: tuple[Include, ...] = ()
    revincludes: tuple[Include, ...] = ()
    ignored: tuple[str, ...] = field(default=(), compare=False)
    warnings: tuple[Issue, ...] = field(default=(), compare=False)

    def to_params(self) -> list[tuple[str, str]]:
        """Canonical parameter list; ``parse_search(type, q.to_params(), …) == q``."""
        params = [(c.key, c.encode_values()) for c in self.criteria]
        params += [(inc.name, inc.encode()) for inc in self.includes + self.revincludes]
        if self.sort:
            params.append(("_sort", ",".join(k.encode() for k in self.sort)))
        if self.summary is not None:
            params.append(("_summary", str(self.summary)))
        if self.elements:
            params.append(("_elements", ",".join(self.elements)))
        if self.total is not None:
            params.append(("_total", str(self.total)))
        params.append(("_count", str(self.count)))
        if self.offset:
            params.append(("_offset", str(self.offset)))
        return params

    def with_offset(self, offset: int) -> SearchQuery:
        """The same search at another page offset (for ``next``/``previous`` links)."""
        return replace(self, offset=max(0, offset))

    @property
    def count_only(self) -> bool:
        """``_summary=count``: only the total is wanted."""
        return self.summary is SummaryMode.COUNT
