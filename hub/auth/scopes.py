"""SMART scopes, pure: parsing, narrowing, and what each FHIR interaction needs.

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
the exact table, including what ``_include``/``_revinclude``, chains and conditional
interactions add, and ``Granular`` for what a category-restricted scope can satisfy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from hub.fhir.codes import Interaction


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
        parts = _split_unescaped(raw, "|")
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


def _split_unescaped(raw: str, sep: str) -> list[str]:
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
    values = [TokenValue.parse(v) for v in _split_unescaped(pairs[0][1], ",")]
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


# What an interaction needs ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Need:
    """One scope a request needs: ``system/<resource_type>.<letter>`` (and why)."""

    letter: Letter
    resource_type: str
    why: str
    granular: Granular = Granular.NEVER
    #: ``Granular.QUERY``: the search's ``category`` parameters (ANDed; each an OR of values,
    #: ``None`` for a value no scope can cover)
    query: tuple[tuple[TokenValue | None, ...], ...] = ()
    #: ``Granular.RESOURCE``: the incoming resource to check (create/update), if any
    body: Any = field(default=None, compare=False)
    #: ``Granular.RESOURCE``: also check the stored current version (read/update/delete)
    stored: bool = False
    #: needed only when the addressed resource does not exist yet (update-as-create)
    when_absent: bool = False

    @property
    def scope(self) -> str:
        return f"{ScopeContext.SYSTEM}/{self.resource_type}.{self.letter}"


#: ``(resource type, reference search parameter) -> target types`` (from the registry)
TargetLookup = Callable[[str, str], Sequence[str]]
#: the stored current version of the addressed resource (None: it does not exist)
StoredLookup = Callable[[], Mapping[str, Any] | None]


def _no_targets(rtype: str, code: str) -> Sequence[str]:
    return ()


def _category_query(params: Sequence[tuple[str, str]]) -> tuple[tuple[TokenValue | None, ...], ...]:
    return tuple(
        tuple(TokenValue.parse(v) for v in _split_unescaped(value, ","))
        for name, value in params
        if name == CATEGORY
    )


def _reach(
    rtype: str, params: Sequence[tuple[str, str]], targets: TargetLookup
) -> list[tuple[str, str]]:
    """Types a search returns besides its own: ``_include``/``_revinclude`` (``:iterate``
    too, http://hl7.org/fhir/R4/search.html#include), chains (#chaining) and ``_has`` (#has)
    — as (type, why) pairs."""
    out: list[tuple[str, str]] = []
    for name, value in params:
        base = name.partition(":")[0]
        if base in ("_include", "_revinclude"):
            parts = value.split(":")
            if "*" in parts:
                out.append(("*", f"{name}={value}"))
            elif len(parts) >= 2:
                types = (
                    [parts[0]]
                    if base == "_revinclude"
                    else [parts[2]]
                    if len(parts) >= 3
                    else list(targets(parts[0], parts[1]))
                )
                out.extend((t, f"{name}={value}") for t in types)
        elif base == "_has" or name.startswith("_has."):
            parts = name.split(":")
            if len(parts) >= 2 and parts[1]:
                out.append((parts[1], name))
        elif "." in name and not name.startswith("_"):
            head = name.split(".", 1)[0]
            code, _, typed = head.partition(":")
            types = [typed] if typed else list(targets(rtype, code))
            out.extend((t, f"chained parameter {name}") for t in types)
    return out


def _touches_category(ops: Any) -> bool:
    if not isinstance(ops, list):
        return True
    for op in ops:
        if not isinstance(op, dict):
            return True
        for key in ("path", "from"):
            path = op.get(key)
            if isinstance(path, str) and (path == "" or path.split("/")[1:2] == [CATEGORY]):
                return True
    return False


def needs(
    interaction: Interaction,
    resource_type: str | None,
    res_id: str | None = None,
    params: Sequence[tuple[str, str]] = (),
    *,
    if_none_exist: str | None = None,
    body: Any = None,
    targets: TargetLookup = _no_targets,
    operation: str | None = None,
) -> tuple[Need, ...]:
    """The scopes one FHIR interaction needs (empty: public, or checked per Bundle entry).

    ``res_id`` None with a type on update/patch/delete means the conditional form
    (http://hl7.org/fhir/R4/http.html#cond-update), whose search needs ``s`` too.
    ``operation`` names a FHIR operation (``everything`` for ``$everything``); see
    ``OPERATIONS``.
    """
    t = resource_type or "*"
    n = Need
    if interaction in (Interaction.CAPABILITIES, Interaction.TRANSACTION, Interaction.BATCH):
        return ()
    if interaction is Interaction.HISTORY_SYSTEM:
        return (n(Letter.READ, "*", "system history"),)
    if interaction in (Interaction.HISTORY_TYPE, Interaction.HISTORY_INSTANCE, Interaction.VREAD):
        return (n(Letter.READ, t, f"{interaction} of {t}"),)
    if interaction is Interaction.READ:
        return (n(Letter.READ, t, f"read {t}", Granular.RESOURCE, stored=True),)
    if interaction in (Interaction.SEARCH_TYPE, Interaction.SEARCH_SYSTEM):
        query = _category_query(params)
        out = [n(Letter.SEARCH, t, f"search {t}", Granular.QUERY, query=query)]
        out += [n(Letter.SEARCH, other, why) for other, why in _reach(t, params, targets)]
        return tuple(out)
    if interaction is Interaction.CREATE:
        out = [n(Letter.CREATE, t, f"create {t}", Granular.RESOURCE, body=body)]
        if if_none_exist is not None:
            cond = parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True)
            out.append(
                n(
                    Letter.SEARCH,
                    t,
                    "If-None-Exist (conditional create)",
                    Granular.QUERY,
                    query=_category_query(cond),
                )
            )
        return tuple(out)
    conditional = resource_type is not None and res_id is None
    cond_search = n(
        Letter.SEARCH,
        t,
        f"the search of a conditional {interaction}",
        Granular.QUERY,
        query=_category_query(params),
    )
    if interaction is Interaction.UPDATE:
        if conditional:
            # the match decides between update and create, so both are needed
            return (
                n(Letter.UPDATE, t, f"conditional update of {t}"),
                cond_search,
                n(
                    Letter.CREATE,
                    t,
                    "a conditional update that matches nothing creates",
                    Granular.RESOURCE,
                    body=body,
                ),
            )
        return (
            n(Letter.UPDATE, t, f"update {t}", Granular.RESOURCE, body=body, stored=True),
            n(
                Letter.CREATE,
                t,
                f"update of a new {t} id creates it",
                Granular.RESOURCE,
                body=body,
                when_absent=True,
            ),
        )
    if interaction is Interaction.PATCH:
        if conditional:
            return (n(Letter.UPDATE, t, f"conditional patch of {t}"), cond_search)
        granular = Granular.NEVER if _touches_category(body) else Granular.RESOURCE
        return (n(Letter.UPDATE, t, f"patch {t}", granular, stored=True),)
    if interaction is Interaction.DELETE:
        if conditional:
            return (n(Letter.DELETE, t, f"conditional delete of {t}"), cond_search)
        return (n(Letter.DELETE, t, f"delete {t}", Granular.RESOURCE, stored=True),)
    if interaction is Interaction.OPERATION and operation in OPERATIONS:
        return tuple(
            n(letter, t if on == "" else on, f"${operation}")
            for letter, on in OPERATIONS[operation]
        )
    # anything else (unknown operations): only full system access
    return tuple(n(Letter(ch), "*", f"{operation or interaction}") for ch in ORDER)


#: Operations and their needs as (letter, type); type "" = the type the operation runs on.
#: ``$everything`` returns the patient (r) and resources of any type in the compartment
#: (s on every type, http://hl7.org/fhir/R4/patient-operation-everything.html);
#: ``$break-glass`` opens emergency *read* access to one patient (issue 4), so it needs r on
#: that type — the break-glass power itself (ETREAT token) is checked by the operation.
OPERATIONS: dict[str, tuple[tuple[Letter, str], ...]] = {
    "everything": ((Letter.READ, ""), (Letter.SEARCH, "*")),
    "break-glass": ((Letter.READ, ""),),
    # the review queue (system level) concerns any patient's data: r on every type, and the
    # privacy-officer flag, which the operation checks
    "break-glass-review": ((Letter.READ, "*"),),
    # registration intake writes the person's resources as one transaction (each entry is
    # checked again for its own type); the operation itself creates or updates a Patient
    "register": ((Letter.CREATE, ""), (Letter.UPDATE, "")),
    # sharing a registration updates the register entry and the consent and records a
    # Communication (each entry is checked again in the transaction)
    "share-registration": (
        (Letter.READ, ""),
        (Letter.UPDATE, "EpisodeOfCare"),
        (Letter.UPDATE, "Consent"),
        (Letter.CREATE, "Communication"),
    ),
    # the latest health certificate: a read of the patient and a search of their forms
    "health-certificate": ((Letter.READ, ""), (Letter.SEARCH, "QuestionnaireResponse")),
    # an office's due monitoring Tasks: a search of Task
    "monitoring-due": ((Letter.SEARCH, ""),),
}


# Matching ---------------------------------------------------------------------------------


def resource_categories(resource: Mapping[str, Any]) -> list[tuple[str | None, str | None]]:
    """The (system, code) pairs of ``resource.category`` (CodeableConcept(s) or code(s))."""
    value = resource.get(CATEGORY)
    items = value if isinstance(value, list) else [] if value is None else [value]
    out: list[tuple[str | None, str | None]] = []
    for item in items:
        if isinstance(item, str):
            out.append((None, item))
        elif isinstance(item, dict):
            for coding in item.get("coding") or []:
                if isinstance(coding, dict):
                    out.append((coding.get("system"), coding.get("code")))
    return out


def _resource_within(resource: Any, categories: frozenset[TokenValue]) -> bool:
    if not isinstance(resource, Mapping):
        return False
    return any(v.matches(s, c) for s, c in resource_categories(resource) for v in categories)


def _query_within(
    query: tuple[tuple[TokenValue | None, ...], ...], categories: frozenset[TokenValue]
) -> bool:
    """Some ``category`` parameter of the search admits only allowed categories."""
    return any(
        values and all(v is not None and any(a.covers(v) for a in categories) for v in values)
        for values in query
    )


def satisfies(scope: Scope, need: Need, stored: StoredLookup) -> bool:
    """Does ``scope`` grant ``need``? (``stored`` is called only for a granular scope.)"""
    if scope.context is not ScopeContext.SYSTEM:
        return False
    if not scope.permits(need.letter, need.resource_type):
        return False
    cats = scope.categories
    if cats is None:
        return True
    if need.granular is Granular.QUERY:
        return _query_within(need.query, cats)
    if need.granular is Granular.RESOURCE:
        if need.body is not None and not _resource_within(need.body, cats):
            return False
        if need.stored:
            current = stored()
            if current is not None and not _resource_within(current, cats):
                return False
        return need.body is not None or need.stored
    return False


def unmet(
    scopes: Sequence[Scope], required: Sequence[Need], stored: StoredLookup | None = None
) -> Need | None:
    """The first need no scope grants, or None when the request is permitted.

    ``stored`` (the addressed resource's current version) is looked up at most once, and only
    when a granular scope or an update-as-create question needs it.
    """
    cache: list[Mapping[str, Any] | None] = []

    def load() -> Mapping[str, Any] | None:
        if not cache:
            cache.append(stored() if stored is not None else None)
        return cache[0]

    for need in required:
        if any(satisfies(s, need, load) for s in scopes):
            continue
        if need.when_absent and load() is not None:
            continue
        return need
    return None
