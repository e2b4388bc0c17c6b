"""Care-plan follow-ups that the end-to-end test does not walk: deleting a plan cancels its
monitoring Task (directly and as a transaction entry; conditional delete too)."""

from __future__ import annotations

from tests.access import World
from tests.workflows.test_end_to_end import ok, plan


def _plan_with_task(w: World, office: str) -> str:
    pid = w.create(office, {"resourceType": "Patient", "birthDate": "1980-01-01"})
    body = plan(f"Patient/{pid}", ["22"])
    body["period"] = {"start": "2026-04-01"}
    cp = w.create(office, body)
    assert ok(w.get(office, f"Task/monitoring-{cp}"))["status"] == "requested"
    return cp


def test_deleting_a_plan_cancels_its_task(world: World) -> None:
    office = world.tokens["office"]
    cp = _plan_with_task(world, office)
    assert world.hub.fhir("DELETE", f"CarePlan/{cp}", office).status_code == 200
    task = ok(world.get(office, f"Task/monitoring-{cp}"))
    assert task["status"] == "cancelled"
    # deleting again (already gone) changes nothing more
    assert world.hub.fhir("DELETE", f"CarePlan/{cp}", office).status_code == 200
    assert ok(world.get(office, f"Task/monitoring-{cp}/_history"))["total"] == 2
    # conditional delete and a transaction entry take the same path
    cp2 = _plan_with_task(world, office)
    assert world.hub.fhir("DELETE", f"CarePlan?_id={cp2}", office).status_code == 200
    assert ok(world.get(office, f"Task/monitoring-{cp2}"))["status"] == "cancelled"
    cp3 = _plan_with_task(world, office)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": f"CarePlan/{cp3}"}}],
    }
    assert world.hub.fhir("POST", "", office, bundle).status_code == 200
    assert ok(world.get(office, f"Task/monitoring-{cp3}"))["status"] == "cancelled"
    # monitoring-due no longer lists them
    due = ok(world.get(office, "Task/$monitoring-due?owner=Organization/office-1&date=2030-01-01"))
    assert not due.get("entry")
