"""Access contexts for token holders (``SmartContext``) and anonymous callers (``PublicContext``).

``routes.dispatch`` calls ``context.authorize(route, req)`` for every HTTP request and every
Bundle entry, so this is where SMART scopes are enforced (``hub.auth.needs.needs`` says what
an interaction needs; ``unmet`` finds what the token lacks). A refusal is a 403 whose
OperationOutcome names the missing scope, plus ``WWW-Authenticate: Bearer
error="insufficient_scope"`` (RFC 6750 §3.1).

Granular (``?category=``) scopes — what exactly is enforced:

* search (and the search of a conditional interaction or ``If-None-Exist``): permitted only if
  the query has a ``category`` parameter (no modifier) whose every value is covered by the
  scope's values (``system|code`` exactly, or ``code`` when the scope names no system).
  ``_include``/``_revinclude``/chains into a type always need an unrestricted ``s`` on it.
* read, delete, patch: the stored current version must carry an allowed category (a missing
  resource passes, so the interaction answers 404/410 as usual); a patch that touches
  ``/category`` needs an unrestricted ``u``.
* create, update: the incoming resource must carry an allowed category — and for an update,
  the stored version too (no rewriting a resource out of or into the allowed set).
* vread, history, conditional update/patch/delete: need an unrestricted scope.

A resource "carries" a category when any coding of its ``category`` matches (the same rule as
the search ``category=`` uses).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.auth.events import AuthEventKind, AuthOutcome, record_auth_event
from hub.auth.needs import needs, unmet
from hub.auth.scopes import Scope
from hub.fhir.codes import Interaction, IssueType
from hub.fhir.errors import FhirError
from hub.fhir.searchparams import SUPPORTED_TYPES, SearchParamRegistry
from hub.store.db import Database

if TYPE_CHECKING:
    from hub.resources.request import FhirRequest
    from hub.resources.routes import Route

REALM = "hub"


class ResourceLookup:
    """What scope checks may need to know about the data: reference targets of a search
    parameter, and the stored current version of the addressed resource."""

    def __init__(self, db: Database, registry: SearchParamRegistry) -> None:
        self.db = db
        self.registry = registry

    def targets(self, resource_type: str, code: str) -> tuple[str, ...]:
        param = self.registry.get(resource_type, code)
        if param is None:
            return ()
        return tuple(t for t in param.target if t in SUPPORTED_TYPES)

    def stored(self, resource_type: str | None, res_id: str | None) -> Mapping[str, Any] | None:
        """The current version as JSON; ``{}`` when deleted; None when it never existed.

        Read in its own unit of work: inside a transaction Bundle, a resource created by an
        earlier entry is not visible yet (a granular scope then refuses, failing closed).
        """
        if not resource_type or not res_id:
            return None
        from hub.store.repository import Repository

        with self.db.unit(write=False) as conn:
            current = Repository(conn, self.registry).read(resource_type, res_id)
        if current is None:
            return None
        if current.content is None:
            return {}
        data = json.loads(current.content)
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class SmartContext:
    """A request made with a SMART Backend Services access token."""

    client_id: str
    organization: str
    scopes: tuple[Scope, ...]
    purpose_of_use: str | None
    token_id: int
    #: the token was issued for ``purpose_of_use=ETREAT`` (only to clients with the flag)
    break_glass: bool
    privacy_officer: bool
    lookup: ResourceLookup | None = field(default=None, compare=False, repr=False)

    def authorize(self, route: Route, req: FhirRequest) -> None:
        """Refuse (403) unless the token's scopes grant this interaction (module docstring)."""
        lookup = self.lookup
        required = needs(
            route.interaction,
            req.resource_type,
            req.res_id,
            req.params,
            if_none_exist=req.header("if-none-exist"),
            body=req.body,
            targets=lookup.targets if lookup is not None else lambda t, c: (),
            operation=route.rule.rsplit("$", 1)[1] if "$" in route.rule else None,
        )
        missing = unmet(
            self.scopes,
            required,
            (lambda: lookup.stored(req.resource_type, req.res_id)) if lookup is not None else None,
        )
        if missing is None:
            return
        restricted = any(
            s.categories is not None and s.permits(missing.letter, missing.resource_type)
            for s in self.scopes
        )
        note = " (a category-restricted scope does not cover this request)" if restricted else ""
        granted = " ".join(s.raw for s in self.scopes)
        record_auth_event(
            AuthEventKind.FHIR_SCOPE,
            AuthOutcome.REFUSED,
            self.client_id,
            f"{route.endpoint} {req.resource_type or '-'}/{req.res_id or '-'}: "
            f"needs {missing.scope} ({missing.why}){note}",
        )
        raise FhirError.of(
            403,
            IssueType.FORBIDDEN,
            f"Insufficient scope: {missing.scope} is required ({missing.why}){note}; "
            f"the token grants: {granted}",
            headers={
                "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
                f'scope="{missing.scope}"'
            },
        )


@dataclass(frozen=True, slots=True)
class PublicContext:
    """A caller without a token: only the CapabilityStatement (``GET /fhir/metadata``)."""

    def authorize(self, route: Route, req: FhirRequest) -> None:
        if route.interaction is not Interaction.CAPABILITIES:
            raise FhirError.of(
                401,
                IssueType.LOGIN,
                "Authentication is required",
                headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
            )
