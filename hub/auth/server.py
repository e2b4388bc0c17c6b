"""The authorization server: authlib's protocol core, configured for SMART Backend Services.

* client authentication: ``private_key_jwt`` (RFC 7523 §2.2, §3) with the checks of SMART
  Backend Services §"Authenticating to the token endpoint"
  (https://hl7.org/fhir/smart-app-launch/backend-services.html): ``iss`` = ``sub`` =
  ``client_id``; ``aud`` = the token endpoint URL; ``exp`` present and at most five minutes
  ahead; ``jti`` never seen before (stored until ``exp``); ``kid`` chooses the key; ``alg`` one
  of ``ALGORITHMS`` — never ``none`` or an HMAC algorithm (no algorithm confusion).
* grant: ``client_credentials`` (RFC 6749 §4.4) issuing short-lived opaque bearer tokens whose
  scope is the requested scope, which must be within the client's allowed scopes (a request
  may narrow, never widen, RFC 6749 §3.3). ``scope`` is required (SMART Backend Services
  §"Request an access token"; omitting it answers ``invalid_scope``, as §3.3 allows).
* ``purpose_of_use`` (IHE IUA style, an HL7 v3 PurposeOfUse code) is stored with the token.
  Any client may ask for ``ETREAT``: a consent may name an organization for emergency treatment
  only (a hospital reads during an emergency, not otherwise). The break-glass *power* — access
  without a permitting consent — is the client's break-glass flag **and** an ETREAT token
  (``hub.auth.http`` computes ``SmartContext.break_glass`` that way); ETREAT alone grants
  nothing beyond what a consent names for ETREAT.

The Flask side (routes, discovery) is ``hub.auth.http``; the endpoints for registration,
introspection and revocation are in ``hub.auth.endpoints``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2.rfc6749 import (
    ClientCredentialsGrant,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    JsonPayload,
    OAuth2Error,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Response, g
from flask import request as flask_request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from hub.auth.clients import AUTH_METHOD, Client, ClientRegistry, client_keys
from hub.auth.events import AuthEventKind, AuthOutcome, record_auth_event
from hub.auth.scopes import ScopeError, covers, parse_scopes
from hub.auth.tokens import TokenStore, parse_purpose

#: accepted assertion algorithms: RS384 and ES384 (SMART's required pair) and the common
#: asymmetric others; HMAC (HS*) and ``none`` are never accepted.
ALGORITHMS = ("RS384", "ES384", "RS256", "ES256", "RS512", "ES512", "EdDSA")
#: SMART Backend Services: the assertion's ``exp`` "SHALL be no more than five minutes in the
#: future"
MAX_ASSERTION_LIFETIME = 300
#: clock skew allowed on ``exp``/``nbf``/``iat`` and on the five-minute horizon
LEEWAY = 30


_DESCRIPTION_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


def safe(text: str, limit: int = 300) -> str:
    """An ``error_description`` as RFC 6749 §5.2 allows it (%x20-21 / %x23-5B / %x5D-7E):
    other characters (from client input, e.g. a ``kid`` or a scope) become ``?``."""
    return "".join(ch if ch in _DESCRIPTION_CHARS else "?" for ch in text[:limit])


class PrivateKeyJwtAuth(JWTBearerClientAssertion):
    """RFC 7523 client assertions, as SMART Backend Services profiles them."""

    CLIENT_AUTH_METHOD = AUTH_METHOD

    def __init__(self, audiences: Callable[[], list[str]], tokens: TokenStore) -> None:
        super().__init__(validate_jti=True, leeway=LEEWAY)
        self._audiences = audiences
        self.tokens = tokens

    def get_audiences(self) -> list[str]:
        return self._audiences()

    def resolve_client_public_key(self, client: Client) -> Client:
        # The key is chosen by the assertion's ``kid`` in ``process_assertion_claims``
        # (authlib hands back whatever this returns).
        return client

    def process_assertion_claims(self, assertion: str, client: Client) -> dict[str, Any]:
        try:
            header = jws.extract_compact(assertion.encode("ascii")).headers()
        except (JoseError, UnicodeError, ValueError):
            raise InvalidClientError(description="The client assertion is not a JWS") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidClientError(
                description=safe(f"Assertion alg {alg!r} is not accepted (use RS384 or ES384)")
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidClientError(description="The assertion header needs a 'kid'")
        jwk = client_keys(client, kid)
        if jwk is None:
            raise InvalidClientError(description=safe(f"No key with kid {kid!r} is registered"))
        if jwk.get("alg") not in (None, alg) or jwk.get("use") not in (None, "sig"):
            raise InvalidClientError(description=safe(f"Key {kid!r} is not for {alg} signatures"))
        try:
            token = jwt.decode(assertion, import_key(jwk), algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            reason = getattr(exc, "description", None) or str(exc)
            raise InvalidClientError(description=safe(f"Assertion rejected: {reason}")) from None
        self.verify_claims(token.claims)
        return dict(token.claims)

    def verify_claims(self, claims: Any) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise InvalidClientError(description="The assertion needs a numeric 'exp'")
        if exp > time.time() + MAX_ASSERTION_LIFETIME + LEEWAY:
            raise InvalidClientError(
                description="The assertion's exp is more than five minutes in the future"
            )
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            raise InvalidClientError(description="The assertion needs a 'jti' (1-255 characters)")
        super().verify_claims(claims)  # iss, sub, aud, exp, nbf, iat; iss == sub; then jti

    def validate_jti(self, claims: Any, jti: str) -> bool:
        expires = (int(claims["exp"]) + LEEWAY) * 1_000_000
        return self.tokens.consume_jti(str(claims["sub"]), jti, expires)

    def authenticate_client(self, client: Client) -> Client:
        if client.disabled:
            raise InvalidClientError(description="The client is disabled")
        return super().authenticate_client(client)


class BackendServicesGrant(ClientCredentialsGrant):
    """``client_credentials`` with ``private_key_jwt`` (SMART Backend Services)."""

    TOKEN_ENDPOINT_AUTH_METHODS = [AUTH_METHOD]  # noqa: RUF012 (authlib's class attribute)

    def validate_token_request(self) -> None:
        super().validate_token_request()  # authenticates the client, checks the grant type
        client: Client = self.request.client
        requested = self.request.payload.scope
        if not requested:
            raise InvalidScopeError("scope is required (e.g. scope=system/Patient.rs)")
        allowed = parse_scopes(client.scope)
        for wanted in parse_scopes(requested):
            if not covers(allowed, wanted):
                raise InvalidScopeError(safe(f"{wanted.raw} is not allowed for this client"))
        purposes = self.request.payload.datalist.get("purpose_of_use", [])
        if len(purposes) > 1:
            raise InvalidRequestError("purpose_of_use may be given once")
        if purposes:
            try:
                parse_purpose(purposes[0])
            except ValueError:
                raise InvalidRequestError(
                    safe(f"purpose_of_use {purposes[0]!r} is not a v3 PurposeOfUse code")
                ) from None


class HubAuthorizationServer(AuthorizationServer):
    """authlib's Flask ``AuthorizationServer`` over the hub's client registry and token store."""

    def __init__(
        self,
        clients: ClientRegistry,
        tokens: TokenStore,
        *,
        token_lifetime: int,
        audiences: Callable[[], list[str]],
    ) -> None:
        super().__init__()
        self.clients = clients
        self.tokens = tokens
        self.token_lifetime = token_lifetime
        self.register_token_generator("default", self._generate_token)
        self.register_client_auth_method(AUTH_METHOD, PrivateKeyJwtAuth(audiences, tokens))
        self.register_grant(BackendServicesGrant)
        from hub.auth.endpoints import (
            HubIntrospectionEndpoint,
            HubRegistrationEndpoint,
            HubRevocationEndpoint,
        )

        self.register_endpoint(HubIntrospectionEndpoint)
        self.register_endpoint(HubRevocationEndpoint)
        self.register_endpoint(HubRegistrationEndpoint)

    def create_json_request(self, request: Any) -> FlaskJsonRequest:
        """RFC 7591 bodies: a malformed JSON body becomes ``invalid_request``, not a 400 page."""
        return _LenientJsonRequest(flask_request)

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def validate_requested_scope(self, scope: str | None) -> None:
        if scope:
            try:
                parse_scopes(scope)
            except ScopeError as exc:
                raise InvalidScopeError(safe(str(exc))) from None

    def _generate_token(
        self,
        grant_type: str,
        client: Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        """Token response (RFC 6749 §5.1; SMART Backend Services §"Response"): no refresh."""
        granted = " ".join(s.raw for s in parse_scopes(scope or ""))
        return {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": granted,
        }

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        client: Client = request.client
        purposes = request.payload.datalist.get("purpose_of_use", [])
        purpose = str(parse_purpose(purposes[0])) if purposes else None
        self.tokens.save(
            token["access_token"], client.client_id, token["scope"], self.token_lifetime, purpose
        )
        record_auth_event(
            AuthEventKind.TOKEN,
            AuthOutcome.GRANTED,
            client.client_id,
            f"scope={token['scope']!r} purpose_of_use={purpose or '-'}",
        )

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        """Every refusal of the token, registration, introspection and revocation endpoints."""
        kind = g.get("hub_auth_kind", AuthEventKind.TOKEN)
        # authlib sets ``request.client`` before checking the assertion; only a completed
        # authentication (``auth_method`` set) names the client as the actor
        client = getattr(request, "client", None)
        actor = None
        if client is not None and getattr(request, "auth_method", None) is not None:
            actor = str(client.client_id)
        detail = f"{error.error}: {error.get_error_description()}"
        claimed = _claimed_client(request)
        if actor is None and claimed:
            detail += f" (unauthenticated; assertion names client_id {claimed!r})"
        record_auth_event(kind, AuthOutcome.REFUSED, actor, detail)
        return super().handle_error_response(request, error)


class _LenientJsonPayload(JsonPayload):
    @property
    def data(self) -> Any:
        return flask_request.get_json(silent=True)


class _LenientJsonRequest(FlaskJsonRequest):
    def __init__(self, req: Any) -> None:
        super().__init__(req)
        self.payload = _LenientJsonPayload()


def _claimed_client(request: Any) -> str | None:
    """The unverified ``sub`` of a client assertion, for the audit record of a refusal."""
    form = getattr(request, "form", None)
    assertion = form.get("client_assertion") if form is not None else None
    if not isinstance(assertion, str) or assertion.count(".") != 2:
        return None
    payload = assertion.split(".")[1]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    sub = data.get("sub") if isinstance(data, dict) else None
    return sub[:64] if isinstance(sub, str) else None
