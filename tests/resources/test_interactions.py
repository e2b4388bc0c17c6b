"""CRUD, versioning, conditional interactions and error paths over HTTP (http://hl7.org/fhir/R4/http.html)."""

from __future__ import annotations

import json

from tests.resources.helpers import FHIR_JSON, outcome_expressions, patient, post, put


def _create(client, body=None):  # type: ignore[no-untyped-def]
    resp = post(client, "Patient", body or patient())
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json(force=True)


def test_metadata_is_generated_from_routes_and_search_parameters(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/fhir/metadata")
    assert resp.status_code == 200
    cs = resp.get_json(force=True)
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    types = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert {"Patient", "Consent", "CarePlan", "AuditEvent", "Bundle"} <= set(types)
    codes = {i["code"] for i in types["Patient"]["interaction"]}
    assert codes == {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    }
    params = {p["name"]: p["type"] for p in types["Patient"]["searchParam"]}
    assert params["name"] == "string" and params["birthdate"] == "date"
    assert params["general-practitioner"] == "reference" and params["identifier"] == "token"
    assert "Observation:subject" in types["Patient"]["searchRevInclude"]
    assert {i["code"] for i in cs["rest"][0]["interaction"]} >= {"transaction", "batch"}
    audit = {i["code"] for i in types["AuditEvent"]["interaction"]}
    assert audit == {"read", "vread", "search-type", "history-instance", "history-type"}
    ops = {o["name"]: o["definition"] for o in types["Patient"]["operation"]}
    assert ops["everything"] == "http://hl7.org/fhir/OperationDefinition/Patient-everything"
    assert "break-glass" in ops


def test_create_read_vread_with_headers_and_japanese_text(client) -> None:  # type: ignore[no-untyped-def]
    resp = post(client, "Patient", patient())
    assert resp.status_code == 201
    body = resp.get_json(force=True)
    pid = body["id"]
    assert resp.headers["ETag"] == 'W/"1"'
    assert resp.headers["Location"].endswith(f"/fhir/Patient/{pid}/_history/1")
    assert resp.headers["Last-Modified"].endswith("GMT")
    assert resp.headers["Content-Type"].startswith(FHIR_JSON)
    assert body["meta"]["versionId"] == "1"
    read = client.get(f"/fhir/Patient/{pid}")
    assert read.status_code == 200 and read.headers["ETag"] == 'W/"1"'
    assert "山田".encode() in read.get_data()  # UTF-8 as such, not \\u escapes
    assert read.get_json(force=True)["name"][1]["family"] == "ヤマダ"
    assert client.get(f"/fhir/Patient/{pid}/_history/1").status_code == 200
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-None-Match": 'W/"1"'}).status_code == 304


def test_create_ignores_client_id(client) -> None:  # type: ignore[no-untyped-def]
    body = _create(client, {**patient(), "id": "chosen-by-client"})
    assert body["id"] != "chosen-by-client"


def test_read_unknown_and_unsupported(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/fhir/Patient/does-not-exist")
    assert resp.status_code == 404
    assert resp.get_json(force=True)["issue"][0]["code"] == "not-found"
    resp = client.get("/fhir/Spaceship/1")
    assert resp.status_code == 404
    assert resp.get_json(force=True)["issue"][0]["code"] == "not-supported"
    resp = client.get("/fhir/Patient/x/_history/99")
    assert resp.status_code == 404


def test_update_with_version_check(client) -> None:  # type: ignore[no-untyped-def]
    created = _create(client)
    pid = created["id"]
    changed = {**created, "gender": "female"}
    ok = put(client, f"Patient/{pid}", changed, **{"If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == 'W/"2"'
    stale = put(client, f"Patient/{pid}", {**created, "gender": "other"}, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.get_json(force=True)["issue"][0]["code"] == "conflict"
    assert client.get(f"/fhir/Patient/{pid}").get_json(force=True)["gender"] == "female"
    # an unchanged body makes no new version
    same = put(client, f"Patient/{pid}", client.get(f"/fhir/Patient/{pid}").get_json(force=True))
    assert same.status_code == 200 and same.headers["ETag"] == 'W/"2"'


def test_update_errors_name_the_element(client) -> None:  # type: ignore[no-untyped-def]
    created = _create(client)
    pid = created["id"]
    mismatch = put(client, f"Patient/{pid}", {**created, "id": "other"})
    assert mismatch.status_code == 400 and outcome_expressions(mismatch) == ["Patient.id"]
    no_id = {k: v for k, v in created.items() if k != "id"}
    assert put(client, f"Patient/{pid}", no_id).status_code == 400
    wrong_type = put(client, f"Patient/{pid}", {**created, "resourceType": "Observation"})
    assert wrong_type.status_code == 400 and outcome_expressions(wrong_type) == ["resourceType"]


def test_update_as_create_with_client_id(client) -> None:  # type: ignore[no-untyped-def]
    resp = put(client, "Patient/client-chosen-1", {**patient(), "id": "client-chosen-1"})
    assert resp.status_code == 201 and resp.headers["ETag"] == 'W/"1"'
    assert client.get("/fhir/Patient/client-chosen-1").status_code == 200


def test_patch(client) -> None:  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    ops = [{"op": "replace", "path": "/gender", "value": "female"}]
    resp = client.patch(
        f"/fhir/Patient/{pid}",
        data=json.dumps(ops),
        headers={"Content-Type": "application/json-patch+json", "If-Match": 'W/"1"'},
    )
    assert resp.status_code == 200 and resp.get_json(force=True)["gender"] == "female"
    assert resp.headers["ETag"] == 'W/"2"'
    wrong_type = client.patch(
        f"/fhir/Patient/{pid}", data=json.dumps(ops), headers={"Content-Type": FHIR_JSON}
    )
    assert wrong_type.status_code == 415
    bad = [{"op": "replace", "path": "/birthDate", "value": "not-a-date"}]
    resp = client.patch(
        f"/fhir/Patient/{pid}",
        data=json.dumps(bad),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert resp.status_code == 422 and outcome_expressions(resp) == ["Patient.birthDate"]
    resp = client.patch(
        f"/fhir/Patient/{pid}",
        data=json.dumps([{"op": "replace", "path": "/id", "value": "x"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert resp.status_code == 422
    resp = client.patch(
        f"/fhir/Patient/{pid}",
        data=json.dumps([{"op": "remove", "path": "/nothing"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert resp.status_code == 422
    assert client.get(f"/fhir/Patient/{pid}").headers["ETag"] == 'W/"2"'


def test_delete_is_logical_and_read_is_gone(client) -> None:  # type: ignore[no-untyped-def]
    pid = _create(client)["id"]
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    gone = client.get(f"/fhir/Patient/{pid}")
    assert gone.status_code == 410 and gone.get_json(force=True)["issue"][0]["code"] == "deleted"
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200  # idempotent
    assert client.get(f"/fhir/Patient/{pid}/_history/1").status_code == 200
    assert client.get(f"/fhir/Patient/{pid}/_history/2").status_code == 410
    hist = client.get(f"/fhir/Patient/{pid}/_history").get_json(force=True)
    assert hist["type"] == "history" and hist["total"] == 2
    assert hist["entry"][0]["request"]["method"] == "DELETE" and "resource" not in hist["entry"][0]
    assert client.delete("/fhir/Patient/never-was").status_code == 404


def test_conditional_create(client) -> None:  # type: ignore[no-untyped-def]
    ident = {"identifier": [{"system": "urn:example:city", "value": "R-0001"}]}
    first = post(
        client,
        "Patient",
        patient(**ident),
        **{"If-None-Exist": "identifier=urn:example:city|R-0001"},
    )
    assert first.status_code == 201
    again = post(
        client,
        "Patient",
        patient(**ident),
        **{"If-None-Exist": "identifier=urn:example:city|R-0001"},
    )
    assert again.status_code == 200
    assert again.get_json(force=True)["id"] == first.get_json(force=True)["id"]
    post(client, "Patient", patient(identifier=[{"system": "urn:example:city", "value": "R-0001"}]))
    many = post(
        client,
        "Patient",
        patient(**ident),
        **{"If-None-Exist": "identifier=urn:example:city|R-0001"},
    )
    assert many.status_code == 412


def test_conditional_update_and_delete(client) -> None:  # type: ignore[no-untyped-def]
    body = patient(identifier=[{"system": "urn:example:city", "value": "R-0002"}])
    created = put(client, "Patient?identifier=urn:example:city|R-0002", body)
    assert created.status_code == 201
    pid = created.get_json(force=True)["id"]
    updated = put(
        client, "Patient?identifier=urn:example:city|R-0002", {**body, "gender": "female"}
    )
    assert updated.status_code == 200 and updated.get_json(force=True)["id"] == pid
    assert updated.headers["ETag"] == 'W/"2"'
    post(client, "Patient", body)
    assert put(client, "Patient?identifier=urn:example:city|R-0002", body).status_code == 412
    assert client.delete("/fhir/Patient?identifier=urn:example:city|R-0002").status_code == 412
    assert client.delete(f"/fhir/Patient?_id={pid}").status_code == 200
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410


def test_prefer_return(client) -> None:  # type: ignore[no-untyped-def]
    minimal = post(client, "Patient", patient(), Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.get_data() == b"" and minimal.headers["Location"]
    oo = post(client, "Patient", patient(), Prefer="return=OperationOutcome")
    assert oo.status_code == 201 and oo.get_json(force=True)["resourceType"] == "OperationOutcome"
    rep = post(client, "Patient", patient(), Prefer="return=representation")
    assert rep.get_json(force=True)["resourceType"] == "Patient"


def test_invalid_input_is_refused_and_nothing_stored(client) -> None:  # type: ignore[no-untyped-def]
    bad_json = client.post("/fhir/Patient", data=b"{not json", headers={"Content-Type": FHIR_JSON})
    assert bad_json.status_code == 400
    unknown = post(client, "Patient", {**patient(), "favouriteColour": "blue"})
    assert unknown.status_code == 400 and outcome_expressions(unknown) == [
        "Patient.favouriteColour"
    ]
    wrong = post(client, "Patient", {**patient(), "birthDate": 1980})
    assert wrong.status_code == 400 and outcome_expressions(wrong) == ["Patient.birthDate"]
    mismatch = post(client, "Patient", {"resourceType": "Observation"})
    assert mismatch.status_code == 400 and outcome_expressions(mismatch) == ["resourceType"]
    not_object = post(client, "Patient", [1, 2])
    assert not_object.status_code == 400
    empty = client.post("/fhir/Patient", data=b"", headers={"Content-Type": FHIR_JSON})
    assert empty.status_code == 400
    assert client.get("/fhir/_history").get_json(force=True)["total"] == 0


def test_content_negotiation(client) -> None:  # type: ignore[no-untyped-def]
    assert (
        client.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"}).status_code == 406
    )
    assert client.get("/fhir/metadata?_format=xml").status_code == 406
    assert client.get("/fhir/metadata?_format=json").status_code == 200
    assert (
        client.get("/fhir/metadata", headers={"Accept": "application/json"})
        .headers["Content-Type"]
        .startswith("application/json")
    )
    resp = client.post(
        "/fhir/Patient", data=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert resp.status_code == 415 and outcome_expressions(resp) == ["Content-Type"]


def test_unexpected_failure_leaks_nothing(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hub.resources import routes

    def boom(req, repo):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret patient 山田 at /srv/hub/db.py line 3")

    original = routes.dispatch

    def exploding_dispatch(route, req, repo):  # type: ignore[no-untyped-def]
        if route.endpoint == "read":
            boom(req, repo)
        return original(route, req, repo)

    monkeypatch.setattr("hub.resources.http.dispatch", exploding_dispatch)
    resp = client.get("/fhir/Patient/abc")
    assert resp.status_code == 500
    text = resp.get_data(as_text=True)
    assert "山田" not in text and "Traceback" not in text and "db.py" not in text
    assert resp.get_json(force=True)["issue"][0]["code"] == "exception"


def test_unknown_path_and_method(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.delete("/fhir/metadata")
    assert resp.status_code == 405
    assert resp.get_json(force=True)["resourceType"] == "OperationOutcome"
