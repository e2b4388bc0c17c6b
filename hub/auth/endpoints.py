"""Registration (RFC 7591), introspection (RFC 7662) and revocation (RFC 7009) endpoints.

Who may call them:

* **registration** — anyone holding an RFC 7591 §3 *initial access token* (``hub
  admin-token``), sent as ``Authorization: Bearer …``; each such token registers one client.
  The client gets ``private_key_jwt`` and ``client_credentials`` only, the scopes it asks for
  (``system/`` scopes), and never the break-glass or privacy-officer powers (the CLI grants
  those). The hub-specific metadata member ``organization`` (``Organization/<id>``) is required.
* **introspection** — a registered client authenticating with ``private_key_jwt`` (same
  assertion rules as the token endpoint). It learns about its own tokens only; a client with
  the privacy-officer flag (audits) may introspect any token. Other tokens answer
  ``{"active": false}`` (RFC 7662 §2.2).
* **revocation** — a client authenticating with ``private_key_jwt``, for its own tokens
  (RFC 7009 §2.1); an unknown token answers 200 (§2.2).
"""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint, InvalidClientMetadataError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from hub.auth.clients import AUTH_METHOD, GRANT_TYPE, Client, ClientError
from hub.auth.server import safe
from hub.auth.tokens import AccessToken

Result = tuple[int, dict[str, Any], list[tuple[str, str]]]


class _TokenLookup:
    server: Any

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessToken | None:
        if token_type_hint not in (None, "access_token"):
            return None  # the hub issues no refresh tokens
        return self.server.tokens.find(token_string)


class HubIntrospectionEndpoint(_TokenLookup, IntrospectionEndpoint):
    """RFC 7662 token introspection."""

    CLIENT_AUTH_METHODS = [AUTH_METHOD]  # noqa: RUF012 (authlib's class attribute)

    def check_permission(self, token: AccessToken, client: Client, request: Any) -> bool:
        return token.client_id == client.client_id or client.privacy_officer

    def introspect_token(self, token: AccessToken) -> dict[str, Any]:
        """RFC 7662 §2.2 members, plus the hub's ``organization`` and ``purpose_of_use``."""
        out: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "token_type": "Bearer",
            "exp": token.expires_at // 1_000_000,
            "iat": token.issued_at // 1_000_000,
            "sub": token.client_id,
            "organization": token.organization,
        }
        if token.purpose_of_use:
            out["purpose_of_use"] = token.purpose_of_use
        return out


class HubRevocationEndpoint(_TokenLookup, RevocationEndpoint):
    """RFC 7009 token revocation: a revoked token is refused on its very next use."""

    CLIENT_AUTH_METHODS = [AUTH_METHOD]  # noqa: RUF012 (authlib's class attribute)

    def revoke_token(self, token: AccessToken, request: Any) -> None:
        self.server.tokens.revoke(token.token_id)


class HubRegistrationEndpoint(ClientRegistrationEndpoint):
    """RFC 7591 dynamic client registration, gated by an initial access token (§3)."""

    def authenticate_token(self, request: Any) -> str:
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidTokenError(
                "An initial access token is required (RFC 7591 section 3)", realm="hub"
            )
        if not self.server.clients.initial_token_valid(token):
            raise InvalidTokenError(
                "The initial access token is unknown, used or expired", realm="hub"
            )
        return token

    def get_server_metadata(self) -> dict[str, Any]:
        return {
            "grant_types_supported": [GRANT_TYPE],
            "token_endpoint_auth_methods_supported": [AUTH_METHOD],
        }

    def create_registration_response(self, request: Any) -> Result:
        token = self.authenticate_token(request)
        data = request.payload.data
        if not isinstance(data, dict):
            raise InvalidRequestError("The body must be a JSON object of client metadata")
        metadata = self.extract_client_metadata(request)  # RFC 7591 §2 checks (authlib)
        if metadata.get("response_types") or metadata.get("redirect_uris"):
            raise InvalidClientMetadataError("backend services clients use no redirects")
        organization = data.get("organization")
        try:
            client = self.server.clients.register_with_initial_token(
                token,
                name=str(metadata.get("client_name") or ""),
                organization=organization if isinstance(organization, str) else "",
                scope=str(metadata.get("scope") or ""),
                jwks=metadata.get("jwks"),
                jwks_uri=metadata.get("jwks_uri"),
            )
        except ClientError as exc:
            raise InvalidClientMetadataError(safe(str(exc))) from None
        if client is None:  # spent by a concurrent registration
            raise InvalidTokenError(
                "The initial access token is unknown, used or expired", realm="hub"
            )
        return 201, client.public_metadata(), default_json_headers
