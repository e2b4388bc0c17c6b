"""Query string → ``SearchQuery`` (http://hl7.org/fhir/R4/search.html).

Pure: plain strings in, a frozen ``SearchQuery`` out, ``FhirError`` (HTTP 400) on refusal.

* Values of one parameter separated by ``,`` are ORed, repeated parameters are ANDed
  (http://hl7.org/fhir/R4/search.html#combining); ``\\,`` ``\\|`` ``\\$`` ``\\\\`` escape
  (#escaping). A parameter with an empty value is ignored (#errors).
* Unknown or unsupported parameters and modifiers are refused (#errors) unless ``lenient``
  (``Prefer: handling=lenient``), when they are dropped, named in ``SearchQuery.ignored``
  and explained in ``SearchQuery.warnings``. Malformed values are refused either way.
* ``ap`` on dates: the target range overlaps the search range widened on each side by 10%
  of its own width (#prefix, #date). No clock is needed and ``ap2024`` ≈ 2023-11-24…2025-02-06.
* Chains are one level deep (#chaining): ``subject:Patient.name=…``, or ``subject.name=…``
  when exactly one of the parameter's target types defines ``name``; deeper chains and
  ``_has`` are refused as not supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from hub.fhir.codes import IssueSeverity, IssueType, SearchParamType
from hub.fhir.errors import FhirError, Issue
from hub.fhir.indexing import date_range, normalize_string
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
    SearchValue,
    SortKey,
    StringValue,
    SummaryMode,
    TokenValue,
    TotalMode,
)
from hub.fhir.searchparams import SearchParam, SearchParamRegistry

#: parameters of every interaction that the HTTP layer handles (http.html#parameters)
IGNORED_PARAMS = frozenset({"_format", "_pretty"})
#: result parameters that may appear at most once
SINGLE_RESULT_PARAMS = frozenset({"_count", "_offset", "_sort", "_summary", "_total"})
#: modifiers each parameter type accepts (http://hl7.org/fhir/R4/search.html#modifiers)
MODIFIERS: dict[SearchParamType, frozenset[Modifier]] = {
    SearchParamType.STRING: frozenset({Modifier.MISSING, Modifier.EXACT, Modifier.CONTAINS}),
    SearchParamType.TOKEN: frozenset({Modifier.MISSING, Modifier.NOT, Modifier.TEXT}),
    SearchParamType.DATE: frozenset({Modifier.MISSING}),
    SearchParamType.REFERENCE: frozenset({Modifier.MISSING}),
    SearchParamType.URI: frozenset({Modifier.MISSING, Modifier.BELOW}),
}
#: parameter types ``_sort`` accepts
SORTABLE = frozenset({SearchParamType.STRING, SearchParamType.DATE, SearchParamType.TOKEN})

_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ELEMENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_DIGITS = re.compile(r"[0-9]{1,9}")
_PREFIXES = {str(p): p for p in Prefix}
_E = TypeVar("_E", SummaryMode, TotalMode)


def split_unescaped(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split on ``sep`` where it is not escaped by ``\\``; the pieces stay escaped."""
    parts: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == sep and (maxsplit < 0 or len(parts) < maxsplit):
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def unescape(text: str) -> str:
    """Undo ``\\,`` ``\\|`` ``\\$`` ``\\\\``; any other backslash stays as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "\\,|$":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, resource_type: str, registry: SearchParamRegistry, lenient: bool) -> None:
        self.resource_type = resource_type
        self.registry = registry
        self.lenient = lenient
        self.warnings: list[Issue] = []

    # refusals ---------------------------------------------------------------------------

    def unsupported(self, name: str, diagnostics: str) -> None:
        """Refuse an unknown/unsupported parameter or modifier, or drop it when lenient."""
        if not self.lenient:
            raise FhirError.not_supported(diagnostics, name)
        self.warnings.append(
            Issue(
                IssueType.NOT_SUPPORTED,
                f"{diagnostics} (ignored)",
                severity=IssueSeverity.WARNING,
                expression=(name,),
            )
        )

    # parameter lookup -------------------------------------------------------------------

    def param(self, resource_type: str, code: str) -> SearchParam | None:
        """The searchable parameter ``code`` of ``resource_type``, or None if unknown."""
        if code == ID_PARAM:
            return SearchParam(
                ID_PARAM, SearchParamType.TOKEN, resource_type, f"{resource_type}.id"
            )
        if code == LAST_UPDATED_PARAM:
            return SearchParam(
                LAST_UPDATED_PARAM,
                SearchParamType.DATE,
                resource_type,
                f"{resource_type}.meta.lastUpdated",
            )
        return self.registry.get(resource_type, code)

    def known_type(self, resource_type: str) -> bool:
        return bool(self.registry.for_type(resource_type))

    # criteria ---------------------------------------------------------------------------

    def criterion(self, name: str, raw: str) -> Criterion | None:
        parts = name.split(".")
        if len(parts) > 2:
            self.unsupported(name, f"chained parameter '{name}': chains deeper than one level")
            return None
        head = parts[0]
        code, _, modifier = head.partition(":")
        param = self.param(self.resource_type, code)
        if param is None:
            self.unsupported(name, f"unknown search parameter '{code}' for {self.resource_type}")
            return None
        if not (param.indexed or code in (ID_PARAM, LAST_UPDATED_PARAM)):
            self.unsupported(name, f"search parameter '{code}' ({param.type}) is not supported")
            return None
        if len(parts) == 2:
            return self.chained(name, param, modifier, parts[1], raw)
        return self.simple(name, param, modifier, raw)

    def chained(
        self, name: str, param: SearchParam, type_modifier: str, inner: str, raw: str
    ) -> Criterion | None:
        """``ref[:Type].param[:modifier]=value`` (http://hl7.org/fhir/R4/search.html#chaining)."""
        if param.type is not SearchParamType.REFERENCE:
            raise FhirError.invalid(
                f"'{param.code}' is a {param.type} parameter and cannot be chained", name
            )
        inner_code = inner.partition(":")[0]
        if type_modifier:
            if not self.allows_target(param, type_modifier):
                raise FhirError.invalid(
                    f"'{type_modifier}' is not a target type of '{param.code}'", name
                )
            chain_type = type_modifier
        else:
            candidates = [
                t
                for t in param.target
                if self.known_type(t) and self.param(t, inner_code) is not None
            ]
            if not candidates:
                self.unsupported(
                    name, f"no target type of '{param.code}' has a search parameter '{inner_code}'"
                )
                return None
            if len(candidates) > 1:
                raise FhirError.invalid(
                    f"chain '{name}' is ambiguous: '{inner_code}' exists on "
                    f"{', '.join(candidates)}; add a type modifier, e.g. "
                    f"'{param.code}:{candidates[0]}.{inner}'",
                    name,
                )
            chain_type = candidates[0]
        inner_param = self.param(chain_type, inner_code)
        if inner_param is None:
            self.unsupported(name, f"unknown search parameter '{inner_code}' for {chain_type}")
            return None
        if not (inner_param.indexed or inner_code in (ID_PARAM, LAST_UPDATED_PARAM)):
            self.unsupported(
                name, f"search parameter '{inner_code}' ({inner_param.type}) is not supported"
            )
            return None
        target = self.simple(name, inner_param, inner.partition(":")[2], raw)
        if target is None:
            return None
        return Criterion(
            code=param.code,
            type=param.type,
            values=(),
            chain_type=chain_type,
            chain=target,
        )

    def allows_target(self, param: SearchParam, type_name: str) -> bool:
        if not _TYPE_NAME.fullmatch(type_name):
            return False
        return type_name in param.target if param.target else self.known_type(type_name)

    def simple(self, name: str, param: SearchParam, modifier: str, raw: str) -> Criterion | None:
        mod: Modifier | None = None
        ref_type: str | None = None
        if modifier:
            allowed = MODIFIERS.get(param.type, frozenset())
            if param.code == ID_PARAM:
                allowed = frozenset({Modifier.MISSING, Modifier.NOT})
            mod = next((m for m in allowed if m == modifier), None)
            if mod is None:
                if param.type is SearchParamType.REFERENCE and self.allows_target(param, modifier):
                    ref_type = modifier
                else:
                    self.unsupported(
                        name,
                        f"modifier ':{modifier}' is not supported on {param.type} "
                        f"parameter '{param.code}'",
                    )
                    return None
        values: list[SearchValue] = []
        for piece in split_unescaped(raw, ","):
            if piece == "":
                continue
            values.append(self.value(name, param, mod, ref_type, piece))
        if not values:
            return None
        unique = sorted(set(values), key=lambda v: v.encode())
        return Criterion(code=param.code, type=param.type, values=tuple(unique), modifier=mod)

    def value(
        self,
        name: str,
        param: SearchParam,
        mod: Modifier | None,
        ref_type: str | None,
        piece: str,
    ) -> SearchValue:
        if mod is Modifier.MISSING:
            if piece not in ("true", "false"):
                raise FhirError.invalid(f"':missing' takes true or false, not '{piece}'", name)
            return MissingValue(piece == "true")
        if param.type in (SearchParamType.STRING, SearchParamType.URI) or mod is Modifier.TEXT:
            text = unescape(piece)
            return StringValue(text, normalize_string(text))
        if param.type is SearchParamType.TOKEN:
            return self.token(name, param, piece)
        if param.type is SearchParamType.DATE:
            return self.date(name, piece)
        return self.reference(name, param, ref_type, unescape(piece))

    def token(self, name: str, param: SearchParam, piece: str) -> TokenValue:
        """``[system|]code`` (http://hl7.org/fhir/R4/search.html#token)."""
        parts = split_unescaped(piece, "|", maxsplit=1)
        if param.code == ID_PARAM:
            if len(parts) > 1:
                raise FhirError.invalid("'_id' takes a logical id, not system|code", name)
            return TokenValue(None, unescape(piece))
        if len(parts) == 1:
            return TokenValue(None, unescape(piece))
        system, code = unescape(parts[0]), unescape(parts[1])
        return TokenValue(system, code or None)

    def date(self, name: str, piece: str) -> DateValue:
        """``[prefix]date`` (http://hl7.org/fhir/R4/search.html#date, #prefix)."""
        text = unescape(piece)
        prefix = _PREFIXES.get(text[:2])
        value = text[2:] if prefix is not None else text
        try:
            low, high = date_range(value)
        except ValueError as exc:
            raise FhirError.invalid(
                f"'{text}' is not a valid date search value: {exc}", name
            ) from exc
        return DateValue(prefix or Prefix.EQ, value, low, high)

    def reference(
        self, name: str, param: SearchParam, ref_type: str | None, text: str
    ) -> ReferenceValue:
        """``[Type/]id`` or an absolute URL (http://hl7.org/fhir/R4/search.html#reference)."""
        if "://" in text or text.startswith(("urn:", "#")):
            if text.startswith("#"):
                raise FhirError.invalid("contained references cannot be searched", name)
            return ReferenceValue(url=text)
        parts = text.split("/")
        if len(parts) == 4 and parts[2] == "_history":
            parts = parts[:2]  # a versioned reference: the hub matches the current version
        if len(parts) == 1 and parts[0]:
            return ReferenceValue(ref_type, parts[0])
        if len(parts) == 2 and parts[1] and _TYPE_NAME.fullmatch(parts[0]):
            if ref_type is not None and parts[0] != ref_type:
                raise FhirError.invalid(
                    f"'{text}' does not match the type modifier ':{ref_type}'", name
                )
            if param.target and parts[0] not in param.target:
                raise FhirError.invalid(
                    f"'{parts[0]}' is not a target type of '{param.code}'", name
                )
            return ReferenceValue(parts[0], parts[1])
        raise FhirError.invalid(f"'{text}' is not a valid reference search value", name)

    # result parameters ------------------------------------------------------------------

    def sort(self, raw: str) -> tuple[SortKey, ...]:
        """``_sort=a,-b`` (http://hl7.org/fhir/R4/search.html#sort)."""
        keys: list[SortKey] = []
        seen: set[str] = set()
        for item in raw.split(","):
            item = item.strip()
            descending = item.startswith("-")
            code = item[1:] if descending else item
            if not code:
                raise FhirError.invalid("'_sort' has an empty key", "_sort")
            param = self.param(self.resource_type, code)
            if param is None:
                self.unsupported("_sort", f"unknown search parameter '{code}' in '_sort'")
                continue
            sortable = code in (ID_PARAM, LAST_UPDATED_PARAM) or (
                param.indexed and param.type in SORTABLE
            )
            if not sortable:
                self.unsupported("_sort", f"cannot sort by {param.type} parameter '{code}'")
                continue
            if code not in seen:
                seen.add(code)
                keys.append(SortKey(code, param.type, descending))
        return tuple(keys)

    def include(self, name: str, raw: str) -> Include | None:
        """``_include``/``_revinclude`` (http://hl7.org/fhir/R4/search.html#include)."""
        base, _, mod = name.partition(":")
        if mod not in ("", "iterate", "recurse"):
            self.unsupported(name, f"unknown modifier ':{mod}' on '{base}'")
            return None
        iterate = bool(mod)
        reverse = base == "_revinclude"
        parts = raw.split(":")
        if raw == "*" or "*" in parts:
            self.unsupported(name, f"wildcard {base} '{raw}' is not supported")
            return None
        if len(parts) not in (2, 3) or not all(parts):
            raise FhirError.invalid(f"{base} takes Type:param[:TargetType], not '{raw}'", name)
        source, code = parts[0], parts[1]
        target = parts[2] if len(parts) == 3 else None
        if not self.known_type(source):
            raise FhirError.invalid(f"unknown resource type '{source}' in {base}", name)
        param = self.registry.get(source, code)
        if param is None or param.type is not SearchParamType.REFERENCE or not param.indexed:
            raise FhirError.invalid(f"'{source}:{code}' is not a reference search parameter", name)
        if target is not None and not self.allows_target(param, target):
            raise FhirError.invalid(f"'{target}' is not a target type of '{source}:{code}'", name)
        if not iterate and not reverse and source != self.resource_type:
            raise FhirError.invalid(
                f"_include '{raw}' does not start at {self.resource_type}; "
                "use _include:iterate to include from included resources",
                name,
            )
        if not iterate and reverse:
            pointing = target or self.resource_type
            if pointing != self.resource_type or not self.allows_target(param, pointing):
                raise FhirError.invalid(
                    f"_revinclude '{raw}' cannot point at {self.resource_type}", name
                )
        return Include(source, code, target, iterate=iterate, reverse=reverse)


def _non_negative(name: str, raw: str) -> int:
    if not _DIGITS.fullmatch(raw.strip()):
        raise FhirError.invalid(f"'{name}' takes a non-negative integer, not '{raw}'", name)
    return int(raw.strip())


def _enum_value(enum: type[_E], name: str, raw: str) -> _E:
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(str(m) for m in enum)
        raise FhirError.invalid(f"'{name}' takes one of {allowed}, not '{raw}'", name) from None


def parse_search(
    resource_type: str,
    params: Iterable[tuple[str, str]],
    registry: SearchParamRegistry,
    *,
    lenient: bool = False,
    max_count: int = 1000,
    default_count: int = 20,
) -> SearchQuery:
    """Parse a search's parameters into a ``SearchQuery`` (http://hl7.org/fhir/R4/search.html).

    ``_count`` above ``max_count`` is reduced to it (the server "cannot return more",
    #count); ``_offset`` is the hub's paging parameter.
    """
    parser = _Parser(resource_type, registry, lenient)
    criteria: set[Criterion] = set()
    includes: set[Include] = set()
    elements: set[str] = set()
    seen: set[str] = set()
    result: dict[str, str] = {}
    for name, raw in params:
        if name in IGNORED_PARAMS or raw == "":
            continue
        if name in SINGLE_RESULT_PARAMS:
            if name in seen:
                raise FhirError.invalid(f"'{name}' may be given only once", name)
            seen.add(name)
            result[name] = raw
        elif name == "_elements":
            for element in raw.split(","):
                element = element.strip()
                if not element:
                    continue
                if not _ELEMENT.fullmatch(element):
                    raise FhirError.invalid(f"'{element}' is not an element name", name)
                elements.add(element)
        elif name.partition(":")[0] in ("_include", "_revinclude"):
            inc = parser.include(name, raw)
            if inc is not None:
                includes.add(inc)
        elif name.startswith("_has:") or name.startswith("_has."):
            parser.unsupported(name, "reverse chaining (_has) is not supported")
        else:
            crit = parser.criterion(name, raw)
            if crit is not None:
                criteria.add(crit)

    count = default_count
    if "_count" in result:
        count = min(_non_negative("_count", result["_count"]), max_count)
    offset = _non_negative("_offset", result["_offset"]) if "_offset" in result else 0
    summary = (
        _enum_value(SummaryMode, "_summary", result["_summary"]) if "_summary" in result else None
    )
    total = _enum_value(TotalMode, "_total", result["_total"]) if "_total" in result else None
    sort = parser.sort(result["_sort"]) if "_sort" in result else ()

    def inc_key(inc: Include) -> tuple[bool, str]:
        return (inc.iterate, inc.encode())

    return SearchQuery(
        resource_type=resource_type,
        criteria=tuple(sorted(criteria, key=lambda c: (c.key, c.encode_values()))),
        sort=sort,
        count=count,
        offset=offset,
        summary=summary,
        elements=tuple(sorted(elements)),
        total=total,
        includes=tuple(sorted((i for i in includes if not i.reverse), key=inc_key)),
        revincludes=tuple(sorted((i for i in includes if i.reverse), key=inc_key)),
        ignored=tuple(dict.fromkeys(i.expression[0] for i in parser.warnings)),
        warnings=tuple(parser.warnings),
    )
