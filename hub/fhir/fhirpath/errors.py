"""The one exception of the FHIRPath subset (http://hl7.org/fhirpath/N1/)."""

from __future__ import annotations


class FhirPathError(ValueError):
    """An expression outside the supported subset, a syntax error, or a runtime type error."""
