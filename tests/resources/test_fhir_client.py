"""A FHIR client used as a new user would use it (fhirpy), against the real server.

``hub serve`` runs in production mode (gunicorn, two workers) on SQLite and, when
``HUB_TEST_DATABASE_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound, OperationOutcome, ResourceNotFound

from tests.conftest import PG_URL
from tests.live import fresh_pg_database, running_hub


@pytest.fixture(scope="module", params=["sqlite", *(["postgresql"] if PG_URL else [])])
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = Path(tmp_path_factory.mktemp("live"))
    url = (
        f"sqlite:///{tmp / 'hub.sqlite3'}"
        if request.param == "sqlite"
        else fresh_pg_database(PG_URL, "hub_live_test")
    )
    with running_hub(url, tmp) as fhir_base:
        yield fhir_base


def _patient(family: str, kana: str, i: int) -> dict:  # type: ignore[type-arg]
    return {
        "resourceType": "Patient",
        "birthDate": f"1990-01-{i + 1:02d}",
        "name": [{"family": family, "given": [f"花子{i}"]}, {"family": kana, "given": ["ハナコ"]}],
    }


def test_fhirpy_create_read_update_search_history(base: str) -> None:
    client = SyncFHIRClient(base)
    org = client.resource("Organization", name="相談支援事業所ひまわり")
    org.save()
    made = []
    for i in range(5):
        p = client.resource(
            "Patient",
            **{k: v for k, v in _patient("鈴木", "スズキ", i).items() if k != "resourceType"},
            managingOrganization=org.to_reference(),
        )
        p.save()
        made.append(p)
    got = client.reference("Patient", made[0].id).to_resource()
    assert got["name"][0]["family"] == "鈴木" and got["meta"]["versionId"] == "1"

    # update with a version check: the current version passes, a stale one is refused (412)
    got["gender"] = "female"
    checked = SyncFHIRClient(base, extra_headers={"If-Match": 'W/"1"'})
    body = {k: v for k, v in got.serialize().items() if k != "resourceType"}
    checked.resource("Patient", **body).save()
    assert client.reference("Patient", got.id).to_resource()["meta"]["versionId"] == "2"
    # fhirpy reports every 412 as MultipleResourcesFound; the body says it is a version conflict
    with pytest.raises(MultipleResourcesFound, match="Version conflict"):
        checked.resource("Patient", **{**body, "gender": "other"}).save()

    # search with paging (fhirpy follows the next links) and includes
    found = client.resources("Patient").search(family="鈴木").limit(2).fetch_all()
    assert len(found) == 5 and len({p.id for p in found}) == 5
    # (fhirpy's .count() adds Aidbox's _totalMethod, which a strict server refuses)
    counted = client.resources("Patient").search(name="すずき", _summary="count").fetch_raw()
    assert counted["total"] == 5
    with_org = (
        client.resources("Patient")
        .search(_id=made[1].id)
        .include("Patient", "organization")
        .fetch_raw()
    )
    kinds = sorted(e["resource"]["resourceType"] for e in with_org["entry"])
    assert kinds == ["Organization", "Patient"]

    # history
    hist = client.execute(f"Patient/{got.id}/_history", method="get")
    assert hist["total"] == 2

    # delete → gone
    client.reference("Patient", made[4].id).to_resource().delete()
    with pytest.raises((ResourceNotFound, OperationOutcome)):
        client.reference("Patient", made[4].id).to_resource()


def test_fhirpy_transaction(base: str) -> None:
    client = SyncFHIRClient(base)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001",
                "resource": _patient("高橋", "タカハシ", 1),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "code": {"text": "てんかん"},
                    "subject": {"reference": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001"},
                },
                "request": {"method": "POST", "url": "Condition"},
            },
        ],
    }
    out = client.execute("", method="post", data=bundle)
    assert out["type"] == "transaction-response"
    pid = out["entry"][0]["resource"]["id"]
    conds = client.resources("Condition").search(subject=f"Patient/{pid}").fetch()
    assert len(conds) == 1


def test_errors_reach_the_client_as_operation_outcomes(base: str) -> None:
    resp = requests.post(
        base + "/Patient",
        json={"resourceType": "Patient", "nickname": "x"},
        headers={"Content-Type": "application/fhir+json"},
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["expression"] == ["Patient.nickname"]
    assert requests.get(base + "/Patient/nope", timeout=10).status_code == 404
