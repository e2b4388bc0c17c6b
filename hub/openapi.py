"""The hub's OpenAPI 3.0 document: flask-smorest's, completed with what FHIR clients need.

flask-smorest documents every route of the ``/fhir`` blueprint from the route table (so the
document follows the code). This module adds what smorest cannot see:

* the security scheme — OAuth 2.0 client credentials at ``/auth/token`` (SMART Backend
  Services, https://hl7.org/fhir/smart-app-launch/backend-services.html) — and which
  operations need it (all of ``/fhir`` except ``metadata`` and the SMART configuration);
* FHIR media types on request and response bodies (``application/fhir+json``; JSON Patch for
  ``PATCH``), the success status of each interaction, and ``OperationOutcome`` for errors
  (http://hl7.org/fhir/R4/http.html);
* the authorization server's own endpoints (RFC 6749 token, RFC 7591 registration, RFC 7662
  introspection, RFC 7009 revocation, SMART discovery), which live on a plain Flask blueprint;
* the ledger's endpoints (``/ledger``: verifier key, checkpoints, RFC 9162 proofs, entries),
  also a plain blueprint; all but the key and the latest checkpoint need the scheme.

``hub openapi`` prints the document; ``openapi/openapi.json`` in the repository is that output,
and a test fails when the two drift apart.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Api

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
FORM = "application/x-www-form-urlencoded"
SCHEME = "smartBackendServices"

#: success status per (path suffix, method) of the FHIR interactions (http.html#summary)
_SUCCESS = {
    "post": ("201", "Created (create); 200 for batch/transaction and _search"),
    "put": ("200", "Updated (201 when the update created the resource)"),
    "patch": ("200", "Patched"),
    "delete": ("204", "Deleted (logical delete; a later read answers 410 Gone)"),
    "get": ("200", "OK"),
}


def _resource(ref: str) -> dict[str, Any]:
    return {FHIR_JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _components(api: Api) -> None:
    spec = api.spec
    spec.components.schema(
        "Resource",
        {
            "type": "object",
            "description": "A FHIR R4 resource (http://hl7.org/fhir/R4/resource.html)",
            "required": ["resourceType"],
            "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}},
            "additionalProperties": True,
        },
    )
    spec.components.schema(
        "OperationOutcome",
        {
            "type": "object",
            "description": "http://hl7.org/fhir/R4/operationoutcome.html — `issue.expression` "
            "names the offending element or parameter",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                "issue": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {"type": "string"},
                            "code": {"type": "string"},
                            "diagnostics": {"type": "string"},
                            "expression": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
    )
    spec.components.security_scheme(
        SCHEME,
        {
            "type": "oauth2",
            "description": "SMART Backend Services: client_credentials with a private_key_jwt "
            "client assertion (RFC 7523, RS384 or ES384); SMART v2 system/ scopes",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/auth/token",
                    "scopes": {
                        "system/*.cruds": "all interactions on all types (if the client may)",
                        "system/Patient.rs": "read and search Patients (pattern: "
                        "system/<Type>.<c r u d s>)",
                    },
                }
            },
        },
    )
    spec.components.security_scheme(
        "initialAccessToken",
        {"type": "http", "scheme": "bearer", "description": "RFC 7591 §3 (hub admin-token)"},
    )


def _form_body(required: list[str], props: dict[str, str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": required,
                    "properties": {
                        k: {"type": "string", "description": v} for k, v in props.items()
                    },
                }
            }
        },
    }


def _json(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {}}}}


def _auth_paths() -> dict[str, dict[str, Any]]:
    """The authorization server's endpoints (hub/auth/http.py)."""
    error = _json("RFC 6749 §5.2 error (invalid_client, invalid_scope, invalid_grant, …)")
    paths: dict[str, dict[str, Any]] = {
        "/auth/token": {
            "post": {
                "tags": ["Authorization"],
                "summary": "Token endpoint (RFC 6749 §4.4 client credentials; RFC 7523 assertion)",
                "requestBody": _form_body(
                    ["grant_type", "client_assertion_type", "client_assertion"],
                    {
                        "grant_type": "client_credentials",
                        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:"
                        "jwt-bearer",
                        "client_assertion": "JWT signed with the client's registered key",
                        "scope": "space-separated SMART scopes (may narrow, never widen)",
                        "purpose_of_use": "HL7 v3 PurposeOfUse code (TREAT default; ETREAT for "
                        "emergencies)",
                    },
                ),
                "responses": {"200": _json("Access token (RFC 6749 §5.1)"), "400": error},
            }
        },
        "/auth/register": {
            "post": {
                "tags": ["Authorization"],
                "summary": "Dynamic client registration (RFC 7591) with an initial access token",
                "security": [{"initialAccessToken": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
                "responses": {"201": _json("Client information (RFC 7591 §3.2.1)"), "400": error},
            }
        },
        "/auth/introspect": {
            "post": {
                "tags": ["Authorization"],
                "summary": "Token introspection (RFC 7662), private_key_jwt client authentication",
                "requestBody": _form_body(["token"], {"token": "the access token"}),
                "responses": {"200": _json("RFC 7662 §2.2 response"), "401": error},
            }
        },
        "/auth/revoke": {
            "post": {
                "tags": ["Authorization"],
                "summary": "Token revocation (RFC 7009), private_key_jwt client authentication",
                "requestBody": _form_body(["token"], {"token": "the access token"}),
                "responses": {"200": {"description": "Revoked (or unknown)"}, "401": error},
            }
        },
        "/fhir/.well-known/smart-configuration": {
            "get": {
                "tags": ["Authorization"],
                "summary": "SMART configuration (discovery), public",
                "responses": {"200": _json("SMART configuration document")},
            }
        },
    }
    return paths


def _obj(description: str, props: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": props}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 0}
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}  # fmt: skip


def _ledger_paths() -> dict[str, dict[str, Any]]:
    """The ledger's endpoints (hub/ledger/log/http.py; issue 5; RFC 9162 §2.1, C2SP notes).

    The public key and the latest checkpoint are public (anyone may witness them); the rest
    is for privacy officers (a token of a client with the privacy-officer flag) and audited.
    """
    b64 = {"type": "string", "format": "byte"}
    hashes = {"type": "array", "items": b64, "description": "base64 hashes, leaf → root"}
    note = {"type": "string", "nullable": True, "description": "C2SP signed note"}
    entry = {
        "index": {"type": "integer"},
        "kind": {"type": "string", "enum": ["access", "consent"]},
        "ref": {"type": "string", "description": "AuditEvent/<id>/_history/1 or Consent/…"},
        "entry": {"type": "string", "description": "the leaf: canonical JSON"},
        "leaf_hash": {**b64, "description": "SHA-256(0x00 ‖ entry)"},
        "created": {"type": "integer", "description": "µs since the Unix epoch"},
    }
    checkpoint = {"size": {"type": "integer"}, "root": b64, "time": {"type": "integer"},
                  "note": note}  # fmt: skip
    text = {"text/plain": {"schema": {"type": "string"}}}

    def officer(summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
        errors = {
            "400": "Invalid parameter (issue.expression names it)",
            "401": "No or invalid token",
            "403": "Not a privacy officer",
            "404": "No such entry, or no checkpoint yet",
        }
        responses = {s: {"description": d, "content": _resource("OperationOutcome")}
                     for s, d in errors.items()}  # fmt: skip
        return {"tags": ["Ledger"], "summary": summary, "security": [{SCHEME: []}],
                "responses": {**ok, **responses}, **extra}  # fmt: skip

    return {
        "/ledger/public-key": {
            "get": {
                "tags": ["Ledger"],
                "summary": "The Ed25519 verifier key (c2sp.org/signed-note), public",
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["pem"]},
                        "description": "pem: SubjectPublicKeyInfo PEM instead",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "<origin>+<key id>+<base64 key>",
                        "content": {
                            **text,
                            "application/x-pem-file": {"schema": {"type": "string"}},
                        },
                    }
                },
            }
        },
        "/ledger/checkpoint": {
            "get": {
                "tags": ["Ledger"],
                "summary": "The latest signed checkpoint (c2sp.org/tlog-checkpoint), public",
                "responses": {
                    "200": {"description": "Signed note", "content": text},
                    "404": {
                        "description": "No checkpoint yet",
                        "content": _resource("OperationOutcome"),
                    },
                },
            },
            "post": officer(
                "Sign the current tree head now",
                {"201": _obj("The new checkpoint", checkpoint)},
            ),
        },
        "/ledger/checkpoints": {
            "get": officer(
                "Every checkpoint, oldest first",
                {
                    "200": _obj(
                        "Checkpoints",
                        {
                            "checkpoints": {
                                "type": "array",
                                "items": {"type": "object", "properties": checkpoint},
                            }
                        },
                    )
                },
            )
        },
        "/ledger/proof/inclusion": {
            "get": officer(
                "Inclusion proof of one entry (RFC 9162 §2.1.3)",
                {
                    "200": _obj(
                        "The proof, the entry and the tree head it proves against",
                        {
                            "index": {"type": "integer"},
                            "size": {"type": "integer"},
                            "entry": {"type": "object", "properties": entry},
                            "leaf_hash": b64,
                            "proof": hashes,
                            "root": b64,
                            "checkpoint": note,
                        },
                    )
                },
                parameters=[
                    _query("index", "The entry's index", required=True),
                    _query("size", "Tree size (default: the latest checkpoint's)"),
                ],
            )
        },
        "/ledger/proof/consistency": {
            "get": officer(
                "Consistency proof between two tree sizes (RFC 9162 §2.1.4)",
                {
                    "200": _obj(
                        "The proof and both tree heads",
                        {
                            "from": {"type": "integer"},
                            "to": {"type": "integer"},
                            "proof": hashes,
                            "root_from": b64,
                            "root_to": b64,
                            "checkpoint_from": note,
                            "checkpoint_to": note,
                        },
                    )
                },
                parameters=[
                    _query("from", "The older tree size", required=True),
                    _query("to", "The newer tree size (default: the latest checkpoint's)"),
                ],
            )
        },
        "/ledger/entries/{index}": {
            "get": officer(
                "One entry: its canonical bytes and leaf hash",
                {"200": _obj("The entry", entry)},
                parameters=[
                    {
                        "name": "index",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }
                ],
            )
        },
    }


