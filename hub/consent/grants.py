"""Coarse consent grants: the per-Consent index rows that let search pre-filter by consent.

Pure. For each *active* Consent this yields a ``head`` row (patient, policy, dateTime, root
period) and one ``permit`` row per (actor reference, purpose) that some permit provision
could grant — actor/purpose inherited from enclosing provisions, ``*`` when none is named.
The SQL pre-filter built on these rows (``hub.access.gate``) is deliberately a *superset* of
what ``hub.consent.engine.decide`` permits at the patient level (it ignores class, code,
security label, data period and instance restrictions, and nested denies); every resource it
lets through is then decided precisely by the engine before it leaves the hub. So the index
never hides data the engine would permit, and never discloses data the engine denies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.fhir.indexing import MAX_US, MIN_US, date_range

ANY = "*"
DEFAULT_POLICY = "default"


@dataclass(frozen=True, slots=True)
class GrantRow:
    kind: str  # "head" | "permit"
    patient_id: str
    policy: str
    date: int  # Consent.dateTime, µs (MIN_US when absent)
    actor: str  # reference, or "*" (any), "" on head rows
    purpose: str  # PurposeOfUse code, or "*" (any), "" on head rows
    low: int  # root provision.period, µs
    high: int


def _period(p: Any) -> tuple[int, int]:
    if not isinstance(p, dict):
        return MIN_US, MAX_US
    try:
        low = date_range(p["start"])[0] if p.get("start") else MIN_US
        high = date_range(p["end"])[1] if p.get("end") else MAX_US
    except ValueError:
        return MIN_US, MAX_US
    return low, high


def policy_key(consent: dict[str, Any]) -> str:
    """The policy a consent belongs to (for replacement): policyRule codings or policy URIs."""
    rule = consent.get("policyRule") or {}
    codes = sorted(f"{c.get('system', '')}|{c.get('code', '')}" for c in rule.get("coding", []))
    if codes:
        return ",".join(codes)
    uris = sorted(p.get("uri", "") for p in consent.get("policy", []) if p.get("uri"))
    return ",".join(uris) if uris else DEFAULT_POLICY


def _patient_id(consent: dict[str, Any]) -> str | None:
    ref = (consent.get("patient") or {}).get("reference", "")
    if ref.startswith("Patient/"):
        return ref.split("/")[1]
    return None


def _refs(provision: dict[str, Any]) -> list[str]:
    return [
        a["reference"]["reference"]
        for a in provision.get("actor", [])
        if isinstance(a.get("reference"), dict) and a["reference"].get("reference")
    ]


def _purposes(provision: dict[str, Any]) -> list[str]:
    return [p["code"] for p in provision.get("purpose", []) if p.get("code")]


def grant_rows(consent: dict[str, Any]) -> list[GrantRow]:
    """The coarse grant rows of one Consent resource (empty unless active with a patient)."""
    if consent.get("status") != "active":
        return []
    pid = _patient_id(consent)
    if pid is None:
        return []
    policy = policy_key(consent)
    try:
        date = date_range(consent["dateTime"])[0] if consent.get("dateTime") else MIN_US
    except ValueError:
        date = MIN_US
    root = consent.get("provision") or {}
    low, high = _period(root.get("period"))
    rows = [GrantRow("head", pid, policy, date, "", "", low, high)]
    seen: set[tuple[str, str]] = set()

    def walk(node: dict[str, Any], actors: list[str], purposes: list[str], is_root: bool) -> None:
        actors = _refs(node) or actors
        purposes = _purposes(node) or purposes
        if node.get("type") == "permit":
            for a in actors or [ANY]:
                for p in purposes or [ANY]:
                    if (a, p) not in seen:
                        seen.add((a, p))
                        rows.append(GrantRow("permit", pid, policy, date, a, p, low, high))
        for child in node.get("provision", []):
            if isinstance(child, dict):
                walk(child, actors, purposes, False)

    walk(root, [], [], True)
    return rows
