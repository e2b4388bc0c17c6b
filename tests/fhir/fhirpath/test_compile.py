"""hub.fhir.fhirpath.compile: what compiled expressions select, and their runtime errors.

A table of hand-written expectations over the samples; operators and three-valued logic
(FHIRPath §6.1, §6.5) compared with fhirpathpy (the reference implementation, used only in
tests); where ours deliberately differs, ``test_where_fhirpathpy_is_not_the_reference`` says why.
"""

from __future__ import annotations

from typing import Any

import pytest
from fhirpathpy import evaluate as fp_evaluate
from fhirpathpy.models import models

from hub.fhir.fhirpath import FhirPathError, compile_expression, evaluate
from tests.fhir.fhirpath.samples import EN_REP, SAMPLES

R4 = models["r4"]

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


def test_compiled_once() -> None:
    assert compile_expression("Patient.name.family") is compile_expression("Patient.name.family")


def test_non_singleton_boolean_is_an_error() -> None:
    with pytest.raises(FhirPathError):
        evaluate(
            {"resourceType": "Patient", "name": [{}, {}]},
            "Patient.name.where($this.exists() and %resource.name)",
        )


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
