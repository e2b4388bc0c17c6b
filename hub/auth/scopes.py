"""SMART scopes, pure: parsing and narrowing (what each interaction needs: ``hub.auth.needs``).

Grammar (SMART App Launch 2.x, "Scopes for requesting FHIR resources",
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)::

    scope       = context "/" type "." permissions [ "?" query ]
    context     = "patient" / "user" / "system"
    type        = "*" / <FHIR resource type>
    permissions = v2: the letters of "cruds" in that order (``rs``, ``cud``, ``cruds``)
                / v1: "read" (= ``rs``) / "write" (= ``cud``) / "*" (= ``cruds``)
    query       = "category=" token *("," token)      (granular scope; only ``category``)

The hub serves machine clients (Backend Services), so only ``system/`` scopes grant access;
``patient/`` and ``user/`` ones are parsed (and may be refused by the registry) but grant
nothing here.

Letters per interaction (SMART 2.x §"Scopes for requesting FHIR resources"): ``c`` create;
``r`` read, vread, history; ``u`` update, patch; ``d`` delete; ``s`` search. See ``needs`` for
the exact table (``hub.auth.needs``), including what ``_include``/``_revinclude``, chains and
conditional interactions add, and ``Granular`` for what a category-restricted scope can satisfy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from urllib.parse import parse_qsl


class Letter(StrEnum):
    """SMART v2 permission letters, in their canonical order."""

    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


class ScopeContext(StrEnum):
    PATIENT = "patient"
    USER = "user"
    SYSTEM = "system"


class Granular(StrEnum):
    """What a category-restricted scope (``system/Observation.rs?category=…``) can satisfy."""

    #: only an unrestricted scope will do (history, vread, includes, conditional writes, …)
    NEVER = "never"
    #: a search whose own ``category`` parameter stays within the scope's categories
    QUERY = "query"
    #: a resource (incoming body and/or the stored current version) with an allowed category
    RESOURCE = "resource"


ORDER = "cruds"
#: SMART v1 permissions and their v2 equivalents (SMART 2.x §"Scopes for requesting FHIR
#: resources", "SMART 1.0 scope equivalents")
V1 = {"read": "rs", "write": "cud", "*": "cruds"}
CATEGORY = "category"

_SCOPE = re.compile(
    r"(?P<ctx>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{0,63})"
    r"\.(?P<perm>read|write|\*|c?r?u?d?s?)(?:\?(?P<query>.*))?"
)


class ScopeError(ValueError):
    """A scope string that is not a SMART resource scope the hub understands."""


@dataclass(frozen=True, slots=True, order=True)
class TokenValue:
    """A token search value (http://hl7.org/fhir/R4/search.html#token).

    ``system is None``: any system (``code``); ``system == ""``: no system (``|code``).
    """

    system: str | None
    code: str

    @classmethod
    def parse(cls, raw: str) -> TokenValue | None:
        """``system|code``, ``|code`` or ``code``; None when no code is given (``system|``)."""
        parts = split_unescaped(raw, "|")
        if len(parts) == 1:
            system, code = None, parts[0]
        elif len(parts) == 2:
            system, code = parts
        else:
            return None
        code = _unescape(code)
        if not code:
            return None
        return cls(None if system is None else _unescape(system), code)

    def encode(self) -> str:
        return self.code if self.system is None else f"{self.system}|{self.code}"

    def covers(self, other: TokenValue) -> bool:
        """True when every resource ``other`` finds is also found by ``self``."""
        return self.code == other.code and (self.system is None or self.system == other.system)

    def matches(self, system: str | None, code: str | None) -> bool:
        """True when a coding (``system``, ``code``) of a resource matches this value."""
        if code != self.code:
            return False
        return self.system is None or self.system == (system or "")


def split_unescaped(raw: str, sep: str) -> list[str]:
    """Split on ``sep`` not preceded by a backslash (http://hl7.org/fhir/R4/search.html#escaping)."""
    out, cur, escaped = [], "", False
    for ch in raw:
        if escaped:
            cur += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur + ("\\" if escaped else ""))
    return out


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


@dataclass(frozen=True, slots=True)
class Scope:
    """One parsed SMART resource scope."""

    context: ScopeContext
    resource_type: str  # "*" or a resource type
    letters: frozenset[Letter]
    #: granular restriction ``?category=…`` (any of these values); None = unrestricted
    categories: frozenset[TokenValue] | None = None
    raw: str = field(default="", compare=False)

    def permits(self, letter: Letter, resource_type: str) -> bool:
        """Letter and type allow it (the category restriction is checked by the caller)."""
        return letter in self.letters and self.resource_type in ("*", resource_type)

    def __str__(self) -> str:
        """The canonical SMART v2 form (v1 permissions rewritten as letters)."""
        letters = "".join(ch for ch in ORDER if Letter(ch) in self.letters)
        text = f"{self.context}/{self.resource_type}.{letters}"
        if self.categories is not None:
            text += "?category=" + ",".join(v.encode() for v in sorted(self.categories))
        return text


def parse_scope(text: str) -> Scope:
    """Parse one scope (SMART 2.x grammar above); raise ``ScopeError`` otherwise."""
    m = _SCOPE.fullmatch(text)
    if m is None or not m["perm"]:
        raise ScopeError(f"{text!r} is not a SMART resource scope (e.g. system/Patient.rs)")
    perm = V1.get(m["perm"], m["perm"])
    categories: frozenset[TokenValue] | None = None
    if m["query"] is not None:
        if m["perm"] in V1:
            raise ScopeError(f"{text!r}: granular scopes use v2 permissions (.rs?category=...)")
        categories = _parse_query(text, m["query"])
    return Scope(
        ScopeContext(m["ctx"]),
        m["type"],
        frozenset(Letter(ch) for ch in perm),
        categories,
        raw=text,
    )


def _parse_query(text: str, query: str) -> frozenset[TokenValue]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ScopeError(f"{text!r}: malformed query") from None
    if len(pairs) != 1 or pairs[0][0] != CATEGORY:
        raise ScopeError(f"{text!r}: a granular scope may restrict only by a single 'category='")
    values = [TokenValue.parse(v) for v in split_unescaped(pairs[0][1], ",")]
    if not values or any(v is None for v in values):
        raise ScopeError(f"{text!r}: 'category' needs code or system|code values")
    return frozenset(v for v in values if v is not None)


@lru_cache(maxsize=4096)
def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Parse a space-delimited scope string (RFC 6749 §3.3); duplicates dropped, order kept."""
    seen: dict[str, Scope] = {}
    for item in text.split():
        if item not in seen:
            seen[item] = parse_scope(item)
    return tuple(seen.values())


# Narrowing (the token request may narrow the client's allowed scopes, never widen them) ----


def _categories_within(
    wanted: frozenset[TokenValue] | None, allowed: frozenset[TokenValue] | None
) -> bool:
    if allowed is None:
        return True
    if wanted is None:
        return False
    return all(any(a.covers(w) for a in allowed) for w in wanted)


def covers(allowed: Iterable[Scope], wanted: Scope) -> bool:
    """True when ``allowed`` grants everything ``wanted`` would (letter by letter).

    ``system/*.rs`` covers ``system/Patient.r``; ``system/Observation.rs`` covers
    ``system/Observation.rs?category=…``; nothing restricted covers something unrestricted.
    """
    pool = list(allowed)
    return all(
        any(
            a.context is wanted.context
            and a.resource_type in ("*", wanted.resource_type)
            and letter in a.letters
            and _categories_within(wanted.categories, a.categories)
            for a in pool
        )
        for letter in wanted.letters
    )
