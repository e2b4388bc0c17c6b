"""FHIR search, the pure half: query parameters → ``SearchQuery`` (http://hl7.org/fhir/R4/search.html).

``hub.store.search`` runs a ``SearchQuery`` against the index tables.
"""

from hub.fhir.search.model import (
    Criterion,
    DateValue,
    Include,
    MissingValue,
    Modifier,
    Prefix,
    ReferenceValue,
    SearchQuery,
    SearchValue,
    SortKey,
    StringValue,
    SummaryMode,
    TokenValue,
    TotalMode,
)
from hub.fhir.search.parse import parse_search

__all__ = [
    "Criterion",
    "DateValue",
    "Include",
    "MissingValue",
    "Modifier",
    "Prefix",
    "ReferenceValue",
    "SearchQuery",
    "SearchValue",
    "SortKey",
    "StringValue",
    "SummaryMode",
    "TokenValue",
    "TotalMode",
    "parse_search",
]
