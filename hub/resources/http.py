"""The thin Flask edge of the FHIR API: request in, ``dispatch``, response out.

Everything FHIR happens in handlers over plain values (``routes.py``); this module only turns
Flask's request into a ``FhirRequest``, opens the unit of work, and turns the ``FhirResponse``
(or a ``FhirError``, in ``errors.py``) into HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_smorest import Blueprint

from hub.audit import recorder
from hub.audit.recorder import AuditTrail
from hub.fhir.canonical import canonical, loads, pretty
from hub.fhir.errors import FhirError
from hub.resources.negotiation import FORM, check_body_type, response_type
from hub.resources.request import FhirRequest, FhirResponse
from hub.resources.routes import CONVERTERS, ROUTES, Route, apply_args, dispatch
from hub.store.db import Database
from hub.store.repository import Repository

bp = Blueprint(
    "fhir",
    __name__,
    url_prefix="/fhir",
    description="FHIR R4 RESTful API (http://hl7.org/fhir/R4/http.html), JSON only.",
)

#: ``app.extensions[AUTHENTICATOR]`` is called once per HTTP request to the FHIR API with the
#: matched route; it returns the access context (or raises ``FhirError`` 401) that every
#: handler then sees as ``FhirRequest.context``. ``hub.auth`` installs the SMART one.
AUTHENTICATOR = "hub.authenticator"


def fhir_base() -> str:
    configured = current_app.config["HUB_SETTINGS"].base_url
    return configured or request.host_url.rstrip("/") + "/fhir"


def _build_request(route: Route, args: dict[str, Any]) -> FhirRequest:
    settings = current_app.config["HUB_SETTINGS"]
    params = list(request.args.items(multi=True))
    body: Any = None
    if route.method in ("POST", "PUT", "PATCH"):
        is_search = route.endpoint == "search-type-post"
        check_body_type(route.method, request.content_type, form_ok=is_search)
        if is_search:
            if (request.mimetype or "") == FORM:
                params += list(request.form.items(multi=True))
        else:
            raw = request.get_data(cache=False)
            if not raw:
                raise FhirError.invalid("The request has no body")
            try:
                body = loads(raw)
            except ValueError as exc:
                raise FhirError.invalid(f"The body is not valid JSON: {exc}") from None
    req = FhirRequest(
        method=route.method,
        base=fhir_base(),
        params=params,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        context=getattr(g, "hub_context", None),
        max_count=settings.max_count,
        default_count=settings.default_count,
        consent_gate=settings.consent_gate,
        certificate_valid_months=settings.certificate_valid_months,
    )
    apply_args(req, {k: str(v) for k, v in args.items()})
    return req


def to_http(resp: FhirResponse, media: str, pretty_print: bool = False) -> Response:
    if resp.resource is not None:
        data = pretty(resp.resource) if pretty_print else canonical(resp.resource)
    elif resp.raw is not None:
        data = pretty(loads(resp.raw)) if pretty_print else resp.raw
    else:
        data = b""
    out = Response(data, status=resp.status, headers=resp.headers)
    if data:
        out.headers["Content-Type"] = f"{media}; charset=utf-8"
    return out


def _view(route: Route) -> Callable[..., Response]:
    def view(**args: Any) -> Response:
        media = response_type(request.headers.get("Accept"), request.args.get("_format"))
        trail = AuditTrail(address=request.remote_addr)
        db: Database = current_app.extensions["hub.db"]
        try:
            g.hub_context = current_app.extensions[AUTHENTICATOR](route)
            req = _build_request(route, args)
            req.audit = trail
            # every interaction writes its audit record, so every unit writes
            with db.unit(write=route.endpoint != "capabilities") as conn:
                resp = dispatch(route, req, Repository(conn))
        except FhirError as err:
            if err.status == 401:
                trail.pending.append(
                    recorder.refused(
                        recorder.new_record("auth", None, trail, request.path, None),
                        401,
                        err.issues[0].diagnostics if err.issues else "unauthenticated",
                    )
                )
            raise
        finally:
            if trail.pending:
                with db.unit(write=True) as conn:
                    for record in trail.pending:
                        recorder.write(Repository(conn), record)
        return to_http(resp, media, request.args.get("_pretty") == "true")

    view.__name__ = route.endpoint.replace("-", "_")
    view.__doc__ = route.summary
    return view


def register(app: Flask) -> None:
    """Install converters and the route table on ``app`` (the app registers the blueprint)."""
    app.url_map.converters.update(CONVERTERS)


for _route in ROUTES:
    bp.add_url_rule(
        _route.rule,
        endpoint=_route.endpoint,
        strict_slashes=False,
        view_func=_view(_route),
        methods=[_route.method],
        tags=["FHIR"],
    )
