"""profiles/jp-hub: valid R4 resources, complete forms, conforming examples, UTF-8 end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.fhir.errors import FhirError
from hub.fhir.validate import validate_resource
from hub.store import schema as s
from hub.store.db import Database, make_engine
from hub.store.repository import Repository
from hub.workflows.conformance import (
    CANONICAL_BASE,
    EXAMPLES_DIR,
    JP_HUB_DIR,
    LoadReport,
    hub_resources,
    load_conformance,
    read_resources,
    resolve_canonical,
    upsert,
)
from tests.resources.helpers import FHIR_JSON, post, put

SEED_003 = Path(__file__).resolve().parents[3] / "shared" / "seeds"
REPR = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"

FILES = sorted(JP_HUB_DIR.rglob("*.json"))
CONFORMANCE = {(r["resourceType"], r["id"]): r for r in read_resources(JP_HUB_DIR)}
EXAMPLES = {(r["resourceType"], r["id"]): r for r in read_resources(EXAMPLES_DIR)}
BY_URL = {r["url"]: r for r in CONFORMANCE.values()}
#: what ``load_conformance`` loads: profiles/hub/ (search parameters, Consent profile) + jp-hub
LOADED = {(r["resourceType"], r["id"]) for r in hub_resources()} | set(CONFORMANCE)

#: Every field label of 別紙3 (緊急時利用登録届), as printed on the form (seed 003).
FORM_LABELS = [
    "届出日", "届出者氏名", "ふりがな", "本人との関係", "登録者氏名", "届出者と同じ", "生年月日",
    "性別", "住所", "〒", "電話番号", "家の電話", "携帯電話", "障がい手帳等の所持", "身体障がい",
    "知的障がい", "精神障がい", "自立支援医療受給者証", "特定医療費受給者証", "その他",
    "要介護区分",
    "登録の理由", "登録者の状況", "主な障がい名又は病名", "障がい支援区分", "利用サービス",
    "かかりつけ医療機関", "病状・治療状況", "服薬", "想定される緊急時と対応",
    "緊急時に利用したいサービス", "緊急連絡先 1", "緊急連絡先 2", "氏名", "続柄", "連絡先",
    "同居家族構成",
]  # fmt: skip
#: The form's answer choices (□…) that live in value sets rather than item texts.
FORM_CHOICES = {
    "registration-sex": ["男", "女"],
    "care-level": ["なし", "要支援1", "要支援2", "要介護1", "要介護5"],
    "support-class": ["なし", "区分1", "区分6"],
    "intellectual-disability-grade": ["A", "B"],
    "physical-disability-grade": [f"{i}級" for i in range(1, 7)],
    "mental-disability-grade": [f"{i}級" for i in range(1, 4)],
}
PROCEDURES = [
    "catheter", "pressure-ulcer", "tube-feeding", "ivh", "stoma", "suction", "dialysis",
    "insulin", "oxygen", "tracheostomy", "peg",
]  # fmt: skip


def items(q: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = list(q.get("item", []))
    while stack:
        it = stack.pop(0)
        yield it
        stack[0:0] = it.get("item", [])


def concepts(cs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = list(cs.get("concept", []))
    while stack:
        c = stack.pop(0)
        yield c
        stack.extend(c.get("concept", []))


def vs_codes(url: str) -> dict[tuple[str, str], list[str]]:
    """(system, code) → display and designations, of a ValueSet in profiles/jp-hub."""
    vs = BY_URL[url]
    out: dict[tuple[str, str], list[str]] = {}
    for inc in vs["compose"]["include"]:
        system = inc["system"]
        if "concept" in inc:
            for c in inc["concept"]:
                names = [c["display"], *(d["value"] for d in c.get("designation", []))]
                out[(system, c["code"])] = names
        else:
            for c in concepts(BY_URL[system]):
                out[(system, c["code"])] = [c["display"]]
    return out


# -- every file ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_is_a_valid_r4_resource(path: Path) -> None:
    resource = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == f"{resource['resourceType']}-{resource['id']}.json"
    validate_resource(resource, resource["resourceType"])  # raises FhirError if invalid


def test_ids_and_urls_are_unique_and_canonical() -> None:
    assert len(CONFORMANCE) + len(EXAMPLES) == len(FILES)
    assert not set(CONFORMANCE) & set(EXAMPLES)
    urls = [r["url"] for r in CONFORMANCE.values()]
    assert len(urls) == len(set(urls))
    for (rtype, rid), r in CONFORMANCE.items():
        assert r["url"] == f"{CANONICAL_BASE}/{rtype}/{rid}"
        assert r["status"] == "active"


def test_the_validator_rejects_a_broken_profile() -> None:
    broken = dict(CONFORMANCE[("Questionnaire", "emergency-registration")])
    broken["item"] = [{"linkId": "x", "text": "届出日", "type": "date", "required": "はい"}]
    with pytest.raises(FhirError):
        validate_resource(broken, "Questionnaire")


def test_terminology_references_resolve() -> None:
    for r in CONFORMANCE.values():
        if r["resourceType"] == "CodeSystem":
            assert r["count"] == len(list(concepts(r)))
            assert r["valueSet"] in BY_URL
            codes = [c["code"] for c in concepts(r)]
            assert len(codes) == len(set(codes)), r["id"]
        if r["resourceType"] == "ValueSet":
            for inc in r["compose"]["include"]:
                if inc["system"].startswith(CANONICAL_BASE):
                    known = {c["code"] for c in concepts(BY_URL[inc["system"]])}
                    assert {c["code"] for c in inc.get("concept", [])} <= known, r["id"]
        for it in items(r) if r["resourceType"] == "Questionnaire" else ():
            if "answerValueSet" in it:
                assert it["answerValueSet"] in BY_URL, it["linkId"]


def test_required_code_systems_have_their_codes() -> None:
    svc = {
        c["code"]: c["display"]
        for c in concepts(BY_URL[f"{CANONICAL_BASE}/CodeSystem/welfare-service-kind"])
    }
    for code, display in {
        "11": "居宅介護", "12": "重度訪問介護", "13": "行動援護", "15": "同行援護",
        "22": "生活介護",
        "24": "短期入所", "32": "施設入所支援", "33": "共同生活援助", "45": "就労継続支援A型",
        "46": "就労継続支援B型", "60": "就労移行支援", "61": "自立生活援助", "62": "就労定着支援",
        "52": "計画相談支援", "53": "地域移行支援", "54": "地域定着支援",
    }.items():  # fmt: skip
        assert svc[code] == display
    assert svc["41"].startswith("自立訓練") and svc["42"].startswith("自立訓練")
    support = vs_codes(f"{CANONICAL_BASE}/ValueSet/support-class")
    assert sorted(n[0] for n in support.values()) == sorted(
        ["なし", "非該当", *(f"区分{i}" for i in range(1, 7))]
    )
    eligibility = vs_codes(f"{CANONICAL_BASE}/ValueSet/registration-eligibility")
    assert len(eligibility) == 2


@pytest.mark.parametrize(("vs", "names"), FORM_CHOICES.items())
def test_form_choices_are_in_their_value_sets(vs: str, names: list[str]) -> None:
    offered = {n for ns in vs_codes(f"{CANONICAL_BASE}/ValueSet/{vs}").values() for n in ns}
    assert set(names) <= offered


# -- the forms -------------------------------------------------------------------------------


def _q(rid: str) -> dict[str, Any]:
    return CONFORMANCE[("Questionnaire", rid)]


@pytest.mark.parametrize(
    "rid", ["emergency-registration", "emergency-registration-change", "health-certificate"]
)
def test_questionnaire_link_ids(rid: str) -> None:
    q = _q(rid)
    ids = [it["linkId"] for it in items(q)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9][a-zA-Z0-9.\-]*", i) for i in ids), ids
    for it in items(q):
        for cond in it.get("enableWhen", []):
            assert cond["question"] in ids


def test_registration_form_has_every_field_of_the_form() -> None:
    texts = {it["text"] for it in items(_q("emergency-registration"))}
    missing = [label for label in FORM_LABELS if label not in texts]
    assert missing == []


@pytest.mark.skipif(not SEED_003.exists(), reason="seed documents not available")
def test_form_labels_are_taken_from_the_seed() -> None:
    seed = next(SEED_003.glob("003_*.txt")).read_text(encoding="utf-8")
    flat = re.sub(r"\s+", "", seed[seed.index("緊急時利用登録届【案】") :])
    for label in FORM_LABELS:
        assert re.sub(r"\s+", "", label) in flat, label


def test_registration_form_structure() -> None:
    by_id = {it["linkId"]: it for it in items(_q("emergency-registration"))}
    for n in (1, 2):
        assert by_id[f"contact.{n}.agreement"]["type"] == "boolean"
        assert by_id[f"contact.{n}.agreement"]["required"] is True
    assert by_id["contact.1"]["required"] is True
    assert by_id["household.member"]["repeats"] is True
    assert by_id["person.name.kana"]["required"] is True
    assert by_id["person.birthDate"]["type"] == "date"
    assert by_id["registration.eligibility"]["answerValueSet"].endswith("/registration-eligibility")
    assert any("共有することに同意します" in it["text"] for it in by_id.values())


def test_change_notice_carries_the_registration_items() -> None:
    reg = {it["linkId"] for it in items(_q("emergency-registration"))} - {"declaration"}
    change = _q("emergency-registration-change")
    assert change["derivedFrom"] == [_q("emergency-registration")["url"]]
    by_id = {it["linkId"]: it for it in items(change)}
    assert reg <= set(by_id)
    assert by_id["change.items"]["required"] is True
    assert not by_id["person.phone.mobile"].get("required", False)


def test_health_certificate_has_the_common_form_fields() -> None:
    q = _q("health-certificate")
    by_id = {it["linkId"]: it for it in items(q)}
    for link in (
        "person.name.kanji", "person.name.kana", "person.sex", "person.birthDate",
        "diagnosis.name", "diagnosis.onset", "diagnosis.stability", "history",
        "vitals.systolic", "vitals.diastolic", "vitals.pulse", "medication.present",
        "procedures.kind", "infection.tuberculosis.result", "behaviour", "physician.name", "date",
    ):  # fmt: skip
        assert link in by_id, link
    procs = vs_codes(by_id["procedures.kind"]["answerValueSet"])
    assert {code for _, code in procs} == set(PROCEDURES)


# -- examples conform to their profiles -------------------------------------------------------


def _present(resource: dict[str, Any], path: str) -> list[Any]:
    values: list[Any] = [resource]
    for part in path.split(".")[1:]:
        nxt: list[Any] = []
        for v in values:
            got = v.get(part.replace("[x]", "")) if isinstance(v, dict) else None
            if part.endswith("[x]"):
                got = [v[k] for k in v if k.startswith(part[:-3])] if isinstance(v, dict) else None
            if got is None:
                continue
            nxt.extend(got if isinstance(got, list) else [got])
        values = nxt
    return values


def _contains(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            _contains(value.get(k), v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_contains(x, p) for x in value) for p in pattern)
    return bool(value == pattern)


def check_profile(resource: dict[str, Any], sd: dict[str, Any]) -> list[str]:
    """Problems of ``resource`` against the key constraints of the differential of ``sd``."""
    problems = []
    assert sd["type"] == resource["resourceType"]
    for e in sd["differential"]["element"]:
        if "sliceName" in e:
            slice_parent = _present(resource, e["path"])
            if "patternCodeableConcept" in e:
                hits = [v for v in slice_parent if _contains(v, e["patternCodeableConcept"])]
            elif e["path"].endswith(".extension") and e.get("type"):
                url = e["type"][0]["profile"][0]
                hits = [v for v in slice_parent if v.get("url") == url]
            else:
                continue
            if len(hits) < e.get("min", 0):
                problems.append(f"{e['id']}: missing")
            if e.get("max") not in (None, "*") and len(hits) > int(e["max"]):
                problems.append(f"{e['id']}: too many")
            continue
        if ":" in e["id"]:
            continue  # elements inside a slice are checked with their slice's own test
        found = _present(resource, e["path"])
        if len(found) < e.get("min", 0):
            problems.append(f"{e['path']}: min {e['min']}, found {len(found)}")
        for key in ("fixedCode", "fixedUri"):
            if key in e and any(v != e[key] for v in found):
                problems.append(f"{e['path']}: must be {e[key]}")
    return problems


PROFILED = [r for r in EXAMPLES.values() if r.get("meta", {}).get("profile")]


@pytest.mark.parametrize("example", PROFILED, ids=lambda r: r["id"])
def test_example_conforms_to_its_profile(example: dict[str, Any]) -> None:
    sd = BY_URL[example["meta"]["profile"][0]]
    assert check_profile(example, sd) == []


def test_the_profile_check_can_fail() -> None:
    sd = BY_URL[f"{CANONICAL_BASE}/StructureDefinition/individual-support-plan"]
    plan = dict(EXAMPLES[("CarePlan", "example-individual-support-plan")])
    plan.pop("basedOn")
    plan["category"] = [{"coding": [{"system": "x", "code": "service-use-plan"}]}]
    plan["intent"] = "order"
    problems = check_profile(plan, sd)
    assert any(p.startswith("CarePlan.basedOn") for p in problems)
    assert any("planKind" in p for p in problems)
    assert any("must be plan" in p for p in problems)


def test_patient_example_has_kanji_and_kana_names() -> None:
    patient = EXAMPLES[("Patient", "example-registered-person")]
    reps = {
        ext["valueCode"]
        for n in patient["name"]
        for ext in n.get("extension", [])
        if ext["url"] == REPR
    }
    assert reps == {"IDE", "SYL"}
    kana = next(n for n in patient["name"] if n["extension"][0]["valueCode"] == "SYL")
    assert re.fullmatch(r"[\u30a0-\u30ff]+", kana["family"] + kana["given"][0])
    assert BY_URL[f"{CANONICAL_BASE}/StructureDefinition/registered-person"]["baseDefinition"] == (
        "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"
    )


def test_individual_plan_is_based_on_the_persons_service_use_plan() -> None:
    isp = EXAMPLES[("CarePlan", "example-individual-support-plan")]
    rtype, rid = isp["basedOn"][0]["reference"].split("/")
    sup = EXAMPLES[(rtype, rid)]
    assert sup["meta"]["profile"] == [f"{CANONICAL_BASE}/StructureDefinition/service-use-plan"]
    assert sup["subject"]["reference"] == isp["subject"]["reference"]


# -- questionnaire responses answer their questionnaire ----------------------------------------

VALUE_KEY = {
    "boolean": "valueBoolean", "decimal": "valueDecimal", "integer": "valueInteger",
    "date": "valueDate", "string": "valueString", "text": "valueString",
    "choice": "valueCoding", "open-choice": "valueCoding",
}  # fmt: skip


def check_response(qr: dict[str, Any], q: dict[str, Any]) -> list[str]:
    """Problems of ``qr`` as an answer to ``q`` (linkIds, nesting, types, required, codes)."""
    problems: list[str] = []
    answered: dict[str, list[dict[str, Any]]] = {}

    def walk(q_items: list[dict[str, Any]], r_items: list[dict[str, Any]]) -> None:
        by_id = {it["linkId"]: it for it in q_items}
        for r in r_items:
            qi = by_id.get(r["linkId"])
            if qi is None:
                problems.append(f"{r['linkId']}: not in the questionnaire here")
                continue
            answered.setdefault(r["linkId"], []).extend(r.get("answer", []))
            for a in r.get("answer", []):
                key = VALUE_KEY.get(qi["type"])
                if key not in a and not (qi["type"] == "open-choice" and "valueString" in a):
                    problems.append(f"{r['linkId']}: wrong answer type")
                elif key == "valueCoding" and "answerValueSet" in qi and "valueCoding" in a:
                    coding = a["valueCoding"]
                    if (coding["system"], coding["code"]) not in vs_codes(qi["answerValueSet"]):
                        problems.append(f"{r['linkId']}: code not in {qi['answerValueSet']}")
            walk(qi.get("item", []), r.get("item", []))
        present = {r["linkId"] for r in r_items}
        for qi in q_items:
            if qi.get("required") and qi["linkId"] not in present and _enabled(qi, answered):
                problems.append(f"{qi['linkId']}: required")

    walk(q["item"], qr["item"])
    return problems


def _enabled(item: dict[str, Any], answered: dict[str, list[dict[str, Any]]]) -> bool:
    conds = item.get("enableWhen", [])
    return not conds or any(
        any(
            a.get("valueBoolean") == c.get("answerBoolean") for a in answered.get(c["question"], [])
        )
        for c in conds
    )


RESPONSES = [r for r in EXAMPLES.values() if r["resourceType"] == "QuestionnaireResponse"]


@pytest.mark.parametrize("qr", RESPONSES, ids=lambda r: r["id"])
def test_response_example_answers_its_questionnaire(qr: dict[str, Any]) -> None:
    assert qr["status"] == "completed"
    assert check_response(qr, BY_URL[qr["questionnaire"]]) == []


def test_the_response_check_can_fail() -> None:
    qr = json.loads(
        json.dumps(EXAMPLES[("QuestionnaireResponse", "example-emergency-registration-response")])
    )
    contact = next(i for i in qr["item"] if i["linkId"] == "contact.1")
    contact["item"] = [i for i in contact["item"] if i["linkId"] != "contact.1.agreement"]
    qr["item"][0]["answer"] = [{"valueString": "昨日"}]
    sex = qr["item"][2]["item"][4]
    sex["answer"][0]["valueCoding"]["code"] = "other"
    problems = check_response(qr, BY_URL[qr["questionnaire"]])
    assert "contact.1.agreement: required" in problems
    assert "filed-date: wrong answer type" in problems
    assert any(p.startswith("person.sex: code not in") for p in problems)


# -- the store and HTTP ----------------------------------------------------------------------


def test_load_conformance_upserts_by_id(database_url: str) -> None:
    db = Database(make_engine(database_url))
    try:
        with db.unit(write=True) as conn:
            report = load_conformance(Repository(conn))
        assert sorted(report.created) == sorted(f"{t}/{i}" for t, i in LOADED)
        with db.unit(write=True) as conn:
            again = load_conformance(Repository(conn))
            versions = conn.execute(select(func.count()).select_from(s.resource_version)).scalar()
        assert again.created == [] and again.updated == []
        assert len(again.unchanged) == len(LOADED)
        assert versions == len(LOADED)  # the second load made no version
        with db.unit(write=True) as conn:
            repo = Repository(conn)
            stored = resolve_canonical(
                repo, f"{CANONICAL_BASE}/Questionnaire/emergency-registration"
            )
            assert stored is not None and stored.version_id == 1
            changed = json.loads(stored.content or b"{}")
            changed["title"] = "緊急時利用登録届（改）"
            changed.pop("meta")
            r = LoadReport()
            assert upsert(repo, changed, r).version_id == 2 and r.updated
            assert resolve_canonical(repo, f"{CANONICAL_BASE}/ValueSet/no-such") is None
            assert resolve_canonical(repo, "http://example.org/fhir/ValueSet/care-level") is None
        with db.unit(write=True) as conn:
            examples = load_conformance(Repository(conn), include_examples=True)
        assert sorted(examples.created) == sorted(f"{t}/{i}" for t, i in EXAMPLES)
        assert "Questionnaire/emergency-registration" in examples.updated  # back to the file
    finally:
        db.dispose()


def test_loaded_profiles_are_served(app: Any, client: Any) -> None:
    with app.extensions["hub.db"].unit(write=True) as conn:
        load_conformance(Repository(conn))
    resp = client.get("/fhir/Questionnaire/emergency-registration", headers={"Accept": FHIR_JSON})
    assert resp.status_code == 200
    assert resp.get_json()["item"] == _q("emergency-registration")["item"]
    resp = client.get("/fhir/CodeSystem/welfare-service-kind")
    assert resp.status_code == 200 and resp.get_json()["title"] == "障害福祉サービス等の種類"


def test_every_operation_in_the_capability_statement_is_defined(app: Any, client: Any) -> None:
    """Each ``operation.definition`` the CapabilityStatement lists resolves: to an
    OperationDefinition the hub serves at its canonical URL, or to a core FHIR one."""
    with app.extensions["hub.db"].unit(write=True) as conn:
        load_conformance(Repository(conn))
    cs = client.get("/fhir/metadata", headers={"Accept": FHIR_JSON}).get_json()
    rest = cs["rest"][0]
    ops = [*rest.get("operation", [])] + [
        op for r in rest["resource"] for op in r.get("operation", [])
    ]
    hub_ops = {
        op["name"]: op["definition"] for op in ops if op["definition"].startswith(CANONICAL_BASE)
    }
    assert {"register", "share-registration", "health-certificate", "break-glass"} <= set(hub_ops)
    for name, url in hub_ops.items():
        found = client.get(f"/fhir/OperationDefinition?url={url}", headers={"Accept": FHIR_JSON})
        entries = found.get_json().get("entry", [])
        assert [e["resource"]["code"] for e in entries] == [name], url
    assert {op["definition"] for op in ops} - set(hub_ops.values()) == {
        "http://hl7.org/fhir/OperationDefinition/Patient-everything"
    }


def test_hub_search_parameters_and_consent_profile_are_served(app: Any, client: Any) -> None:
    """The search parameters the CapabilityStatement defines at the hub's canonical URLs, and
    the hub Consent profile, resolve on the hub (``[Type]?url=``)."""
    with app.extensions["hub.db"].unit(write=True) as conn:
        load_conformance(Repository(conn))
    cs = client.get("/fhir/metadata", headers={"Accept": FHIR_JSON}).get_json()
    own = {
        p["definition"]
        for r in cs["rest"][0]["resource"]
        for p in r.get("searchParam", [])
        if p.get("definition", "").startswith(CANONICAL_BASE)
    }
    assert f"{CANONICAL_BASE}/SearchParameter/EpisodeOfCare-expected-provider" in own
    for url in [*sorted(own), f"{CANONICAL_BASE}/StructureDefinition/hub-consent"]:
        rtype = url.split("/")[-2]
        found = client.get(f"/fhir/{rtype}?url={url}", headers={"Accept": FHIR_JSON}).get_json()
        assert [e["resource"]["url"] for e in found.get("entry", [])] == [url]
    found = client.get(
        "/fhir/SearchParameter?base=EpisodeOfCare&code=expected-provider",
        headers={"Accept": FHIR_JSON},
    ).get_json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["EpisodeOfCare-expected-provider"]


@pytest.mark.parametrize(
    "key",
    [
        ("Questionnaire", "emergency-registration"),
        ("Questionnaire", "emergency-registration-change"),
        ("Questionnaire", "health-certificate"),
        ("CodeSystem", "welfare-service-kind"),
        ("StructureDefinition", "service-use-plan"),
    ],
)
def test_japanese_text_round_trips_through_http(client: Any, key: tuple[str, str]) -> None:
    rtype = key[0]
    original = CONFORMANCE[key]
    created = post(client, rtype, original)
    assert created.status_code == 201, created.get_data(as_text=True)
    new_id = created.get_json()["id"]
    resp = client.get(f"/fhir/{rtype}/{new_id}", headers={"Accept": FHIR_JSON})
    assert resp.status_code == 200
    raw = resp.get_data()
    assert "charset=utf-8" in resp.headers["Content-Type"].lower().replace(" ", "")
    body = json.loads(raw.decode("utf-8"))
    for k, v in original.items():
        if k not in ("id", "meta"):
            assert body[k] == v, k
    assert original["title"].encode("utf-8") in raw  # UTF-8, not \\u escapes
    texts = [it["text"] for it in items(original)] if rtype == "Questionnaire" else []
    assert texts == [it["text"] for it in items(body)]
    for t in texts:
        assert json.dumps(t, ensure_ascii=False).encode("utf-8") in raw


def test_put_by_id_serves_the_form_at_its_canonical_path(client: Any) -> None:
    q = _q("emergency-registration")
    resp = put(client, "Questionnaire/emergency-registration", q)
    assert resp.status_code == 201
    again = put(client, "Questionnaire/emergency-registration", q)
    assert again.status_code == 200 and again.get_json()["meta"]["versionId"] == "1"
    got = client.get("/fhir/Questionnaire/emergency-registration").get_json()
    assert got["url"] == f"{CANONICAL_BASE}/Questionnaire/emergency-registration"
    assert {it["text"] for it in items(got)} >= set(FORM_LABELS)
