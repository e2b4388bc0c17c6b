"""Who is asking: the access context every interaction carries (``FhirRequest.context``).

Deny by default: ``routes.dispatch`` refuses a request without a context. The HTTP edge gets
the context from the app's authenticator (``hub.auth`` checks the bearer token and returns a
context whose ``authorize`` enforces SMART scopes); the CLI and seeding use ``SystemContext``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hub.resources.request import FhirRequest
    from hub.resources.routes import Route


class AccessContext(Protocol):
    def authorize(self, route: Route, req: FhirRequest) -> None:
        """Raise ``FhirError`` (403) when this caller may not run ``route`` for ``req``."""


@dataclass(frozen=True, slots=True)
class SystemContext:
    """The hub itself (CLI, seeding, tests of the core, ``HUB_AUTH=off``): no restriction."""

    reason: str = "system"

    def authorize(self, route: Route, req: FhirRequest) -> None:
        return None
