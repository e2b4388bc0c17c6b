"""Every path through the gate, on SQLite and PostgreSQL: the leaks the SQL pre-filter alone left
open (it is only a superset of what the engine permits), and ``HUB_CONSENT_GATE=off``.

Each of the first tests failed before its fix in ``hub/resources`` (search totals and paging,
history totals and paging, conditional interactions on hidden resources).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.auth import schema as _auth_schema  # noqa: F401  (tables on the shared metadata)
from tests.access import (
    FAMILY,
    PROVIDER_A,
    WRITER_SCOPE,
    Person,
    World,
    ids,
    make_world,
    next_link,
    register_person,
)
from tests.auth.helpers import Hub, make_app


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    app = make_app(database_url, tmp_path)
    w = make_world(Hub(app))
    w.client("a-writer", PROVIDER_A, WRITER_SCOPE)
    w.tokens["a-writer"] = w.token("a-writer", WRITER_SCOPE, "TREAT")
    yield w
    app.extensions["hub.db"].dispose()


@pytest.fixture
def person(world: World) -> Person:
    return register_person(world)


def _bundle(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.get_json()
    return dict(resp.get_json())


def test_count_only_counts_what_the_caller_may_see(world: World, person: Person) -> None:
    """``_summary=count`` used to count the pre-filter's candidates: the unagreed contact too."""
    a = world.tokens["a"]
    for q in ("_summary=count", "_total=accurate&_count=0"):
        b = _bundle(world.get(a, f"RelatedPerson?patient=Patient/{person.patient}&{q}"))
        assert b["total"] == 1 and ids(b) == [], q


def test_search_pages_are_full_and_totals_exact(world: World, person: Person) -> None:
    """A hidden match used to leave a page short (and the total counted it on other pages)."""
    a = world.tokens["a"]
    url: str | None = f"RelatedPerson?name={FAMILY}&_count=1&_sort=-_lastUpdated"
    pages = []
    while url is not None:
        bundle = _bundle(world.get(a, url))
        pages.append((bundle["total"], ids(bundle)))
        url = next_link(bundle)
    assert pages == [(1, [f"RelatedPerson/{person.contact}"])]


def test_history_totals_and_pages_count_visible_versions_only(world: World, person: Person) -> None:
    """Type and system history used to report the total of *all* versions (a leak of how much
    hidden data there is) and to page over hidden ones (short or empty pages)."""
    b, a = world.tokens["b"], world.tokens["a"]
    for path in ("Patient/_history", "CarePlan/_history", "_history"):
        bundle = _bundle(world.get(b, path))
        assert (bundle.get("total"), ids(bundle)) == (0, []), path
        assert next_link(bundle) is None
    # A sees the person's resources but not the unagreed contact: exact totals, full pages
    got = _bundle(world.get(a, "RelatedPerson/_history?_count=1"))
    assert got["total"] == 1 and ids(got) == [f"RelatedPerson/{person.contact}"]
    assert next_link(got) is None
    everything: list[str] = []
    url: str | None = "_history?_count=2"
    while url is not None:
        page = _bundle(world.get(a, url))
        assert len(ids(page)) == 2 or next_link(page) is None
        everything += ids(page)
        url = next_link(page)
    assert f"RelatedPerson/{person.unagreed_contact}" not in everything
    assert f"Patient/{person.patient}" in everything and len(everything) == page["total"]


def test_chains_are_decided_not_just_prefiltered(world: World, person: Person) -> None:
    """A chain used to be bounded by the SQL pre-filter only: through a Condition A may see,
    ``asserter:RelatedPerson.name=次郎`` probed the name of a contact A may not see."""
    a, core = world.tokens["a"], world.tokens["core"]
    for contact in (person.contact, person.unagreed_contact):
        world.create(
            core,
            {
                "resourceType": "Condition",
                "subject": {"reference": f"Patient/{person.patient}"},
                "asserter": {"reference": f"RelatedPerson/{contact}"},
                "code": {"text": "架空の申告"},
            },
        )
    agreed = _bundle(world.get(a, "Condition?asserter:RelatedPerson.name=一郎"))
    assert agreed["total"] == 1 and len(ids(agreed)) == 1
    hidden = _bundle(world.get(a, "Condition?asserter:RelatedPerson.name=次郎"))
    assert (hidden["total"], ids(hidden)) == (0, [])
    counted = _bundle(world.get(a, "Condition?asserter:RelatedPerson.name=次郎&_summary=count"))
    assert counted["total"] == 0
    # the link still carries the query as asked
    assert "asserter%3ARelatedPerson.name" in hidden["link"][0]["url"] or (
        "asserter:RelatedPerson.name" in hidden["link"][0]["url"]
    )


