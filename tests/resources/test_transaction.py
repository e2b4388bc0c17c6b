"""batch and transaction Bundles (http://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

from tests.resources.helpers import patient, post


def _tx(entries, btype="transaction"):  # type: ignore[no-untyped-def]
    return {"resourceType": "Bundle", "type": btype, "entry": entries}


def test_transaction_resolves_urn_uuid_references(client) -> None:  # type: ignore[no-untyped-def]
    bundle = _tx(
        [
            {
                "fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222",
                "resource": {
                    "resourceType": "Condition",
                    "code": {"text": "知的障害"},
                    "subject": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"},
                },
                "request": {"method": "POST", "url": "Condition"},
            },
        ]
    )
    resp = post(client, "", bundle)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json(force=True)
    assert out["type"] == "transaction-response"
    assert [e["response"]["status"] for e in out["entry"]] == ["201 Created", "201 Created"]
    pid = out["entry"][0]["resource"]["id"]
    cond = out["entry"][1]["resource"]
    assert cond["subject"]["reference"] == f"Patient/{pid}"
    found = client.get(f"/fhir/Condition?subject=Patient/{pid}").get_json(force=True)
    assert found["total"] == 1


def test_transaction_is_all_or_nothing(client) -> None:  # type: ignore[no-untyped-def]
    bundle = _tx(
        [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {"resourceType": "Patient", "birthDate": "not-a-date"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ]
    )
    resp = post(client, "", bundle)
    assert resp.status_code == 400
    issue = resp.get_json(force=True)["issue"][0]
    assert "Bundle.entry[1]" in issue["diagnostics"] and issue["expression"] == [
        "Patient.birthDate"
    ]
    assert client.get("/fhir/Patient").get_json(force=True)["total"] == 0
    assert client.get("/fhir/_history").get_json(force=True)["total"] == 0


def test_transaction_honours_conditional_create_and_if_match(client) -> None:  # type: ignore[no-untyped-def]
    ident = [{"system": "urn:example:city", "value": "R-77"}]
    existing = post(client, "Patient", patient(identifier=ident)).get_json(force=True)
    bundle = _tx(
        [
            {
                "fullUrl": "urn:uuid:33333333-3333-4333-8333-333333333333",
                "resource": patient(identifier=ident),
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": "identifier=urn:example:city|R-77",
                },
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "障害支援区分"},
                    "subject": {"reference": "urn:uuid:33333333-3333-4333-8333-333333333333"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ]
    )
    out = post(client, "", bundle).get_json(force=True)
    assert out["entry"][0]["response"]["status"] == "200 OK"
    assert out["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"
    assert client.get("/fhir/Patient").get_json(force=True)["total"] == 1
    stale = _tx(
        [
            {
                "resource": {**existing, "gender": "female"},
                "request": {
                    "method": "PUT",
                    "url": f"Patient/{existing['id']}",
                    "ifMatch": 'W/"9"',
                },
            }
        ]
    )
    assert post(client, "", stale).status_code == 412


def test_transaction_order_and_reads(client) -> None:  # type: ignore[no-untyped-def]
    a = post(client, "Patient", patient()).get_json(force=True)
    bundle = _tx(
        [
            {"request": {"method": "GET", "url": f"Patient/{a['id']}"}},
            {"request": {"method": "DELETE", "url": f"Patient/{a['id']}"}},
        ]
    )
    resp = post(client, "", bundle)
    # DELETE is processed before GET (http.html#trules), so the read fails and so does the whole
    assert resp.status_code == 410
    assert client.get(f"/fhir/Patient/{a['id']}").status_code == 200


def test_batch_entries_fail_on_their_own(client) -> None:  # type: ignore[no-untyped-def]
    bundle = _tx(
        [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {"resourceType": "Patient", "birthDate": "bad"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"request": {"method": "GET", "url": "Patient/nope"}},
            {"request": {"method": "GET", "url": "Patient?family=山田"}},
        ],
        btype="batch",
    )
    out = post(client, "", bundle).get_json(force=True)
    assert out["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses == ["201 Created", "400 Bad Request", "404 Not Found", "200 OK"]
    assert out["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert out["entry"][3]["resource"]["total"] == 1
    assert client.get("/fhir/Patient").get_json(force=True)["total"] == 1


def test_bundle_errors(client) -> None:  # type: ignore[no-untyped-def]
    assert post(client, "", {"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert post(client, "", {"resourceType": "Patient"}).status_code == 400
    no_request = post(client, "", _tx([{"resource": patient()}]))
    assert no_request.status_code == 400
    assert no_request.get_json(force=True)["issue"][0]["expression"] == ["Bundle.entry[0].request"]
    dup = _tx(
        [
            {
                "fullUrl": "urn:uuid:a",
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:a",
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
        ]
    )
    assert post(client, "", dup).status_code == 400
