"""OAuth2 authorization server for machine clients (SMART Backend Services) — issue 3.

``install(app)`` (called by ``create_app`` when ``Settings.auth_required``) wires the client
registry, the token store, authlib's authorization server (``hub.auth.server``), the Flask
routes (``hub.auth.http``) and the ``/fhir`` authenticator that turns a bearer token into a
``SmartContext`` whose ``authorize`` enforces SMART scopes (``hub.auth.context``).
"""

from __future__ import annotations

from flask import Flask


def install(app: Flask) -> None:
    """Install the SMART Backend Services authorization server and authenticator on ``app``."""
    from hub.auth.clients import ClientRegistry
    from hub.auth.context import ResourceLookup
    from hub.auth.http import auth_urls, authenticate, fhir_base_url, install_routes
    from hub.auth.server import HubAuthorizationServer
    from hub.auth.tokens import TokenStore
    from hub.fhir.searchparams import default_registry
    from hub.resources.http import AUTHENTICATOR
    from hub.store.db import Database

    db: Database = app.extensions["hub.db"]
    settings = app.config["HUB_SETTINGS"]
    server = HubAuthorizationServer(
        ClientRegistry(db),
        TokenStore(db),
        token_lifetime=settings.token_lifetime,
        audiences=lambda: [auth_urls(fhir_base_url()).token],
    )
    install_routes(app, server, ResourceLookup(db, default_registry()))
    app.extensions[AUTHENTICATOR] = authenticate