def _complete_fhir_paths(doc: dict[str, Any]) -> None:
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/fhir"):
            continue
        public = path in ("/fhir/metadata", "/fhir/.well-known/smart-configuration")
        for method, op in item.items():
            if method not in _SUCCESS:
                continue
            if "FHIR" not in op.get("tags", []):
                continue
            code, text = _SUCCESS[method]
            responses = op.setdefault("responses", {})
            responses.pop("default", None)
            if method == "delete":
                responses[code] = {"description": text}
            else:
                responses[code] = {"description": text, "content": _resource("Resource")}
            errors = {"400": "Invalid request", "404": "Unknown, or not visible to the caller"}
            if not public:
                errors |= {"401": "No or invalid token", "403": "Missing scope"}
                op["security"] = [{SCHEME: []}]
            if method in ("put", "patch", "delete"):
                errors["412"] = "If-Match version conflict"
            for status, description in errors.items():
                responses[status] = {
                    "description": description,
                    "content": _resource("OperationOutcome"),
                }
            if method in ("post", "put"):
                op["requestBody"] = {"required": True, "content": _resource("Resource")}
            elif method == "patch":
                op["requestBody"] = {
                    "required": True,
                    "content": {JSON_PATCH: {"schema": {"type": "array", "items": {}}}},
                }


def document(api: Api) -> dict[str, Any]:
    """The complete OpenAPI document of the app that owns ``api``."""
    if "OperationOutcome" not in api.spec.components.schemas:
        _components(api)
    doc = api.spec.to_dict()
    paths = {**doc.get("paths", {}), **_auth_paths(), **_ledger_paths()}
    doc["paths"] = dict(sorted(paths.items()))
    doc.get("components", {}).get("responses", {}).pop("DEFAULT_ERROR", None)
    doc.get("components", {}).get("schemas", {}).pop("Error", None)
    _complete_fhir_paths(doc)
    return dict(doc)
