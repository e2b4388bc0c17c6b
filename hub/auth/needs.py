"""What each FHIR interaction needs in SMART scopes, and whether granted scopes satisfy it
(pure).

SMART App Launch 2.x, "Scopes for requesting FHIR resources"
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): ``c`` create; ``r``
read, vread, history; ``u`` update, patch; ``d`` delete; ``s`` search. Parsing and narrowing
are in ``hub.auth.scopes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from hub.auth.scopes import (
    CATEGORY,
    ORDER,
    Granular,
    Letter,
    Scope,
    ScopeContext,
    TokenValue,
    split_unescaped,
)
from hub.fhir.codes import Interaction

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
        tuple(TokenValue.parse(v) for v in split_unescaped(value, ","))
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
