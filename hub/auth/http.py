"""The thin Flask layer of the authorization server: routes, discovery, the /fhir authenticator.

* ``POST /auth/token`` — RFC 6749 §4.4 + RFC 7523 (``HubAuthorizationServer``)
* ``POST /auth/register`` — RFC 7591, with an initial access token
* ``POST /auth/introspect`` — RFC 7662;  ``POST /auth/revoke`` — RFC 7009
* ``GET /fhir/.well-known/smart-configuration`` — SMART App Launch §"SMART on FHIR
  Configuration" (https://hl7.org/fhir/smart-app-launch/conformance.html)
* the CapabilityStatement's ``rest.security`` (SMART-on-FHIR service + ``oauth-uris``)

No ``/.well-known/jwks.json``: tokens are opaque, the hub signs nothing.

URLs are absolute and derived from the FHIR base (``Settings.base_url``, else the request's
host): the ``/auth/*`` endpoints sit beside the FHIR base, so base ``https://hub.example.jp/fhir``
gives ``https://hub.example.jp/auth/token`` — which is also the ``aud`` every client assertion
must carry (for introspection and revocation too, RFC 7523 §3 item 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error, ResourceProtector
from flask import Blueprint, Flask, Response, current_app, g, has_request_context, jsonify, request

from hub.auth.clients import AUTH_METHOD, GRANT_TYPE
from hub.auth.context import REALM, PublicContext, ResourceLookup, SmartContext
from hub.auth.events import AuthEventKind, AuthOutcome, record_auth_event
from hub.auth.scopes import parse_scopes
from hub.auth.server import ALGORITHMS, HubAuthorizationServer
from hub.auth.tokens import HubBearerTokenValidator, PurposeOfUse
from hub.fhir.codes import Interaction, IssueType
from hub.fhir.errors import FhirError
from hub.fhir.searchparams import SUPPORTED_TYPES
from hub.resources.routes import Route

EXTENSION = "hub.auth"
FORM = "application/x-www-form-urlencoded"
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

bp = Blueprint("hub_auth", __name__)


@dataclass(frozen=True, slots=True)
class AuthUrls:
    token: str
    register: str
    introspect: str
    revoke: str


def auth_urls(fhir_base: str) -> AuthUrls:
    """The authorization server's endpoints, beside the FHIR base URL."""
    root = fhir_base.rstrip("/").rsplit("/", 1)[0]
    return AuthUrls(
        f"{root}/auth/token",
        f"{root}/auth/register",
        f"{root}/auth/introspect",
        f"{root}/auth/revoke",
    )


def fhir_base_url() -> str:
    from hub.resources.http import fhir_base

    return fhir_base()


@dataclass
class AuthState:
    server: HubAuthorizationServer
    protector: ResourceProtector
    lookup: ResourceLookup


def _state() -> AuthState:
    state: AuthState = current_app.extensions[EXTENSION]
    return state


def _oauth_error(kind: AuthEventKind, error: OAuth2Error) -> Response:
    g.hub_auth_kind = kind
    resp: Response = _state().server.handle_error_response(None, error)
    return resp


# Authorization server endpoints -----------------------------------------------------------


def _form_only(kind: AuthEventKind) -> Response | None:
    """RFC 6749 §3.2 / RFC 7009 §2.1 / RFC 7662 §2.1: a form body, nothing in the URL
    (credentials in a query string end up in logs)."""
    from authlib.oauth2.rfc6749 import InvalidRequestError

    if request.mimetype != FORM:
        return _oauth_error(kind, InvalidRequestError(f"The body must be {FORM}"))
    if request.args:
        return _oauth_error(kind, InvalidRequestError("Parameters go in the body, not the URL"))
    return None


@bp.post("/auth/token")
def token() -> Response:
    """Token endpoint: client_credentials + private_key_jwt (SMART Backend Services)."""
    g.hub_auth_kind = AuthEventKind.TOKEN
    bad = _form_only(AuthEventKind.TOKEN)
    if bad is not None:
        return bad
    resp: Response = _state().server.create_token_response()
    return resp


@bp.post("/auth/register")
def register() -> Response:
    """RFC 7591 §3.1 client registration request (JSON), with an initial access token."""
    g.hub_auth_kind = AuthEventKind.REGISTER
    resp: Response = _state().server.create_endpoint_response("client_registration")
    return resp


@bp.post("/auth/introspect")
def introspect() -> Response:
    """RFC 7662 §2 introspection request."""
    g.hub_auth_kind = AuthEventKind.INTROSPECT
    bad = _form_only(AuthEventKind.INTROSPECT)
    if bad is not None:
        return bad
    resp: Response = _state().server.create_endpoint_response("introspection")
    return resp


