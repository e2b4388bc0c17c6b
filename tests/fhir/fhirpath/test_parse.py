"""hub.fhir.fhirpath.parse: what the subset refuses when compiling, and lexing.

Expressions outside the subset — valid FHIRPath (http://hl7.org/fhirpath/N1/grammar.html) the
hub does not implement, unsupported functions or variables, and syntax errors — must raise
:class:`FhirPathError` at compile time, never evaluate to a silent ``[]``.
"""

from __future__ import annotations

import pytest

from hub.fhir.fhirpath import FhirPathError, compile_expression, evaluate


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


def test_string_escapes_and_comments() -> None:
    res = {"resourceType": "Patient", "name": [{"family": "O'Brien\t"}]}
    assert evaluate(res, "Patient.name.where(family = 'O\\'Brien\\t').family // trailing") == [
        "O'Brien\t"
    ]
    assert evaluate(res, "Patient./* c */name.`family`") == ["O'Brien\t"]
    assert evaluate(res, "Patient.name.where(family = '\\u004F\\'Brien\\t').exists()") == [True]
