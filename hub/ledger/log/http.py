"""The ledger over HTTP, for privacy officers and external auditors (issue 5).

* ``GET /ledger/public-key`` — the verifier key ``<origin>+<key id>+<base64>``
  (c2sp.org/signed-note), or SubjectPublicKeyInfo PEM with ``?format=pem``; public.
* ``GET /ledger/checkpoint`` — the latest signed checkpoint (c2sp.org/tlog-checkpoint in a
  signed note), ``text/plain``; public (anyone may witness it).
* ``POST /ledger/checkpoint`` — sign the current tree head now.
* ``GET /ledger/checkpoints`` — every checkpoint, oldest first.
* ``GET /ledger/proof/inclusion?index=N[&size=M]`` — RFC 9162 §2.1.3 inclusion proof.
* ``GET /ledger/proof/consistency?from=A[&to=B]`` — RFC 9162 §2.1.4 consistency proof.
* ``GET /ledger/entries/N`` — one entry (its canonical bytes and leaf hash).

All but the first two need a bearer token of a client with the privacy-officer flag (401
without a valid token, 403 without the flag), checked by the same authenticator as ``/fhir``,
and are audited like any access: an AuditEvent (and its own ledger entry) per call, refusals
included (``_audited``).
Hashes are base64; proofs carry the tree size and root they prove against, and the signed
checkpoint of that size when there is one. Errors are OperationOutcomes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import Connection

from hub.config import Settings
from hub.fhir.codes import Interaction, IssueType
from hub.fhir.errors import FhirError
from hub.ledger.log import store
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.merkle import ProofError
from hub.store.db import Database

EXTENSION = "hub.ledger"
bp = Blueprint("hub_ledger", __name__, url_prefix="/ledger")


def install(app: Flask) -> None:
    """Register the blueprint; every append through the app's engine uses its key/settings."""
    settings: Settings = app.config["HUB_SETTINGS"]
    config = LedgerConfig.from_settings(settings)
    store.install(app.extensions["hub.db"].engine, config)
    app.extensions[EXTENSION] = config
    app.register_blueprint(bp)


def _config() -> LedgerConfig:
    config: LedgerConfig = current_app.extensions[EXTENSION]
    return config


def _db() -> Database:
    db: Database = current_app.extensions["hub.db"]
    return db


def _ledger_route() -> Any:
    from hub.resources.routes import Route

    def refuse(req: Any, repo: Any) -> Any:
        raise FhirError.not_found("not a FHIR interaction")

    return Route(
        "ledger", "/ledger", request.method, refuse, Interaction.OPERATION, False, "ledger"
    )


def _privacy_officer() -> Any:
    """The /fhir authenticator (bearer token → context; 401); 403 unless a privacy officer."""
    from hub.resources.http import AUTHENTICATOR

    context = current_app.extensions[AUTHENTICATOR](_ledger_route())
    settings: Settings = current_app.config["HUB_SETTINGS"]
    if settings.auth_required and not getattr(context, "privacy_officer", False):
        raise _Refused(
            context,
            FhirError.of(
                403,
                IssueType.FORBIDDEN,
                "The ledger's proofs, entries and checkpoint list are for privacy officers: the "
                "client needs the privacy-officer flag",
            ),
        )
    return context


class _Refused(Exception):
    def __init__(self, context: Any, error: FhirError) -> None:
        super().__init__(str(error))
        self.context, self.error = context, error


LedgerView = Callable[..., tuple[Response, str | None]]


def _audited(name: str) -> Callable[[LedgerView], Callable[..., Response]]:
    """A privacy-officer endpoint, audited like any access (issue 5): ``view(conn, **args)``
    returns the response and the ref of the entry it disclosed; its AuditEvent (BALP: subtype
    ``operation`` + ``ledger-<name>``, the client as agent, the query) and that event's own
    ledger entry are written in the same unit. Refusals (401, 403, bad input) are written in
    a unit of their own, as on ``/fhir``."""
    interaction = f"operation:ledger-{name}"

    def wrap(view: LedgerView) -> Callable[..., Response]:
        @functools.wraps(view)
        def run(**args: Any) -> Response:
            from hub.audit import recorder
            from hub.store.repository import Repository

            trail = recorder.AuditTrail(address=request.remote_addr)
            query = request.query_string.decode("utf-8", "replace") or None
            context: Any = None
            try:
                context = _privacy_officer()
                with _db().unit(write=True) as conn:
                    resp, target = view(conn, **args)
                    record = recorder.new_record(interaction, context, trail, target, query)
                    recorder.write(Repository(conn), record)
                return resp
            except (FhirError, _Refused) as exc:
                if isinstance(exc, _Refused):
                    context, err = exc.context, exc.error
                else:
                    err = exc
                kind = "auth" if err.status == 401 else interaction
                record = recorder.new_record(kind, context, trail, request.path, query)
                why = err.issues[0].diagnostics if err.issues else str(err.status)
                with _db().unit(write=True) as conn:
                    recorder.write(Repository(conn), recorder.refused(record, err.status, why))
                raise err from None

        return run

    return wrap


