"""Health certificates (健康診断書共通様式): the validity rule (pure, table-tested) and
``Patient/[id]/$health-certificate`` through HTTP with real tokens (issue 6: "a short-stay
provider pulling it sees whether it is still valid")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.workflows.certificates import valid_until, validity
from tests.access import World
from tests.auth.helpers import Hub, make_app
from tests.workflows.test_end_to_end import (
    ALL,
    CORE,
    OFFICE,
    PROV_A,
    _item,
    _json,
    form,
    ok,
    out,
    params,
    register,
)


@pytest.mark.parametrize(
    ("issued", "months", "until"),
    [
        (date(2026, 5, 12), 12, date(2027, 5, 11)),
        (date(2026, 1, 31), 1, date(2026, 2, 27)),  # no Feb 31st: the month's last day − 1
        (date(2024, 2, 29), 12, date(2025, 2, 27)),
        (date(2026, 12, 1), 6, date(2027, 5, 31)),
        (date(2026, 3, 1), 0, date(2026, 2, 28)),  # 0 months: never valid
    ],
)
def test_valid_until(issued: date, months: int, until: date) -> None:
    assert valid_until(issued, months) == until


@pytest.mark.parametrize(
    ("on", "valid"),
    [
        (date(2026, 5, 11), False),  # before it was issued
        (date(2026, 5, 12), True),
        (date(2027, 5, 11), True),
        (date(2027, 5, 12), False),
    ],
)
def test_validity_on_a_day(on: date, valid: bool) -> None:
    assert validity(date(2026, 5, 12), 12, on).valid is valid


def certificate(pid: str, issued: str) -> dict[str, Any]:
    body = _json("examples/QuestionnaireResponse-example-health-certificate-response.json")
    body.pop("id")
    body["subject"] = {"reference": pid}
    body["authored"] = f"{issued}T10:00:00+09:00"
    _item(body["item"], "date")["answer"] = [{"valueDate": issued}]
    return body


def status(w: World, token: str, pid: str, on: str | None = None) -> Any:
    query = f"?date={on}" if on else ""
    return w.hub.fhir("GET", f"{pid}/$health-certificate{query}", token)


def value(result: dict[str, Any], name: str) -> Any:
    p = next(p for p in result["parameter"] if p["name"] == name)
    return next(v for k, v in p.items() if k.startswith("value") or k == "resource")


def test_provider_sees_whether_the_certificate_is_valid(world: World) -> None:
    pid = out(register(world, params(form(), PROV_A)), "patient")
    office, a, b = (world.tokens[k] for k in ("office", "a", "b"))
    none = ok(status(world, a, pid))
    assert value(none, "valid") is False
    assert not [p for p in none["parameter"] if p["name"] == "certificate"]
    old = world.create(office, certificate(pid, "2025-04-01"))
    new = world.create(office, certificate(pid, "2026-05-12"))
    result = ok(status(world, a, pid, "2026-11-23"))
    assert value(result, "certificate") == {"reference": f"QuestionnaireResponse/{new}"}
    assert value(result, "valid") is True
    assert value(result, "issued") == "2026-05-12"
    assert value(result, "valid-until") == "2027-05-11"
    assert value(result, "validity")["value"] == 12
    form_body = value(result, "form")
    assert form_body["subject"]["reference"] == pid
    assert value(ok(status(world, a, pid, "2027-05-12")), "valid") is False
    # the newest one is withdrawn (entered in error): the older one is the latest, expired
    assert world.hub.fhir("DELETE", f"QuestionnaireResponse/{new}", office).status_code == 200
    result = ok(status(world, a, pid, "2026-11-23"))
    assert value(result, "certificate") == {"reference": f"QuestionnaireResponse/{old}"}
    assert value(result, "valid") is False and value(result, "valid-until") == "2026-03-31"
    # a provider the person did not name learns nothing
    assert status(world, b, pid).status_code == 404
    assert status(world, a, "Patient/no-such-person").status_code == 404
    bad = status(world, a, pid, "2026-13-01")
    assert bad.status_code == 400 and bad.get_json()["issue"][0]["expression"] == ["date"]


def test_incomplete_certificate_refused_naming_the_item(world: World) -> None:
    pid = out(register(world, params(form(), PROV_A)), "patient")
    office = world.tokens["office"]
    body = certificate(pid, "2026-05-12")
    body["item"] = [it for it in body["item"] if it["linkId"] != "physician"]
    resp = world.hub.fhir("POST", "QuestionnaireResponse", office, body)
    assert resp.status_code == 422, resp.get_json()
    assert any("physician" in e for i in resp.get_json()["issue"] for e in i["expression"])
    no_subject = certificate(pid, "2026-05-12")
    no_subject.pop("subject")
    resp = world.hub.fhir("POST", "QuestionnaireResponse", office, no_subject)
    assert resp.status_code == 400
    assert resp.get_json()["issue"][0]["expression"] == ["QuestionnaireResponse.subject"]
    # nothing was stored; an in-progress draft is not checked
    assert value(ok(status(world, office, pid)), "valid") is False
    draft = {**body, "status": "in-progress"}
    world.create(office, draft)
    assert value(ok(status(world, office, pid)), "valid") is False


@pytest.fixture
def six_month_world(database_url: str, tmp_path: Path) -> Iterator[World]:
    app = make_app(database_url, tmp_path, auto_migrate=True, certificate_valid_months=6)
    w = World(Hub(app))
    for name, org in (("office", OFFICE), ("core", CORE), ("a", PROV_A)):
        w.client(name, org, ALL)
        w.tokens[name] = w.token(name, ALL, None if name == "office" else "TREAT")
    yield w
    app.extensions["hub.db"].dispose()


def test_the_base_sets_the_validity(six_month_world: World) -> None:
    w = six_month_world
    pid = out(register(w, params(form(), PROV_A)), "patient")
    w.create(w.tokens["office"], certificate(pid, "2026-05-12"))
    result = ok(status(w, w.tokens["a"], pid, "2026-11-23"))
    assert value(result, "valid-until") == "2026-11-11"
    assert value(result, "valid") is False and value(result, "validity")["value"] == 6
