"""hub.fhir.fhirpath against fhirpathpy (the reference implementation, used only here).

Every indexed search-parameter expression of the registry is compiled and evaluated on a set
of sample resources (below, plus the JP Core examples when the package is present) and the
result must equal fhirpathpy's. Two documented differences are special-cased:

* fhirpathpy does not implement ``resolve()``: ``resolve() is T`` is rewritten for it as a
  ``reference.matches('(^|/)T/id(/_history/v)?$')`` test.
* fhirpathpy's ``as`` requires a singleton (strict FHIRPath); ours filters like ``ofType``.
  When fhirpathpy raises on that, the expression is re-run there with ``ofType``.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy import evaluate as fp_evaluate
from fhirpathpy.models import models

from hub.fhir.fhirpath import FhirPathError, compile_expression, evaluate, split_reference
from hub.fhir.searchparams import SUPPORTED_TYPES, SearchParam, default_registry

JP_CORE = Path("/work/shared/fhir-packages/jp-core.r4-1.1.2.tgz")
R4 = models["r4"]

EN_REP = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
IDE = {"url": EN_REP}

SAMPLES: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {
            "lastUpdated": "2024-04-01T09:00:00+09:00",
            "tag": [{"system": "http://hub.example/tag", "code": "pilot"}],
            "security": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
            ],
        },
        "identifier": [
            {"system": "urn:oid:1.2.392.100495.20.3.51.11311234567", "value": "00000010"},
            {"type": {"text": "保険者番号"}, "value": "06139999"},
        ],
        "active": True,
        "name": [
            {
                "extension": [IDE | {"valueCode": "IDE"}],
                "use": "official",
                "text": "山田 太郎",
                "family": "山田",
                "given": ["太郎"],
            },
            {
                "extension": [IDE | {"valueCode": "SYL"}],
                "use": "official",
                "text": "ヤマダ タロウ",
                "family": "ヤマダ",
                "given": ["タロウ"],
            },
        ],
        "telecom": [
            {"system": "phone", "value": "03-1234-5678", "use": "home"},
            {"system": "email", "value": "taro@example.jp"},
        ],
        "gender": "male",
        "birthDate": "1970-01-01",
        "deceasedBoolean": False,
        "address": [
            {
                "use": "home",
                "line": ["新宿1-1-1", "サンプルマンション101"],
                "city": "新宿区",
                "state": "東京都",
                "postalCode": "160-0022",
                "country": "JP",
            }
        ],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "ja"}]}}],
        "generalPractitioner": [{"reference": "Practitioner/dr1"}],
        "managingOrganization": {"reference": "Organization/org1", "display": "拠点A"},
        "link": [{"other": {"reference": "Patient/p0"}, "type": "replaces"}],
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "name": [{"family": "Smith", "given": ["John", "Q"], "prefix": ["Mr"]}],
        "deceasedDateTime": "2023-05-01T10:00:00Z",
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}], "text": "体重"},
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2024-04-01T10:30:00+09:00",
        "performer": [
            {"reference": "Practitioner/dr1"},
            {"reference": "https://other.example/fhir/Patient/p9"},
        ],
        "valueQuantity": {"value": 60.5, "unit": "kg", "system": "http://unitsofmeasure.org"},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "unit": "mmHg"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueCodeableConcept": {"text": "normal"},
            },
        ],
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "preliminary",
        "code": {"text": "生活状況"},
        "subject": {"reference": "Group/g1"},
        "effectivePeriod": {"start": "2024-01", "end": "2024-03-31"},
        "valueString": "一人暮らし",
        "dataAbsentReason": {"coding": [{"code": "unknown"}]},
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "code": {"coding": [{"code": "x"}]},
        "subject": {"reference": "http://hub.example/fhir/Patient/p1/_history/3"},
        "valueCodeableConcept": {"coding": [{"code": "ok"}], "text": "良好"},
        "effectiveInstant": "2024-04-01T01:02:03.123Z",
    },
    {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"},
        "statusHistory": [{"status": "planned", "period": {"start": "2024-03-30"}}],
        "subject": {"reference": "Patient/p1"},
        "participant": [
            {"individual": {"reference": "Practitioner/dr1"}},
            {"individual": {"reference": "RelatedPerson/rp1"}},
            {"individual": {"reference": "http://x.example/fhir/Practitioner/dr2"}},
        ],
        "period": {"start": "2024-04-01T10:00:00+09:00"},
        "location": [{"location": {"reference": "Location/l1"}, "period": {"end": "2024-04-02"}}],
    },
    {
        "resourceType": "Encounter",
        "id": "e2",
        "status": "planned",
        "class": {"code": "AMB"},
        "subject": {"reference": "Group/g1"},
    },
    {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": "http://jpfhir.jp/byomei", "code": "B0EK"}], "text": "x"},
        "subject": {"reference": "Patient/p1"},
        "onsetPeriod": {"start": "2020"},
        "abatementString": "寛解",
        "recordedDate": "2024-02-29",
        "asserter": {"reference": "Patient/p1"},
        "evidence": [{"detail": [{"reference": "Observation/o1"}]}],
    },
    {
        "resourceType": "Consent",
        "id": "cs1",
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
        "dateTime": "2024-04-01",
        "performer": [{"reference": "Patient/p1"}],
        "organization": [{"reference": "Organization/org1"}],
        "sourceReference": {"reference": "DocumentReference/d1"},
        "provision": {
            "type": "permit",
            "period": {"start": "2024-04-01", "end": "2025-03-31"},
            "actor": [
                {"role": {"text": "相談員"}, "reference": {"reference": "Practitioner/dr1"}},
                {"role": {"text": "事業所"}, "reference": {"reference": "Organization/org2"}},
            ],
            "action": [{"coding": [{"code": "access"}]}],
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}
            ],
            "data": [{"meaning": "related", "reference": {"reference": "CarePlan/cp1"}}],
        },
    },
    {
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-04-01"},
        "instantiatesCanonical": ["http://hub.example/fhir/PlanDefinition/pd1|2"],
        "careTeam": [{"reference": "CareTeam/ct1"}],
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "code": {"coding": [{"code": "visit"}]},
                    "scheduledTiming": {
                        "event": ["2024-04-05T10:00:00+09:00"],
                        "repeat": {"boundsPeriod": {"start": "2024-04-01", "end": "2024-06-30"}},
                    },
                    "performer": [{"reference": "Practitioner/dr1"}],
                }
            },
            {"detail": {"status": "not-started", "scheduledString": "毎週月曜"}},
            {"reference": {"reference": "ServiceRequest/sr1"}},
        ],
    },
    {
        "resourceType": "Task",
        "id": "t1",
        "status": "requested",
        "intent": "order",
        "for": {"reference": "Patient/p1"},
        "focus": {"reference": "ServiceRequest/sr1"},
        "owner": {"reference": "Organization/org2"},
        "authoredOn": "2024-04-01T09:00:00+09:00",
        "lastModified": "2024-04-01T09:05:00+09:00",
        "executionPeriod": {"start": "2024-04-02"},
        "businessStatus": {"text": "受付済"},
    },
    {
        "resourceType": "QuestionnaireResponse",
        "id": "qr1",
        "status": "completed",
        "questionnaire": "http://hub.example/fhir/Questionnaire/q1|1.0",
        "subject": {"reference": "Patient/p1"},
        "authored": "2024-04-01T11:00:00+09:00",
        "author": {"reference": "PractitionerRole/pr1"},
        "source": {"reference": "#rp"},
        "contained": [
            {"resourceType": "RelatedPerson", "id": "rp", "patient": {"reference": "Patient/p1"}}
        ],
    },
    {
        "resourceType": "Bundle",
        "id": "b1",
        "type": "document",
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": "urn:uuid:0c3e5a2c-1f0b-4c4e-9a8b-3b0b9c1f2d10",
        },
        "timestamp": "2024-04-01T12:00:00+09:00",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Composition", "id": "cmp1", "status": "final"},
            },
            {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Patient", "id": "p1"}},
        ],
    },
    {
        "resourceType": "AuditEvent",
        "id": "ae1",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "action": "R",
        "recorded": "2024-04-01T12:00:00.5+09:00",
        "outcome": "0",
        "agent": [
            {"who": {"reference": "Practitioner/dr1"}, "requestor": True, "name": "佐藤"},
            {"who": {"reference": "Patient/p1"}, "requestor": False},
        ],
        "source": {"observer": {"reference": "Device/d1"}},
        "entity": [{"what": {"reference": "Patient/p1"}, "name": "閲覧"}],
    },
    {
        "resourceType": "Group",
        "id": "g1",
        "type": "person",
        "actual": True,
        "member": [
            {"entity": {"reference": "Patient/p1"}},
            {"entity": {"reference": "Patient/p2"}},
        ],
        "characteristic": [
            {"code": {"text": "地域"}, "valueBoolean": True, "exclude": False},
            {
                "code": {"text": "区分"},
                "valueCodeableConcept": {"coding": [{"code": "3"}]},
                "exclude": False,
            },
        ],
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": "urn:oid:1.2.392.100495.20.2.74", "code": "1"}]
        },
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2024-01-01"},
    },
    {
        "resourceType": "Goal",
        "id": "gl1",
        "lifecycleStatus": "active",
        "description": {"text": "外出"},
        "subject": {"reference": "Patient/p1"},
        "startDate": "2024-04",
        "target": [{"dueDate": "2024-09-30"}, {"dueDuration": {"value": 6, "unit": "mo"}}],
    },
    {
        "resourceType": "Composition",
        "id": "cmp1",
        "status": "final",
        "type": {"coding": [{"code": "11503-0"}]},
        "subject": {"reference": "Patient/p1"},
        "date": "2024-04-01",
        "author": [{"reference": "Practitioner/dr1"}],
        "title": "サービス等利用計画",
        "relatesTo": [
            {"code": "replaces", "targetReference": {"reference": "Composition/cmp0"}},
            {"code": "appends", "targetIdentifier": {"system": "urn:x", "value": "1"}},
        ],
        "section": [{"code": {"text": "s"}, "entry": [{"reference": "CarePlan/cp1"}]}],
    },
    {
        "resourceType": "Appointment",
        "id": "ap1",
        "status": "booked",
        "start": "2024-04-05T10:00:00+09:00",
        "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            {"actor": {"reference": "Location/l1"}, "status": "accepted"},
        ],
    },
]


def indexed_params() -> list[SearchParam]:
    registry = default_registry()
    return [p for t in SUPPORTED_TYPES for p in registry.for_type(t).values() if p.indexed]


def canon(values: list[Any]) -> list[str]:
    return [json.dumps(v, sort_keys=True, default=float, ensure_ascii=False) for v in values]


def reference_evaluate(resource: dict[str, Any], expression: str) -> list[Any]:
    """fhirpathpy's answer, with the two documented rewrites (see the module docstring)."""
    rewritten = re.sub(
        r"resolve\(\) is (\w+)",
        lambda m: f"reference.matches('(^|/){m.group(1)}/[A-Za-z0-9.-]+(/_history/[^/]+)?$')",
        expression,
    )
    try:
        return list(fp_evaluate(resource, rewritten, {}, R4))
    except Exception as exc:
        if "singleton" not in str(exc):
            raise
    as_of_type = re.sub(r"\(([^()]*?) as (\w+)\)", r"(\1.ofType(\2))", rewritten)
    return list(fp_evaluate(resource, as_of_type.replace(".as(", ".ofType("), {}, R4))


