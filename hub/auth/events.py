"""Authentication and authorization events, for the audit trail (issue 5 persists them).

Every refusal — at the token, registration, introspection and revocation endpoints, and on
``/fhir`` (401 no/bad token, 403 missing scope) — goes through ``record_auth_event``, once per
refusal. For now it writes to the ``hub.audit`` logger and keeps the latest events in memory
(``recent_events``) for tests; issue 5 turns each into an AuditEvent (IHE BALP
"Authentication"/"Authorization" events) in the ledger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger("hub.audit")


class AuthEventKind(StrEnum):
    TOKEN = "token"  # POST /auth/token (RFC 6749 §4.4, RFC 7523)
    REGISTER = "register"  # POST /auth/register (RFC 7591)
    INTROSPECT = "introspect"  # POST /auth/introspect (RFC 7662)
    REVOKE = "revoke"  # POST /auth/revoke (RFC 7009)
    FHIR_TOKEN = "fhir-token"  # bearer token on /fhir (RFC 6750 §3.1: 401)
    FHIR_SCOPE = "fhir-scope"  # SMART scope check on /fhir (403)


class AuthOutcome(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AuthEvent:
    kind: AuthEventKind
    outcome: AuthOutcome
    #: the authenticated client, or None when the caller could not be authenticated
    client_id: str | None
    detail: str
    at: float


_RECENT: deque[AuthEvent] = deque(maxlen=1000)
_LOCK = threading.Lock()


def record_auth_event(
    kind: AuthEventKind, outcome: AuthOutcome, client_id: str | None, detail: str
) -> AuthEvent:
    """Record one authentication/authorization event (the single call for every refusal)."""
    event = AuthEvent(kind, outcome, client_id, detail, time.time())
    level = logging.WARNING if outcome is AuthOutcome.REFUSED else logging.INFO
    log.log(level, "auth %s %s client=%s %s", kind, outcome, client_id or "-", detail)
    with _LOCK:
        _RECENT.append(event)
    return event


def recent_events() -> list[AuthEvent]:
    """The latest events of this process, oldest first (for tests and diagnostics)."""
    with _LOCK:
        return list(_RECENT)


def clear_events() -> None:
    with _LOCK:
        _RECENT.clear()
