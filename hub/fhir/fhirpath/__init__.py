"""A compiled subset of FHIRPath, enough for every R4 search-parameter expression the hub indexes.

Implements the parts of FHIRPath N1 (http://hl7.org/fhirpath/N1/) used by the R4 search
parameters (http://hl7.org/fhir/R4/searchparameter-registry.html), with the FHIR-specific
rules of http://hl7.org/fhir/R4/fhirpath.html: choice elements (``Observation.value`` finds
``valueQuantity``, ``valueString``, … — R4 JSON names them ``value`` + TypeName, see
http://hl7.org/fhir/R4/formats.html#choice), ``resolve()`` and ``extension(url)``.

``compile_expression(text)`` parses once (a small recursive-descent parser) into a chain of
closures and returns ``(resource) -> list`` — the selected JSON values, flattened. Anything
outside the subset raises :class:`FhirPathError` at compile time, never a silent ``[]``.

The subset: paths, ``[n]``, literals (string, integer, decimal, boolean, ``{}``), ``$this``,
``%resource`` / ``%rootResource`` / ``%context``; operators ``|``, ``=``, ``!=``, ``and``,
``or``, ``xor``, ``implies``, ``is``, ``as``; functions where, select, exists, all, empty,
not, first, last, tail, skip, take, count, distinct, single, hasValue, ofType, as, is,
extension(url) and resolve(). No arithmetic, comparison, equivalence, membership, date
literals or other functions (no R4 search parameter the hub serves uses them).

Modules: :mod:`~hub.fhir.fhirpath.parse` (tokens, AST, grammar),
:mod:`~hub.fhir.fhirpath.datatypes` (types read from the JSON shape),
:mod:`~hub.fhir.fhirpath.references` (literal references, ``resolve() is Type``),
:mod:`~hub.fhir.fhirpath.values` (collection semantics, member navigation),
:mod:`~hub.fhir.fhirpath.compile` (closures, ``compile_expression``, ``evaluate``) and
:mod:`~hub.fhir.fhirpath.errors`.
"""

from __future__ import annotations

from hub.fhir.fhirpath.compile import compile_expression, evaluate
from hub.fhir.fhirpath.errors import FhirPathError
from hub.fhir.fhirpath.references import split_reference

__all__ = ["FhirPathError", "compile_expression", "evaluate", "split_reference"]