@pytest.fixture(scope="session")
def jp_core_examples(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not JP_CORE.exists():
        pytest.skip(f"{JP_CORE} not present")
    out = tmp_path_factory.mktemp("jp-core")
    with tarfile.open(JP_CORE) as tar:
        tar.extractall(out, filter="data")
    examples = []
    for path in sorted((out / "package").glob("*.json")):
        res = json.loads(path.read_text(encoding="utf-8"))
        if res.get("resourceType") in SUPPORTED_TYPES:
            examples.append(res)
    return examples


def _compare(resources: list[dict[str, Any]]) -> Iterator[tuple[str, str, list[str], list[str]]]:
    registry = default_registry()
    for res in resources:
        for p in registry.for_type(res["resourceType"]).values():
            if p.indexed:
                ours, theirs = (
                    canon(evaluate(res, p.expression)),
                    canon(reference_evaluate(res, p.expression)),
                )
                yield (
                    f"{res['resourceType']}/{res.get('id')} {p.code}: {p.expression}",
                    p.code,
                    ours,
                    theirs,
                )


def test_every_indexed_expression_compiles() -> None:
    params = indexed_params()
    assert len(params) > 600
    for p in params:
        assert callable(compile_expression(p.expression)), p.expression


def test_samples_match_fhirpathpy() -> None:
    mismatches, non_empty = [], 0
    for where, _code, ours, theirs in _compare(SAMPLES):
        non_empty += bool(ours)
        if ours != theirs:
            mismatches.append(f"{where}\n  ours:   {ours}\n  theirs: {theirs}")
    assert not mismatches, "\n".join(mismatches)
    assert non_empty > 150  # the samples really exercise the expressions


def test_jp_core_examples_match_fhirpathpy(jp_core_examples: list[dict[str, Any]]) -> None:
    assert len(jp_core_examples) > 20
    mismatches, non_empty = [], 0
    for where, _code, ours, theirs in _compare(jp_core_examples):
        non_empty += bool(ours)
        if ours != theirs:
            mismatches.append(f"{where}\n  ours:   {ours}\n  theirs: {theirs}")
    assert not mismatches, "\n".join(mismatches)
    assert non_empty > 100


PATIENT, OBS, OBS2, OBS3, ENCOUNTER = SAMPLES[0], SAMPLES[2], SAMPLES[3], SAMPLES[4], SAMPLES[5]


@pytest.mark.parametrize(
    ("resource", "expression", "expected"),
    [
        (PATIENT, "Patient.name.family", ["山田", "ヤマダ"]),
        (PATIENT, "Patient.name.given | Patient.name.family", ["太郎", "タロウ", "山田", "ヤマダ"]),
        (PATIENT, "Patient.name.given | Patient.name.given", ["太郎", "タロウ"]),
        (PATIENT, "Patient.telecom.where(system='phone').value", ["03-1234-5678"]),
        (PATIENT, "Patient.telecom.where(system!='phone').value", ["taro@example.jp"]),
        (PATIENT, "Patient.deceased.exists() and Patient.deceased != false", [False]),
        (SAMPLES[1], "Patient.deceased.exists() and Patient.deceased != false", [True]),
        (SAMPLES[1], "(Patient.deceased as dateTime)", ["2023-05-01T10:00:00Z"]),
        (PATIENT, "(Patient.deceased as dateTime)", []),
        (
            PATIENT,
            f"Patient.name.extension('{EN_REP}').value",
            ["IDE", "SYL"],
        ),
        (
            PATIENT,
            f"Patient.name.where(extension.where(url='{EN_REP}').value = 'SYL').text",
            ["ヤマダ タロウ"],
        ),
        (PATIENT, "Patient.name.first().family", ["山田"]),
        (PATIENT, "Patient.name[1].given", ["タロウ"]),
        (PATIENT, "Patient.name[5].given", []),
        (PATIENT, "Patient.address.line.count()", [2]),
        (PATIENT, "Patient.link.other.where(resolve() is Patient).reference", ["Patient/p0"]),
        (PATIENT, "Patient.generalPractitioner.where(resolve() is Patient)", []),
        (PATIENT, "Patient.identifier.where(system.exists().not()).value", ["06139999"]),
        (PATIENT, "Patient.name.exists(family = 'ヤマダ')", [True]),
        (PATIENT, "Patient.name.all(family.exists())", [True]),
        (PATIENT, "Patient.name.select(given)", ["太郎", "タロウ"]),
        (PATIENT, "%resource.id", ["p1"]),
        (PATIENT, "Patient.active is boolean", [True]),
        (PATIENT, "Patient.name.tail().family", ["ヤマダ"]),
        (PATIENT, "Patient.name.family.last()", ["ヤマダ"]),
        (PATIENT, "Patient.name.skip(1).take(1).family", ["ヤマダ"]),
        (PATIENT, "Observation.code", []),
        (
            OBS,
            "Observation.value",
            [{"value": 60.5, "unit": "kg", "system": "http://unitsofmeasure.org"}],
        ),
        (OBS, "Observation.value.as(Quantity).value", [60.5]),
        (OBS, "Observation.value.ofType(string)", []),
        (OBS, "Observation.value is Quantity", [True]),
        (OBS, "Observation.value.is(string)", [False]),
        (OBS, "(Observation.effective as dateTime)", ["2024-04-01T10:30:00+09:00"]),
        (OBS, "(Observation.effective as Period)", []),
        (OBS, "Observation.component.value.ofType(Quantity).value", [120]),
        (OBS, "(Observation.component.value as CodeableConcept).text", ["normal"]),
        (OBS, "Observation.subject.where(resolve() is Patient).reference", ["Patient/p1"]),
        (
            OBS,
            "Observation.performer.where(resolve() is Patient).reference",
            ["https://other.example/fhir/Patient/p9"],
        ),
        (OBS2, "Observation.subject.where(resolve() is Patient)", []),
        (OBS2, "Observation.effective", [{"start": "2024-01", "end": "2024-03-31"}]),
        (
            OBS2,
            "(Observation.value as string) | (Observation.value as CodeableConcept).text",
            ["一人暮らし"],
        ),
        (
            OBS3,
            "(Observation.value as string) | (Observation.value as CodeableConcept).text",
            ["良好"],
        ),
        (OBS3, "Observation.subject.where(resolve() is Patient).exists()", [True]),
        (
            ENCOUNTER,
            "Encounter.participant.individual.where(resolve() is Practitioner).reference",
            ["Practitioner/dr1", "http://x.example/fhir/Practitioner/dr2"],
        ),
        (ENCOUNTER, "Encounter.class.code", ["HH"]),
        (SAMPLES[6], "Encounter.class.code", ["AMB"]),
        (SAMPLES[6], "Encounter.statusHistory.exists()", [False]),
        (
            SAMPLES[11],
            "QuestionnaireResponse.source.where(resolve() is RelatedPerson).reference",
            ["#rp"],
        ),
        (SAMPLES[12], "Bundle.entry[0].resource.id", ["cmp1"]),
        (SAMPLES[12], "Bundle.entry.resource.ofType(Patient).id", ["p1"]),
        (SAMPLES[12], "Bundle.entry.resource.where($this is Composition).id", ["cmp1"]),
        (
            SAMPLES[14],
            "(Group.characteristic.value as CodeableConcept)"
            " | (Group.characteristic.value as boolean)",
            [{"coding": [{"code": "3"}]}, True],
        ),
    ],
)
def test_table(resource: dict[str, Any], expression: str, expected: list[Any]) -> None:
    assert evaluate(resource, expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "Patient.name + 'x'",
        "Patient.birthDate - 1 'year'",
        "Patient.birthDate > @2000-01-01",
        "Patient.name.family.upper()",
        "Patient.name[$index]",
        "Patient.subject.resolve()",
        "Patient.subject.resolve().ofType(Patient)",
        "Patient.name.where($this is HumanName)",
        "Patient.name.as(bogus)",
        "Patient.name.where(",
        "Patient..name",
        "Patient.name.extension(url)",
        "Patient.name.skip('1')",
        "Patient.name 'x'",
        "Patient.name = 'unterminated",
        "Patient.name # comment",
        "%vs-administrative-gender",
        "Patient.name.where()",
        "Patient.gender in ('male' | 'female')",
        "Patient.birthDate < '2000'",
        "Patient.name.family ~ 'x'",
        "Patient.name.family contains 'x'",
        "%ucum",
        "Patient.name.first(",
    ],
)
def test_unsupported_raises_at_compile_time(expression: str) -> None:
    with pytest.raises(FhirPathError):
        compile_expression(expression)