def test_conditional_interactions_do_not_touch_hidden_resources(
    world: World, person: Person
) -> None:
    """Conditional update/delete/create used to match (and change, delete or return) a
    resource the pre-filter admitted but the engine refuses: A and the unagreed contact."""
    aw, core = world.tokens["a-writer"], world.tokens["core"]
    hidden = f"RelatedPerson/{person.unagreed_contact}"
    created = world.hub.fhir(
        "POST",
        "RelatedPerson",
        aw,
        {
            "resourceType": "RelatedPerson",
            "patient": {"reference": f"Patient/{person.patient}"},
            "name": [{"family": "別人"}],
        },
        **{"If-None-Exist": "name=次郎"},
    )
    assert created.status_code == 201 and created.get_json()["id"] != person.unagreed_contact
    deleted = world.hub.fhir("DELETE", "RelatedPerson?name=次郎", aw)
    assert deleted.status_code == 204
    updated = world.hub.fhir(
        "PUT",
        "RelatedPerson?name=次郎",
        aw,
        {
            "resourceType": "RelatedPerson",
            "patient": {"reference": f"Patient/{person.patient}"},
            "name": [{"family": "書換"}],
        },
    )
    assert updated.status_code == 201, updated.get_json()
    still = world.get(core, hidden)
    assert still.status_code == 200 and still.get_json()["name"][0]["given"] == ["次郎"]
    assert still.get_json()["meta"]["versionId"] == "1"


def test_b_cannot_write_or_probe_hidden_resources(world: World, person: Person) -> None:
    """B with write scopes: update, patch, delete of a hidden resource answer 404 like an
    unknown id, and nothing changes."""
    world.client("b-writer", "Organization/provider-b", WRITER_SCOPE)
    bw = world.token("b-writer", WRITER_SCOPE, "TREAT")
    pid = person.patient
    body = {"resourceType": "Patient", "id": pid, "name": [{"family": "乗取"}]}
    assert world.hub.fhir("PUT", f"Patient/{pid}", bw, body).status_code == 404
    patch = [{"op": "replace", "path": "/birthDate", "value": "2000-01-01"}]
    resp = world.hub.http.patch(
        f"/fhir/Patient/{pid}",
        json=patch,
        headers={
            "Authorization": f"Bearer {bw}",
            "Content-Type": "application/json-patch+json",
        },
    )
    assert resp.status_code == 404
    assert world.hub.fhir("DELETE", f"Patient/{pid}", bw).status_code == 404
    assert world.hub.fhir("DELETE", f"Patient?name={FAMILY}", bw).status_code == 204
    current = world.get(world.tokens["core"], f"Patient/{pid}").get_json()
    assert current["meta"]["versionId"] == "1" and current["name"][0]["family"] == FAMILY


@pytest.mark.parametrize("gate_on", [True, False], ids=["gate-on", "gate-off"])
def test_consent_gate_off_is_for_the_benchmark_only(
    database_url: str, tmp_path: Path, gate_on: bool
) -> None:
    """Same data, same token: with ``HUB_CONSENT_GATE=off`` B reads, with it on B cannot."""
    app = make_app(database_url, tmp_path, consent_gate=gate_on)
    try:
        w = make_world(Hub(app))
        p = register_person(w)
        b = w.tokens["b"]
        read = w.get(b, f"Patient/{p.patient}")
        found = _bundle(w.get(b, f"Patient?name={FAMILY}"))
        if gate_on:
            assert read.status_code == 404 and ids(found) == []
        else:
            assert read.status_code == 200 and ids(found) == [f"Patient/{p.patient}"]
    finally:
        app.extensions["hub.db"].dispose()
