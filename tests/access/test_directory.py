"""Directory data (outside the Patient compartment) is gated by scopes only, never by consent:
a provider that no consent names still reads the base's Organizations, services and forms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.access.gate import GATED_TYPES
from tests.access import World, make_world, register_person
from tests.auth.helpers import Hub, make_app


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    app = make_app(database_url, tmp_path)
    yield make_world(Hub(app))
    app.extensions["hub.db"].dispose()


def test_gated_types_are_exactly_the_patient_compartment() -> None:
    assert {"Patient", "RelatedPerson", "CarePlan", "Condition", "Consent", "AuditEvent"} <= (
        GATED_TYPES
    )
    directory = {"Organization", "HealthcareService", "Questionnaire", "CodeSystem", "ValueSet"}
    assert not directory & GATED_TYPES
    assert {"Location", "Practitioner", "PractitionerRole", "Slot"}.isdisjoint(GATED_TYPES)


def test_a_provider_no_consent_names_reads_directory_data_but_not_the_person(
    world: World,
) -> None:
    core, b = world.tokens["core"], world.tokens["b"]
    person = register_person(world)
    made = {
        "Organization": world.create(core, {"resourceType": "Organization", "name": "短期入所B"}),
        "HealthcareService": world.create(
            core, {"resourceType": "HealthcareService", "name": "緊急短期入所"}
        ),
        "Questionnaire": world.create(
            core, {"resourceType": "Questionnaire", "status": "active", "title": "緊急時利用登録届"}
        ),
    }
    for rtype, rid in made.items():
        assert world.get(b, f"{rtype}/{rid}").status_code == 200, rtype
        found = world.get(b, f"{rtype}?_id={rid}").get_json()
        assert found["total"] == 1, rtype
    assert world.get(b, f"Patient/{person.patient}").status_code == 404
