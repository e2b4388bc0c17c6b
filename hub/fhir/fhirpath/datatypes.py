"""FHIR types read from the JSON shape, for ``is`` / ``as`` / ``ofType()`` and choice elements.

http://hl7.org/fhir/R4/datatypes.html; choice elements per
http://hl7.org/fhir/R4/formats.html#choice.

There is no type model, so types come from the JSON: ``x as T``, ``x.as(T)``, ``x.ofType(T)``
and ``x is T`` on a member access ``x`` read the choice key ``x`` + ``T`` (``effective as
dateTime`` → ``effectiveDateTime``); on a non-choice key they check the JSON shape (primitives
by Python type and lexical form, resources by ``resourceType``, complex types: any object).
Elsewhere only primitive and resource type names are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hub.fhir.fhirpath.errors import FhirPathError

_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?", re.ASCII)
_DATETIME = re.compile(
    r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?", re.ASCII
)
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII)
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?", re.ASCII)


def _is_str(v: Any) -> bool:
    return type(v) is str


def _lexical(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda v: type(v) is str and pattern.fullmatch(v) is not None


_PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: type(v) is bool,
    "integer": lambda v: type(v) is int,
    "positiveInt": lambda v: type(v) is int and v > 0,
    "unsignedInt": lambda v: type(v) is int and v >= 0,
    "decimal": lambda v: type(v) in (int, float),
    "date": _lexical(_DATE),
    "dateTime": _lexical(_DATETIME),
    "instant": _lexical(_INSTANT),
    "time": _lexical(_TIME),
    **dict.fromkeys(
        "string code id markdown uri url canonical oid uuid base64Binary xhtml".split(),  # noqa: SIM905
        _is_str,
    ),
}
_SYSTEM_TYPES = {"Boolean": "boolean", "String": "string", "Integer": "integer"} | {
    "Decimal": "decimal", "Date": "date", "DateTime": "dateTime", "Time": "time"
}  # fmt: skip
_COMPLEX = frozenset(
    """Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count Distance
    Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData
    Signature Timing ContactDetail Contributor DataRequirement Expression ParameterDefinition
    RelatedArtifact TriggerDefinition UsageContext Dosage Meta Narrative Extension SimpleQuantity
    MoneyQuantity Element BackboneElement""".split()  # noqa: SIM905
)
#: the type suffixes a choice element ``name[x]`` can carry in R4 JSON
CHOICE_SUFFIXES = tuple(t[0].upper() + t[1:] for t in (*_PRIMITIVES, *_COMPLEX))


def type_check(type_name: str, lenient_complex: bool) -> Callable[[Any], bool]:
    """A JSON-shape test for ``type_name``; complex types only when ``lenient_complex``."""
    if type_name in _PRIMITIVES:
        return _PRIMITIVES[type_name]
    if type_name in _COMPLEX:
        if not lenient_complex:
            raise FhirPathError(f"cannot test complex type {type_name!r} on an untyped value")
        return lambda v: type(v) is dict and "resourceType" not in v
    if type_name in ("Resource", "DomainResource"):
        return lambda v: type(v) is dict and "resourceType" in v
    return lambda v: type(v) is dict and v.get("resourceType") == type_name


def normalize_type(name: str) -> str:
    """``name`` without its ``FHIR.`` namespace; ``System.`` primitives map to FHIR ones."""
    ns, _, local = name.rpartition(".")
    if ns == "System":
        local = _SYSTEM_TYPES.get(local, local)
    elif ns not in ("", "FHIR"):
        raise FhirPathError(f"unknown type namespace in {name!r}")
    if not local or (local[0].islower() and local not in _PRIMITIVES):
        raise FhirPathError(f"unknown type {name!r}")
    return local