def test_compiled_once() -> None:
    assert compile_expression("Patient.name.family") is compile_expression("Patient.name.family")


def test_non_singleton_boolean_is_an_error() -> None:
    with pytest.raises(FhirPathError):
        evaluate(
            {"resourceType": "Patient", "name": [{}, {}]},
            "Patient.name.where($this.exists() and %resource.name)",
        )


def test_string_escapes_and_comments() -> None:
    res = {"resourceType": "Patient", "name": [{"family": "O'Brien\t"}]}
    assert evaluate(res, "Patient.name.where(family = 'O\\'Brien\\t').family // trailing") == [
        "O'Brien\t"
    ]
    assert evaluate(res, "Patient./* c */name.`family`") == ["O'Brien\t"]
    assert evaluate(res, "Patient.name.where(family = '\\u004F\\'Brien\\t').exists()") == [True]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Patient/123", ("Patient", "123")),
        ("Patient/123/_history/4", ("Patient", "123")),
        ("http://x/fhir/Practitioner/a.b-c", ("Practitioner", "a.b-c")),
        ("http://x/fhir/Questionnaire/q1|2.0", ("Questionnaire", "q1")),
        ("urn:uuid:0c3e5a2c-1f0b-4c4e-9a8b-3b0b9c1f2d10", None),
        ("#contained", None),
        ("patient/123", None),
        ("Patient/", None),
        ("Patient/" + "x" * 65, None),
        ("123", None),
    ],
)
def test_split_reference(ref: str, expected: tuple[str, str] | None) -> None:
    assert split_reference(ref) == expected


