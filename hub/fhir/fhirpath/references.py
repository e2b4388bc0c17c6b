"""Literal references, for ``resolve() is Type`` (http://hl7.org/fhir/R4/fhirpath.html).

``resolve()`` is supported only as ``resolve() is Type``: true when the reference's type part
is ``Type`` (``Practitioner/1``, ``http://x/fhir/Practitioner/1``, ``#id`` of a contained
resource) — nothing is fetched. :func:`split_reference` is also used outside FHIRPath.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=8192)
def split_reference(ref: str) -> tuple[str, str] | None:
    """``(type, id)`` of a literal reference ``[base/]Type/id[/_history/vid]``, else None.

    http://hl7.org/fhir/R4/references.html#literal — the type is a capitalised resource name,
    the id matches ``[A-Za-z0-9\\-\\.]{1,64}``. Canonical ``|version`` suffixes are ignored.
    """
    parts = ref.split("|", 1)[0].split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2:
        return None
    rtype, rid = parts[-2], parts[-1]
    if not _RES_TYPE.fullmatch(rtype) or not _RES_ID.fullmatch(rid):
        return None
    return rtype, rid


_RES_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_RES_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def reference_type(item: Any, root: dict[str, Any]) -> str | None:
    """The resource type a Reference (or canonical string) points to, without fetching it."""
    ref = item.get("reference") if type(item) is dict else item
    if type(ref) is not str:
        return None
    if ref.startswith("#"):
        for contained in root.get("contained") or ():
            if type(contained) is dict and contained.get("id") == ref[1:]:
                found = contained.get("resourceType")
                return found if type(found) is str else None
        return None
    parts = split_reference(ref)
    return parts[0] if parts else None
