"""The demo municipality as data (``seed/municipality.json``) and its directory resources.

The JSON names the organizations of a fictional 面的整備型 base (the city's welfare
division, the core consultation center acting as base coordinator, consultation offices,
service providers, two hospitals), their staff and the API clients the seed registers. This
module reads it and builds the directory as FHIR R4 resources:

* ``Organization`` (http://hl7.org/fhir/R4/organization.html) per organization, ``type``
  from http://terminology.hl7.org/CodeSystem/organization-type (``govt``, ``prov``) with the
  Japanese kind as text, address and phone;
* ``HealthcareService`` (http://hl7.org/fhir/R4/healthcareservice.html) per service an
  organization provides, ``type`` coded with the hub's CodeSystem welfare-service-kind (WAM
  NET service kinds), ``providedBy`` → the Organization; short stays carry their beds as
  ``characteristic`` text;
* ``Practitioner`` and ``PractitionerRole`` (相談支援専門員, サービス管理責任者, …; the role's
  ``code`` is text only — there is no national code system for these roles).

Pure: no database. Ids are the JSON's, so loading twice writes the same resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from hub.workflows.conformance import CANONICAL_BASE, JP_HUB_DIR
from hub.workflows.extract import katakana

SEED_DIR = Path(__file__).resolve().parents[2] / "seed"
MUNICIPALITY_FILE = SEED_DIR / "municipality.json"
SERVICE_KIND = f"{CANONICAL_BASE}/CodeSystem/welfare-service-kind"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"


class OrgKind(StrEnum):
    """The part an organization plays in the base (DOMAIN.md "Who takes part")."""

    CITY = "city"
    CORE_CENTER = "core-center"
    CONSULTATION_OFFICE = "consultation-office"
    PROVIDER = "provider"
    HOSPITAL = "hospital"


KIND_TEXT = {
    OrgKind.CITY: "市町村（障がい福祉担当課）",
    OrgKind.CORE_CENTER: "基幹相談支援センター",
    OrgKind.CONSULTATION_OFFICE: "指定特定相談支援事業所",
    OrgKind.PROVIDER: "障害福祉サービス事業所",
    OrgKind.HOSPITAL: "医療機関",
}


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    kind: OrgKind
    name: str
    town: str
    number: str
    services: tuple[str, ...] = ()
    weight: int = 1
    beds: int = 0
    alias: str = ""

    @property
    def ref(self) -> str:
        return f"Organization/{self.id}"


@dataclass(frozen=True, slots=True)
class Staff:
    id: str
    name: str
    kana: str
    gender: str
    organization: str
    role: str

    @property
    def role_ref(self) -> str:
        return f"PractitionerRole/{self.id}-role"


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """An API client the seed registers (``hub client add`` with a key made at seed time)."""

    key: str
    organization: str  # Organization id
    name: str
    scope: str
    break_glass: bool = False
    privacy_officer: bool = False


@dataclass(frozen=True)
class Municipality:
    name: str
    prefecture: str
    city: str
    postal_prefix: str
    phone_prefix: str
    towns: tuple[str, ...]
    orgs: tuple[Org, ...]
    staff: tuple[Staff, ...]
    clients: tuple[ClientSpec, ...]
    by_id: dict[str, Org] = field(default_factory=dict, compare=False)

    def of_kind(self, kind: OrgKind) -> list[Org]:
        return [o for o in self.orgs if o.kind is kind]

    def providing(self, service: str) -> list[Org]:
        """Providers (not offices or the core center) of one service kind."""
        return [o for o in self.of_kind(OrgKind.PROVIDER) if service in o.services]

    def staff_of(self, org_id: str) -> list[Staff]:
        return [s for s in self.staff if s.organization == org_id]

    def address(self, town: str, number: str) -> str:
        return f"{self.prefecture}{self.city}{town}{number}"


def parse(data: dict[str, Any]) -> Municipality:
    orgs = tuple(
        Org(
            id=o["id"],
            kind=OrgKind(o["kind"]),
            name=o["name"],
            town=o["town"],
            number=o["number"],
            services=tuple(o.get("services", ())),
            weight=int(o.get("weight", 1)),
            beds=int(o.get("beds", 0)),
            alias=o.get("alias", ""),
        )
        for o in data["organizations"]
    )
    by_id = {o.id: o for o in orgs}
    staff = tuple(Staff(**s) for s in data["practitioners"])
    clients = tuple(ClientSpec(**c) for c in data["clients"])
    for ref in [s.organization for s in staff] + [c.organization for c in clients]:
        if ref not in by_id:
            raise ValueError(f"{MUNICIPALITY_FILE.name}: unknown organization {ref!r}")
    return Municipality(
        name=data["name"],
        prefecture=data["prefecture"],
        city=data["city"],
        postal_prefix=data["postal_prefix"],
        phone_prefix=data["phone_prefix"],
        towns=tuple(data["towns"]),
        orgs=orgs,
        staff=staff,
        clients=clients,
        by_id=by_id,
    )


@cache
def load(path: Path = MUNICIPALITY_FILE) -> Municipality:
    return parse(json.loads(path.read_text(encoding="utf-8")))


@cache
def service_names() -> dict[str, str]:
    cs = json.loads((JP_HUB_DIR / "CodeSystem-welfare-service-kind.json").read_text("utf-8"))
    out: dict[str, str] = {}
    stack = list(cs["concept"])
    while stack:
        c = stack.pop()
        out[c["code"]] = c["display"]
        stack.extend(c.get("concept", []))
    return out


def service_coding(code: str) -> dict[str, str]:
    return {"system": SERVICE_KIND, "code": code, "display": service_names()[code]}


# -- directory resources ------------------------------------------------------------------------


def _address(m: Municipality, town: str, number: str, n: int) -> dict[str, Any]:
    return {
        "use": "work",
        "text": m.address(town, number),
        "postalCode": f"{m.postal_prefix}{n:02d}",
        "state": m.prefecture,
        "city": m.city,
        "line": [f"{town}{number}"],
        "country": "JP",
    }


def organization(m: Municipality, org: Org, n: int) -> dict[str, Any]:
    code = "govt" if org.kind is OrgKind.CITY else "prov"
    body: dict[str, Any] = {
        "resourceType": "Organization",
        "id": org.id,
        "active": True,
        "type": [{"coding": [{"system": ORG_TYPE, "code": code}], "text": KIND_TEXT[org.kind]}],
        "name": org.name,
        "telecom": [{"system": "phone", "value": f"{m.phone_prefix}{n:04d}", "use": "work"}],
        "address": [_address(m, org.town, org.number, n)],
    }
    if org.alias:
        body["alias"] = [org.alias]
    return body


def services(m: Municipality, org: Org) -> list[dict[str, Any]]:
    out = []
    for code in org.services:
        body: dict[str, Any] = {
            "resourceType": "HealthcareService",
            "id": f"{org.id}-{code}",
            "active": True,
            "providedBy": {"reference": org.ref, "display": org.name},
            "category": [{"text": KIND_TEXT[org.kind]}],
            "type": [{"coding": [service_coding(code)]}],
            "name": f"{org.name}（{service_names()[code]}）",
        }
        if code == "24" and org.beds:
            body["characteristic"] = [{"text": f"定員 {org.beds} 床（緊急時の受け入れ可）"}]
        out.append(body)
    return out


def practitioner(s: Staff) -> dict[str, Any]:
    family, given = s.name.split(" ", 1)
    kana = katakana(s.kana)
    kfamily, kgiven = kana.split(" ", 1)
    rep = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
    return {
        "resourceType": "Practitioner",
        "id": s.id,
        "active": True,
        "name": [
            {
                "use": "official",
                "text": s.name,
                "family": family,
                "given": [given],
                "extension": [{"url": rep, "valueCode": "IDE"}],
            },
            {
                "use": "official",
                "text": kana,
                "family": kfamily,
                "given": [kgiven],
                "extension": [{"url": rep, "valueCode": "SYL"}],
            },
        ],
        "gender": s.gender,
    }


def practitioner_role(m: Municipality, s: Staff) -> dict[str, Any]:
    org = m.by_id[s.organization]
    return {
        "resourceType": "PractitionerRole",
        "id": f"{s.id}-role",
        "active": True,
        "practitioner": {"reference": f"Practitioner/{s.id}", "display": s.name},
        "organization": {"reference": org.ref, "display": org.name},
        "code": [{"text": s.role}],
    }


def directory(m: Municipality) -> list[dict[str, Any]]:
    """Every directory resource, in an order where references point backwards."""
    out: list[dict[str, Any]] = []
    for n, org in enumerate(m.orgs, start=1):
        out.append(organization(m, org, n))
    for org in m.orgs:
        out.extend(services(m, org))
    for s in m.staff:
        out.append(practitioner(s))
        out.append(practitioner_role(m, s))
    return out
