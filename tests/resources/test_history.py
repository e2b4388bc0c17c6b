"""History over HTTP (``hub.resources.history``; http://hl7.org/fhir/R4/http.html#history):
type and system history with paging, and the bound on what a consent-gated history decides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.auth import schema as _auth_schema  # noqa: F401  (tables on the shared metadata)
from hub.resources import history
from tests.access import World, make_world, register_person
from tests.auth.helpers import Hub, make_app
from tests.resources.helpers import patient, post, put


def _create(client: Any) -> dict[str, Any]:
    resp = post(client, "Patient", patient())
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return dict(resp.get_json(force=True))


def test_history_type_and_system(client: Any) -> None:
    a = _create(client)
    _create(client)
    put(client, f"Patient/{a['id']}", {**a, "gender": "female"})
    post(client, "Organization", {"resourceType": "Organization", "name": "絆"})
    t = client.get("/fhir/Patient/_history").get_json(force=True)
    assert t["total"] == 3
    s = client.get("/fhir/_history?_count=2").get_json(force=True)
    assert s["total"] == 4 and len(s["entry"]) == 2
    assert any(link["relation"] == "next" for link in s["link"])
    nxt = next(link["url"] for link in s["link"] if link["relation"] == "next")
    page2 = client.get(nxt.split("localhost", 1)[1]).get_json(force=True)
    assert len(page2["entry"]) == 2
    first_ids = {e["fullUrl"] + e["response"]["etag"] for e in s["entry"]}
    assert not first_ids & {e["fullUrl"] + e["response"]["etag"] for e in page2["entry"]}
    assert client.get("/fhir/_history?_since=not-a-date").status_code == 400


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    app = make_app(database_url, tmp_path)
    w = make_world(Hub(app))
    register_person(w)
    yield w
    app.extensions["hub.db"].dispose()


def test_a_gated_history_deciding_too_many_versions_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consent-gated type or system history decides its candidates in rounds of
    ``HISTORY_CHUNK``; past ``HISTORY_SCAN_LIMIT`` it is refused as too costly (400, code
    ``too-costly``), and narrowing it with ``_since`` answers again."""
    a = world.tokens["a"]
    whole = world.get(a, "_history")
    assert whole.status_code == 200 and whole.get_json()["total"] >= 3
    monkeypatch.setattr(history, "HISTORY_CHUNK", 1)
    monkeypatch.setattr(history, "HISTORY_SCAN_LIMIT", 2)
    refused = world.get(a, "_history")
    assert refused.status_code == 400
    issue = refused.get_json()["issue"][0]
    assert issue["code"] == "too-costly" and "_since" in issue["diagnostics"]
    later = world.get(a, "_history?_since=2999-01-01T00:00:00Z")
    assert later.status_code == 200 and later.get_json()["total"] == 0
