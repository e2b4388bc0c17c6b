"""Search over HTTP: searchset Bundles, paging links, includes, errors (http://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

from tests.resources.helpers import patient, post


def _seed(client):  # type: ignore[no-untyped-def]
    org = post(
        client, "Organization", {"resourceType": "Organization", "name": "基幹相談支援センター絆"}
    ).get_json(force=True)
    ids = []
    for i, (fam, kana) in enumerate([("山田", "ヤマダ"), ("山田", "ヤマダ"), ("佐藤", "サトウ")]):
        body = patient(
            family=fam,
            kana_family=kana,
            given=f"名{i}",
            kana_given="ナ",
            managingOrganization={"reference": f"Organization/{org['id']}"},
            birthDate=f"198{i}-05-0{i + 1}",
        )
        ids.append(post(client, "Patient", body).get_json(force=True)["id"])
    for pid in ids:
        post(
            client,
            "Observation",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "urn:example:kubun", "code": "3"}]},
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": "2026-04-01T10:00:00+09:00",
            },
        )
    return org, ids


def test_search_kanji_kana_and_hiragana(client) -> None:  # type: ignore[no-untyped-def]
    _seed(client)
    assert client.get("/fhir/Patient?family=山田").get_json(force=True)["total"] == 2
    assert client.get("/fhir/Patient?name=ヤマダ").get_json(force=True)["total"] == 2
    assert client.get("/fhir/Patient?name=やまだ").get_json(force=True)["total"] == 2
    assert client.get("/fhir/Patient?name:exact=佐藤").get_json(force=True)["total"] == 1
    assert client.get("/fhir/Patient?name:contains=トウ").get_json(force=True)["total"] == 1


def test_paging_links_are_stable(client) -> None:  # type: ignore[no-untyped-def]
    _seed(client)
    seen = []
    url = "/fhir/Patient?_count=1&_sort=birthdate"
    while url:
        page = client.get(url).get_json(force=True)
        assert page["total"] == 3
        seen += [e["resource"]["id"] for e in page["entry"] if e["search"]["mode"] == "match"]
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        url = nxt[0].split("localhost", 1)[1] if nxt else ""
    assert len(seen) == 3 and len(set(seen)) == 3


def test_include_revinclude_and_chain(client) -> None:  # type: ignore[no-untyped-def]
    _org, ids = _seed(client)
    b = client.get(
        f"/fhir/Patient?_id={ids[0]}&_include=Patient:organization&_revinclude=Observation:subject"
    ).get_json(force=True)
    modes = sorted((e["search"]["mode"], e["resource"]["resourceType"]) for e in b["entry"])
    assert modes == [("include", "Observation"), ("include", "Organization"), ("match", "Patient")]
    chained = client.get("/fhir/Observation?subject:Patient.name=佐藤").get_json(force=True)
    assert chained["total"] == 1
    assert chained["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{ids[2]}"


def test_post_search_and_summary_count(client) -> None:  # type: ignore[no-untyped-def]
    _seed(client)
    resp = client.post(
        "/fhir/Patient/_search",
        data={"family": "山田"},
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200 and resp.get_json(force=True)["total"] == 2
    count = client.get("/fhir/Patient?_summary=count").get_json(force=True)
    assert count["total"] == 3 and "entry" not in count


def test_elements_marks_subsetted(client) -> None:  # type: ignore[no-untyped-def]
    _seed(client)
    b = client.get("/fhir/Patient?_elements=birthDate&_count=1").get_json(force=True)
    res = b["entry"][0]["resource"]
    assert set(res) == {"resourceType", "id", "meta", "birthDate"}
    assert res["meta"]["tag"][-1]["code"] == "SUBSETTED"


def test_unknown_parameter_strict_and_lenient(client) -> None:  # type: ignore[no-untyped-def]
    strict = client.get("/fhir/Patient?colour=blue")
    assert strict.status_code == 400
    assert strict.get_json(force=True)["issue"][0]["expression"] == ["colour"]
    lenient = client.get("/fhir/Patient?colour=blue", headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
    outcome = [e for e in lenient.get_json(force=True)["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and outcome[0]["resource"]["issue"][0]["severity"] == "warning"
    bad_date = client.get("/fhir/Patient?birthdate=yesterday")
    assert bad_date.status_code == 400
    assert bad_date.get_json(force=True)["issue"][0]["expression"] == ["birthdate"]