def _int(name: str, *, required: bool) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise FhirError.invalid(f"Parameter {name!r} is required", name)
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise FhirError.invalid(f"Parameter {name!r} must be a non-negative integer", name)
    return int(raw)


def _fhir_error(err: Exception) -> FhirError:
    if isinstance(err, store.LedgerError):
        if err.status == 404:
            return FhirError.not_found(str(err))
        if err.status == 400:
            return FhirError.invalid(str(err), *([err.param] if err.param else []))
    return FhirError.of(
        500,
        IssueType.EXCEPTION,
        f"The stored ledger does not verify ({err}); run hub ledger verify",
    )


def _text(body: str, mimetype: str = "text/plain") -> Response:
    return Response(body, mimetype=mimetype, headers={"Cache-Control": "no-store"})


@bp.get("/public-key")
def public_key() -> Response:
    """The ledger's Ed25519 verifier key (or PEM with ``?format=pem``)."""
    config = _config()
    if request.args.get("format") == "pem":
        return _text(config.public_pem().decode("ascii"), "application/x-pem-file")
    return _text(config.verifier_key() + "\n")


@bp.get("/checkpoint")
def latest() -> Response:
    """The latest signed checkpoint note."""
    with _db().unit(write=False) as conn:
        cp = store.latest_checkpoint(conn)
    if cp is None:
        raise FhirError.not_found("No checkpoint has been signed yet")
    return _text(cp.note)


@bp.post("/checkpoint")
@_audited("sign-checkpoint")
def sign_now(conn: Connection) -> tuple[Response, str | None]:
    """Sign the current tree head (privacy officers)."""
    cp = store.make_checkpoint(conn, _config())
    resp = jsonify(cp.to_json())
    resp.status_code = 201
    return resp, None


@bp.get("/checkpoints")
@_audited("checkpoints")
def all_checkpoints(conn: Connection) -> tuple[Response, str | None]:
    """Every checkpoint, oldest first (privacy officers)."""
    return jsonify({"checkpoints": [cp.to_json() for cp in store.checkpoints(conn)]}), None


@bp.get("/proof/inclusion")
@_audited("inclusion-proof")
def inclusion(conn: Connection) -> tuple[Response, str | None]:
    """RFC 9162 §2.1.3 inclusion proof of entry ``index`` (privacy officers)."""
    index = _int("index", required=True)
    size = _int("size", required=False)
    assert index is not None
    try:
        out = store.inclusion(conn, index, size)
    except (store.LedgerError, ProofError) as err:
        raise _fhir_error(err) from None
    return jsonify(out), str(out["entry"]["ref"])


@bp.get("/proof/consistency")
@_audited("consistency-proof")
def consistency(conn: Connection) -> tuple[Response, str | None]:
    """RFC 9162 §2.1.4 consistency proof between two tree sizes (privacy officers)."""
    first = _int("from", required=True)
    second = _int("to", required=False)
    assert first is not None
    try:
        return jsonify(store.consistency(conn, first, second)), None
    except (store.LedgerError, ProofError) as err:
        raise _fhir_error(err) from None


@bp.get("/entries/<index>")
@_audited("entry")
def one_entry(conn: Connection, index: str) -> tuple[Response, str | None]:
    """One entry: its canonical bytes and leaf hash (privacy officers)."""
    if not index.isdigit() or len(index) > 19:
        raise FhirError.invalid("The entry index must be a non-negative integer", "index")
    try:
        out = store.entry(conn, int(index))
    except store.LedgerError as err:
        raise _fhir_error(err) from None
    return jsonify(out), str(out["ref"])
