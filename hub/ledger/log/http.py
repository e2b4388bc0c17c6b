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
without a valid token, 403 without the flag), checked by the same authenticator as ``/fhir``.
Hashes are base64; proofs carry the tree size and root they prove against, and the signed
checkpoint of that size when there is one. Errors are OperationOutcomes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

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


def _require_privacy_officer() -> None:
    """The /fhir authenticator (bearer token → context); 403 unless a privacy officer."""
    from hub.resources.http import AUTHENTICATOR

    context = current_app.extensions[AUTHENTICATOR](_ledger_route())
    settings: Settings = current_app.config["HUB_SETTINGS"]
    if settings.auth_required and not getattr(context, "privacy_officer", False):
        raise FhirError.of(
            403,
            IssueType.FORBIDDEN,
            "The ledger's proofs, entries and checkpoint list are for privacy officers: the "
            "client needs the privacy-officer flag",
        )


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
def sign_now() -> Response:
    """Sign the current tree head (privacy officers)."""
    _require_privacy_officer()
    with _db().unit(write=True) as conn:
        cp = store.make_checkpoint(conn, _config())
    resp = jsonify(cp.to_json())
    resp.status_code = 201
    return resp


@bp.get("/checkpoints")
def all_checkpoints() -> Response:
    _require_privacy_officer()
    with _db().unit(write=False) as conn:
        rows = store.checkpoints(conn)
    return jsonify({"checkpoints": [cp.to_json() for cp in rows]})


@bp.get("/proof/inclusion")
def inclusion() -> Response:
    _require_privacy_officer()
    index = _int("index", required=True)
    size = _int("size", required=False)
    assert index is not None
    try:
        with _db().unit(write=False) as conn:
            return jsonify(store.inclusion(conn, index, size))
    except (store.LedgerError, ProofError) as err:
        raise _fhir_error(err) from None


@bp.get("/proof/consistency")
def consistency() -> Response:
    _require_privacy_officer()
    first = _int("from", required=True)
    second = _int("to", required=False)
    assert first is not None
    try:
        with _db().unit(write=False) as conn:
            return jsonify(store.consistency(conn, first, second))
    except (store.LedgerError, ProofError) as err:
        raise _fhir_error(err) from None


@bp.get("/entries/<index>")
def one_entry(index: str) -> Response:
    _require_privacy_officer()
    if not index.isdigit() or len(index) > 19:
        raise FhirError.invalid("The entry index must be a non-negative integer", "index")
    try:
        with _db().unit(write=False) as conn:
            return jsonify(store.entry(conn, int(index)))
    except store.LedgerError as err:
        raise _fhir_error(err) from None