@pytest.mark.parametrize("op", ["and", "or", "xor", "implies"])
@pytest.mark.parametrize("left", ["true", "false", "{}"])
@pytest.mark.parametrize("right", ["true", "false", "{}"])
def test_three_valued_logic_matches_fhirpathpy(op: str, left: str, right: str) -> None:
    expression = f"({left}) {op} ({right})"
    res = {"resourceType": "Patient"}
    assert evaluate(res, expression) == list(fp_evaluate(res, expression, {}, R4))


@pytest.mark.parametrize(
    "expression",
    [
        "Patient.active = true",
        "Patient.active != true",
        "Patient.name.given = 'a'",
        "Patient.name.given = ('a' | 'b')",
        "Patient.name.family = {}",
        "Patient.id = 1",
        "Patient.multipleBirth = 1",
        "Patient.name.given.exists($this = 'b')",
        "Patient.name.given.all($this = 'b')",
        "Patient.name.given.empty().not()",
        "Patient.name.given.distinct().count()",
    ],
)
def test_operators_match_fhirpathpy(expression: str) -> None:
    res = {"resourceType": "Patient", "id": "1", "active": True, "multipleBirthInteger": 1,
           "name": [{"given": ["a", "b"]}, {"given": ["b"]}]}  # fmt: skip
    try:
        expected = list(fp_evaluate(res, expression, {}, R4))
    except Exception:
        with pytest.raises(FhirPathError):
            evaluate(res, expression)
        return
    assert evaluate(res, expression) == expected


def test_where_fhirpathpy_is_not_the_reference() -> None:
    res = {"resourceType": "Patient", "multipleBirthInteger": 1, "name": [{"given": ["a", "b"]}]}
    # FHIRPath §6.1: values of different types are not equal (fhirpathpy: 1 = true → true)
    assert evaluate(res, "Patient.multipleBirth = true") == [False]
    assert evaluate(res, "Patient.multipleBirth = 1") == [True]
    # single() on several items is an error (fhirpathpy returns an error object)
    with pytest.raises(FhirPathError):
        evaluate(res, "Patient.name.given.single()")
    assert evaluate(res, "Patient.name.given.first().single()") == ["a"]
    # hasValue() (FHIR §2.6.2.1) is not implemented by fhirpathpy
    assert evaluate(res, "Patient.name.given.first().hasValue()") == [True]
    assert evaluate(res, "Patient.name.first().hasValue()") == [False]
