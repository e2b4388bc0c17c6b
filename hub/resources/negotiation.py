"""Content negotiation (http://hl7.org/fhir/R4/http.html#mime-type): JSON only.

``_format`` overrides ``Accept``; XML or anything that is not JSON → 406. A request body
must be FHIR JSON (PATCH: JSON Patch) → otherwise 415.
"""

from __future__ import annotations

from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
_JSON_TYPES = {FHIR_JSON, "application/json", "application/json+fhir", "json", "text/json"}
_FORMAT_ALIASES = {
    "json": FHIR_JSON,
    "application/json": "application/json",
    FHIR_JSON: FHIR_JSON,
    "application/json+fhir": FHIR_JSON,
    "text/json": "application/json",
}
FORM = "application/x-www-form-urlencoded"


def _media(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def response_type(accept: str | None, fmt: str | None) -> str:
    """The media type to answer with, or ``FhirError`` 406."""
    if fmt is not None:
        chosen = _FORMAT_ALIASES.get(_media(fmt).replace(" ", "+"))
        if chosen is None:
            raise FhirError.of(
                406,
                IssueType.NOT_SUPPORTED,
                f"_format {fmt!r} is not supported: this server speaks FHIR JSON only",
                "_format",
            )
        return chosen
    if not accept:
        return FHIR_JSON
    for item in accept.split(","):
        media = _media(item)
        if media in (FHIR_JSON, "application/json+fhir", "*/*", "application/*") or not media:
            return FHIR_JSON
        if media in ("application/json", "text/json"):
            return "application/json"
    raise FhirError.of(
        406,
        IssueType.NOT_SUPPORTED,
        f"Cannot answer in {accept!r}: this server speaks application/fhir+json only",
        "Accept",
    )


def check_body_type(method: str, content_type: str | None, *, form_ok: bool = False) -> None:
    """Refuse bodies that are not FHIR JSON (JSON Patch for PATCH) with 415."""
    media = _media(content_type or "")
    if method == "PATCH":
        if media != JSON_PATCH:
            raise FhirError.of(
                415,
                IssueType.NOT_SUPPORTED,
                f"PATCH takes {JSON_PATCH} (RFC 6902), not {media or 'no type'!r}",
                "Content-Type",
            )
        return
    if form_ok and media == FORM:
        return
    if media not in _JSON_TYPES:
        raise FhirError.of(
            415,
            IssueType.NOT_SUPPORTED,
            f"The body must be {FHIR_JSON}, not {media or 'no type'!r}",
            "Content-Type",
        )
