"""Who keeps a person's Consent (pure): the organizations that may change it.

Used by ``hub.access.gate.Gate.may_change_consent``: seeing a consent (a provider it names, a
hospital under break-glass) is not enough to change it; the organizations that keep it are its
``Consent.organization`` (http://hl7.org/fhir/R4/consent-definitions.html#Consent.organization,
"the organization that manages the consent") and the actors of its care-management permits
(purpose CAREMGT) — for a registration, the core center and the consultation office.
"""

from __future__ import annotations

from typing import Any


def consent_keepers(body: dict[str, Any]) -> frozenset[str]:
    """The organizations that keep a Consent (pure): ``Consent.organization`` and the actors of
    any permit provision whose purposes include care management (CAREMGT)."""
    refs = {
        str(o.get("reference"))
        for o in body.get("organization") or []
        if isinstance(o, dict) and o.get("reference")
    }
    stack = list((body.get("provision") or {}).get("provision") or [])
    while stack:
        p = stack.pop()
        if not isinstance(p, dict):
            continue
        stack.extend(p.get("provision") or [])
        codes = {c.get("code") for c in p.get("purpose") or [] if isinstance(c, dict)}
        if p.get("type") == "permit" and "CAREMGT" in codes:
            refs |= {
                str(a["reference"]["reference"])
                for a in p.get("actor") or []
                if isinstance(a, dict)
                and isinstance(a.get("reference"), dict)
                and a["reference"].get("reference")
            }
    return frozenset(refs)
