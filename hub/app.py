"""``create_app(settings)``: wires the database, the FHIR API, auth and docs; nothing else."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify
from flask_smorest import Api

import hub
from hub.config import Settings
from hub.store.db import Database, make_engine


def create_app(settings: Settings | None = None) -> Flask:
    """The application factory (https://flask.palletsprojects.com/patterns/appfactories/)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        HUB_SETTINGS=settings,
        API_TITLE="Community support records hub",
        API_VERSION=hub.__version__,
        OPENAPI_VERSION="3.0.3",
        # served by _openapi_json below: smorest's document completed by hub.openapi
        OPENAPI_URL_PREFIX=None,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    db = Database(make_engine(settings.database_url, **settings.engine_options))
    if settings.auto_migrate:
        from hub.store.migrate import upgrade

        upgrade(db.engine)
        from hub.workflows.conformance import install_conformance

        install_conformance(db.engine)  # profiles/jp-hub served at their canonical urls
    app.extensions["hub.db"] = db
    if settings.audit_index_delay > 0:  # AuditEvents' search index, off the request path
        from hub.store import backlog

        backlog.install(
            db.engine, backlog.BacklogIndexer(db.engine, delay=settings.audit_index_delay)
        )

    from hub.resources import errors, http
    from hub.resources.routes import CONVERTERS

    http.register(app)
    if not settings.consent_gate:
        app.logger.warning("HUB_CONSENT_GATE=off: consent is NOT enforced (benchmarks only)")
    if not settings.auth_required:
        from hub.resources.context import SystemContext

        app.extensions[http.AUTHENTICATOR] = lambda route: SystemContext("HUB_AUTH=off")
    else:
        from hub.auth import install as install_auth

        install_auth(app)
    from hub.ledger.log import http as ledger_http

    ledger_http.install(app)
    api = Api(app)
    for conv in CONVERTERS.values():
        api.register_converter(conv, lambda c: {"type": "string", "pattern": c.regex})
    api.register_blueprint(http.bp)
    app.extensions["hub.api"] = api
    app.add_url_rule("/openapi/openapi.json", "openapi_json", _openapi_json)
    errors.install(app)  # after Api(): our OperationOutcome handlers replace smorest's
    return app


def _openapi_json() -> Response:
    """``GET /openapi/openapi.json``: the OpenAPI 3.0 document (hub.openapi)."""
    from hub.openapi import document

    return jsonify(document(current_app.extensions["hub.api"]))