@bp.post("/auth/revoke")
def revoke() -> Response:
    """RFC 7009 §2.1 revocation request."""
    g.hub_auth_kind = AuthEventKind.REVOKE
    bad = _form_only(AuthEventKind.REVOKE)
    if bad is not None:
        return bad
    resp: Response = _state().server.create_endpoint_response("revocation")
    return resp


def scopes_supported() -> list[str]:
    out = ["system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "system/*.*"]
    for t in SUPPORTED_TYPES:
        out += [f"system/{t}.cruds", f"system/{t}.rs"]
    return out


def smart_configuration(fhir_base: str) -> dict[str, Any]:
    """SMART App Launch 2.x §"Metadata" for a Backend Services server."""
    urls = auth_urls(fhir_base)
    return {
        "issuer": urls.token.rsplit("/", 1)[0],
        "token_endpoint": urls.token,
        "token_endpoint_auth_methods_supported": [AUTH_METHOD],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "grant_types_supported": [GRANT_TYPE],
        "registration_endpoint": urls.register,
        "introspection_endpoint": urls.introspect,
        "revocation_endpoint": urls.revoke,
        "scopes_supported": scopes_supported(),
        "response_types_supported": [],
        "capabilities": ["client-confidential-asymmetric", "permission-v2", "permission-v1"],
        "purposes_of_use_supported": [str(p) for p in PurposeOfUse],
    }


@bp.get("/fhir/.well-known/smart-configuration")
def smart_config() -> Response:
    resp = jsonify(smart_configuration(fhir_base_url()))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# The /fhir side -----------------------------------------------------------------------------


def authenticate(route: Route) -> SmartContext | PublicContext:
    """``app.extensions[AUTHENTICATOR]``: the bearer token (RFC 6750 §2.1) → access context.

    The CapabilityStatement is public (``PublicContext``); everything else needs an active
    token issued by this hub — else 401 with ``WWW-Authenticate: Bearer error="invalid_token"``.
    """
    if route.interaction is Interaction.CAPABILITIES:
        return PublicContext()
    state = _state()
    token = None
    try:
        validator, token_string = state.protector.parse_request_authorization(request)
        token = validator.authenticate_token(token_string)
        validator.validate_token(token, None, request)
    except OAuth2Error as err:
        why = err.error
        if token is not None:
            why = "revoked" if token.is_revoked() else "expired"
        elif err.error == "invalid_token":
            why = "not issued by this hub"
        record_auth_event(
            AuthEventKind.FHIR_TOKEN,
            AuthOutcome.REFUSED,
            token.client_id if token is not None else None,
            f"{request.method} {request.path}: {why}",
        )
        raise FhirError.of(
            401,
            IssueType.LOGIN,
            "A valid bearer access token is required (missing, expired, revoked or not issued "
            "by this hub); get one from the token endpoint in "
            ".well-known/smart-configuration",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
        ) from None
    return SmartContext(
        client_id=token.client_id,
        organization=token.organization,
        scopes=parse_scopes(token.scope),
        purpose_of_use=token.purpose_of_use,
        token_id=token.token_id,
        break_glass=token.purpose_of_use == PurposeOfUse.ETREAT and token.break_glass_allowed,
        privacy_officer=token.privacy_officer,
        lookup=state.lookup,
    )


def contribute_security(cs: dict[str, Any], base: str) -> None:
    """CapabilityStatement ``rest[0].security`` (SMART App Launch §"Capability Statement")."""
    if not has_request_context() or EXTENSION not in current_app.extensions:
        return
    urls = auth_urls(base)
    cs["rest"][0]["security"] = {
        "service": [
            {
                "coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}],
                "text": "OAuth2 using SMART-on-FHIR profile (Backend Services)",
            }
        ],
        "extension": [
            {
                "url": OAUTH_URIS,
                "extension": [
                    {"url": "token", "valueUri": urls.token},
                    {"url": "register", "valueUri": urls.register},
                    {"url": "introspect", "valueUri": urls.introspect},
                    {"url": "revoke", "valueUri": urls.revoke},
                ],
            }
        ],
        "description": "SMART Backend Services: client_credentials with private_key_jwt "
        "(RS384/ES384); SMART v2 system/ scopes. See .well-known/smart-configuration.",
    }


def install_routes(app: Flask, server: HubAuthorizationServer, lookup: ResourceLookup) -> None:
    """Register the blueprint, the bearer validator, and the CapabilityStatement contributor."""
    from hub.resources.capability import CONTRIBUTORS

    protector = ResourceProtector()
    protector.register_token_validator(HubBearerTokenValidator(server.tokens, realm=REALM))
    app.extensions[EXTENSION] = AuthState(server, protector, lookup)
    app.register_blueprint(bp)
    if contribute_security not in CONTRIBUTORS:
        CONTRIBUTORS.append(contribute_security)
