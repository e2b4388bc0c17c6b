"""The route table: every FHIR interaction the hub serves, once.

The HTTP edge registers these rules with Flask; Bundle entries (batch/transaction) are matched
against the same table through a standalone werkzeug ``Map``; the CapabilityStatement is
generated from it. Adding an interaction is adding a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule

from hub.fhir.codes import Interaction, IssueType
from hub.fhir.errors import FhirError
from hub.fhir.searchparams import SUPPORTED_TYPES
from hub.resources import interactions as i
from hub.resources import search as s
from hub.resources.history import history
from hub.resources.request import FhirRequest, FhirResponse
from hub.store.repository import Repository

Handler = Callable[[FhirRequest, Repository], FhirResponse]


class ResourceTypeConverter(BaseConverter):
    """A resource type name (http://hl7.org/fhir/R4/resourcelist.html)."""

    regex = r"[A-Z][A-Za-z]{1,63}"


class IdConverter(BaseConverter):
    """A logical id (http://hl7.org/fhir/R4/datatypes.html#id)."""

    regex = r"[A-Za-z0-9\-.]{1,64}"


CONVERTERS = {"rtype": ResourceTypeConverter, "fid": IdConverter}


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: str
    rule: str
    method: str
    handler: Handler
    interaction: Interaction
    write: bool
    summary: str


def _bundle(req: FhirRequest, repo: Repository) -> FhirResponse:
    from hub.resources.transaction import process_bundle

    return process_bundle(req, repo)


def _capabilities(req: FhirRequest, repo: Repository) -> FhirResponse:
    from hub.resources.capability import capability_statement

    return FhirResponse(200, resource=capability_statement(req.base, repo.registry))


def _op(name: str) -> Handler:
    def handler(req: FhirRequest, repo: Repository) -> FhirResponse:
        from hub.resources import operations

        fn: Handler = getattr(operations, name)
        return fn(req, repo)

    handler.__name__ = name
    return handler


T = "/<rtype:resource_type>"
ID = T + "/<fid:res_id>"


def _wf(module: str, name: str) -> Handler:
    """A handler of ``hub.workflows.<module>`` (imported on first use)."""

    def handler(req: FhirRequest, repo: Repository) -> FhirResponse:
        from importlib import import_module

        fn: Handler = getattr(import_module(f"hub.workflows.{module}"), name)
        return fn(req, repo)

    handler.__name__ = name
    return handler


ROUTES: tuple[Route, ...] = (
    Route(
        "capabilities",
        "/metadata",
        "GET",
        _capabilities,
        Interaction.CAPABILITIES,
        False,
        "The CapabilityStatement, generated from the route table and search parameters",
    ),
    Route(
        "bundle",
        "/",
        "POST",
        _bundle,
        Interaction.TRANSACTION,
        True,
        "Process a batch or transaction Bundle",
    ),
    Route(
        "history-system",
        "/_history",
        "GET",
        history,
        Interaction.HISTORY_SYSTEM,
        False,
        "History of all resources",
    ),
    Route(
        "search-type", T, "GET", s.search, Interaction.SEARCH_TYPE, False, "Search a resource type"
    ),
    Route(
        "search-type-post",
        T + "/_search",
        "POST",
        s.search,
        Interaction.SEARCH_TYPE,
        False,
        "Search a resource type (parameters in a form body)",
    ),
    Route(
        "create",
        T,
        "POST",
        i.create,
        Interaction.CREATE,
        True,
        "Create a resource (If-None-Exist for a conditional create)",
    ),
    Route(
        "conditional-update",
        T,
        "PUT",
        i.conditional_update,
        Interaction.UPDATE,
        True,
        "Conditional update",
    ),
    Route(
        "conditional-patch",
        T,
        "PATCH",
        i.conditional_patch,
        Interaction.PATCH,
        True,
        "Conditional patch (JSON Patch)",
    ),
    Route(
        "conditional-delete",
        T,
        "DELETE",
        i.conditional_delete,
        Interaction.DELETE,
        True,
        "Conditional delete (single match)",
    ),
    Route(
        "history-type",
        T + "/_history",
        "GET",
        history,
        Interaction.HISTORY_TYPE,
        False,
        "History of a resource type",
    ),
    Route("read", ID, "GET", i.read, Interaction.READ, False, "Read the current version"),
    Route(
        "update",
        ID,
        "PUT",
        i.update,
        Interaction.UPDATE,
        True,
        "Update (or create with a client id); If-Match for version-aware updates",
    ),
    Route("patch", ID, "PATCH", i.patch, Interaction.PATCH, True, "Patch (JSON Patch, RFC 6902)"),
    Route("delete", ID, "DELETE", i.delete, Interaction.DELETE, True, "Delete (logical)"),
    Route(
        "history-instance",
        ID + "/_history",
        "GET",
        history,
        Interaction.HISTORY_INSTANCE,
        False,
        "History of one resource",
    ),
    Route(
        "vread",
        ID + "/_history/<vid>",
        "GET",
        i.vread,
        Interaction.VREAD,
        False,
        "Read one version",
    ),
    Route(
        "everything",
        ID + "/$everything",
        "GET",
        _op("everything"),
        Interaction.OPERATION,
        False,
        "Patient $everything: the patient's compartment, consent-gated",
    ),
    Route(
        "break-glass",
        ID + "/$break-glass",
        "POST",
        _op("break_glass_op"),
        Interaction.OPERATION,
        True,
        "Emergency access (break-glass) to one patient, with a reason; reviewed later",
    ),
    Route(
        "break-glass-queue",
        "/$break-glass-review",
        "GET",
        _op("break_glass_queue"),
        Interaction.OPERATION,
        False,
        "Privacy officers: the break-glass grants awaiting review",
    ),
    Route(
        "break-glass-review",
        "/$break-glass-review",
        "POST",
        _op("break_glass_review"),
        Interaction.OPERATION,
        True,
        "Privacy officers: close a break-glass review (id, justified, comment)",
    ),
    Route(
        "register",
        T + "/$register",
        "POST",
        _wf("register", "register"),
        Interaction.OPERATION,
        True,
        "Patient $register: a completed 緊急時利用登録届 or 変更届 → the person's resources, "
        "consent and register entry, in one transaction (idempotent)",
    ),
    Route(
        "share-registration",
        ID + "/$share-registration",
        "POST",
        _wf("share", "share_registration"),
        Interaction.OPERATION,
        True,
        "Patient $share-registration: share the registration with the providers expected to act "
        "(register entry, consent permit and a Communication recording the share)",
    ),
    Route(
        "health-certificate",
        ID + "/$health-certificate",
        "GET",
        _wf("certificates", "health_certificate"),
        Interaction.OPERATION,
        False,
        "Patient $health-certificate: the latest health certificate (健康診断書共通様式) and "
        "whether it is still valid (date)",
    ),
    Route(
        "monitoring-due",
        T + "/$monitoring-due",
        "GET",
        _wf("careplans", "monitoring_due"),
        Interaction.OPERATION,
        False,
        "Task $monitoring-due: an office's monitoring Tasks due by a date (owner, date)",
    ),
)

BY_ENDPOINT = {r.endpoint: r for r in ROUTES}
#: types whose writes ``hub.workflows.hooks.after_write`` follows up in the same transaction
WORKFLOW_TYPES = frozenset({"CarePlan", "QuestionnaireResponse", "Consent"})

URL_MAP = Map(
    [Rule(r.rule, endpoint=r.endpoint, methods=[r.method]) for r in ROUTES],
    converters=CONVERTERS,
    strict_slashes=False,
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """Match ``method path`` (relative to the FHIR base) to a route, or raise ``FhirError``."""
    adapter = URL_MAP.bind("hub.invalid", "/")
    try:
        endpoint, args = adapter.match("/" + path.lstrip("/"), method=method)
    except MethodNotAllowed:
        raise FhirError.not_supported(f"{method} is not allowed on {path!r}", status=405) from None
    except NotFound:
        raise FhirError.not_found(f"No FHIR interaction at {path!r}") from None
    return BY_ENDPOINT[str(endpoint)], {k: str(v) for k, v in args.items()}


def apply_args(req: FhirRequest, args: dict[str, str]) -> None:
    """Fill the request's path parts and check the resource type is one the hub serves."""
    req.resource_type = args.get("resource_type")
    req.res_id = args.get("res_id")
    req.version_id = args.get("vid")
    if req.resource_type is not None and req.resource_type not in SUPPORTED_TYPES:
        raise FhirError.not_supported(
            f"Resource type {req.resource_type!r} is not supported by this server", status=404
        )


def dispatch(route: Route, req: FhirRequest, repo: Repository) -> FhirResponse:
    """Run one interaction: the single place every request and Bundle entry passes through.

    Deny by default: no access context → 401; the context's ``authorize`` (SMART scopes)
    runs for every HTTP request *and* every Bundle entry.
    """
    if req.context is None:
        raise FhirError.of(
            401,
            IssueType.LOGIN,
            "Authentication is required",
            headers={"WWW-Authenticate": 'Bearer realm="hub"'},
        )
    if route.endpoint == "capabilities":
        return route.handler(req, repo)
    from hub.access.gate import Gate
    from hub.audit import recorder

    req.gate = Gate(repo.conn, req.context, enforced=req.consent_gate)
    target = "/".join(p for p in (req.resource_type, req.res_id) if p) or None
    query = urlencode(req.params) if req.params else None
    record = recorder.new_record(str(route.interaction), req.context, req.audit, target, query)
    if record.purpose is None and not req.gate.unrestricted:
        record.purpose = req.gate.purpose  # the purpose the gate decided under (default TREAT)
    try:
        if route.write and req.resource_type == "AuditEvent":  # before scopes: never allowed
            raise FhirError.not_supported(
                "AuditEvents are written by the hub only; they cannot be created, changed or "
                "deleted",
                status=405,
            )
        req.context.authorize(route, req)
        resp = route.handler(req, repo)
        if route.write and req.resource_type in WORKFLOW_TYPES:  # the base's rules (issue 6)
            from hub.workflows.hooks import after_write

            after_write(req, repo, resp)
    except FhirError as err:
        record.disclosures = recorder.disclosures(req.gate.verdicts)
        recorder.refused(record, err.status, err.issues[0].diagnostics if err.issues else "")
        if req.audit is not None:
            req.audit.pending.append(record)
        raise
    record.disclosures = recorder.disclosures(req.gate.verdicts)
    if route.write and resp.status < 300:
        record.written = recorder.written(repo, resp.headers.get("Location"))
    record.break_glass_reason = next(
        (v.break_glass_reason for v in req.gate.verdicts if v.break_glass_reason), None
    )
    if route.endpoint != "bundle":  # each entry of a Bundle is audited as its own interaction
        recorder.write(repo, record)
    return resp
