"""hub.fhir.fhirpath.references: ``split_reference`` of literal references.

http://hl7.org/fhir/R4/references.html#literal
"""

from __future__ import annotations

import pytest

from hub.fhir.fhirpath import split_reference


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
