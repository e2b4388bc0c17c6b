"""The OpenAPI document: generated from the code, kept in openapi/openapi.json without drift."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.resources.routes import ROUTES

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    result = CliRunner().invoke(main, ["openapi"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_committed_document_is_what_the_code_generates(generated: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == generated, (
        "openapi/openapi.json is stale: run `hub openapi -o "
        + str(COMMITTED.relative_to(COMMITTED.parents[1]))
        + "`"
    )


def test_served_document_equals_the_cli_output(generated: dict[str, Any], tmp_path: Path) -> None:
    from hub.app import create_app
    from hub.config import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/o.db", data_dir=tmp_path))
    resp = app.test_client().get("/openapi/openapi.json")
    app.extensions["hub.db"].dispose()
    assert resp.status_code == 200
    assert resp.get_json() == generated


def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_route_is_documented_with_fhir_media_types(generated: dict[str, Any]) -> None:
    paths = generated["paths"]
    for route in ROUTES:
        path = "/fhir" + _flask_to_openapi(route.rule)
        op = paths.get(path, {}).get(route.method.lower())
        assert op is not None, f"{route.method} {path} is not documented"
        media = {m for r in op["responses"].values() for m in r.get("content", {})}
        assert media <= {"application/fhir+json"}, (path, media)
        errors = [s for s in op["responses"] if s.startswith("4")]
        assert "400" in errors


def test_security_is_required_except_on_public_endpoints(generated: dict[str, Any]) -> None:
    assert "smartBackendServices" in generated["components"]["securitySchemes"]
    flows = generated["components"]["securitySchemes"]["smartBackendServices"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/auth/token"
    assert "security" not in generated["paths"]["/fhir/metadata"]["get"]
    read = generated["paths"]["/fhir/{resource_type}/{res_id}"]["get"]
    assert read["security"] == [{"smartBackendServices": []}]
    assert "401" in read["responses"] and "403" in read["responses"]


def test_every_reference_resolves(generated: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    refs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(generated)
    assert refs
    for ref in refs:
        target: Any = generated
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, f"unresolved {ref}"
            target = target[part]
