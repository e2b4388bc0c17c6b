"""``hub.store.records``: plain values, and the ``Location`` header read back."""

from __future__ import annotations

import pytest

from hub.store.records import location_parts


@pytest.mark.parametrize(
    ("location", "parts"),
    [
        ("http://hub.example/fhir/CarePlan/p1/_history/3", ("CarePlan", "p1", "3")),
        ("/fhir/AuditEvent/01a2-7f/_history/1", ("AuditEvent", "01a2-7f", "1")),
        ("Patient/x", ("Patient", "x", None)),
        ("http://hub.example/fhir/Patient/x", ("Patient", "x", None)),
        ("", None),
        (None, None),
        ("Patient", None),
        ("/fhir/Patient/", None),
    ],
)
def test_location_parts(location: str | None, parts: tuple[str, str, str | None] | None) -> None:
    assert location_parts(location) == parts
