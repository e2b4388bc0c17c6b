"""The one place errors become HTTP: ``FhirError`` → its status and OperationOutcome.

Unexpected exceptions are logged with a reference and answered with a bare 500
OperationOutcome carrying only that reference — never a stack trace or patient data.
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from hub.fhir.canonical import canonical
from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError

log = logging.getLogger("hub.errors")

_HTTP_CODES = {
    404: IssueType.NOT_FOUND,
    405: IssueType.NOT_SUPPORTED,
    413: IssueType.TOO_COSTLY,
    400: IssueType.INVALID,
    415: IssueType.NOT_SUPPORTED,
    406: IssueType.NOT_SUPPORTED,
}


def error_response(err: FhirError) -> Response:
    resp = Response(canonical(err.outcome), status=err.status, headers=err.headers)
    resp.headers["Content-Type"] = "application/fhir+json; charset=utf-8"
    return resp


def install(app: Flask) -> None:
    @app.errorhandler(FhirError)
    def _fhir_error(err: FhirError) -> Response:
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        code = err.code or 500
        return error_response(
            FhirError.of(
                code,
                _HTTP_CODES.get(code, IssueType.PROCESSING),
                f"{err.name}: {request.method} {request.path}",
            )
        )

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.exception("unexpected error ref=%s on %s %s", ref, request.method, request.path)
        return error_response(
            FhirError.of(500, IssueType.EXCEPTION, f"Internal server error (reference {ref})")
        )
