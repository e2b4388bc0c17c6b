"""Fictional registered persons, drawn deterministically: ``person(seed, index, as_of)``.

Each person is drawn from its own ``random.Random`` seeded with the seed number and the
person's index, so person 41 is the same whether 60 or 100,000 are generated, and a run can
skip persons already loaded without drawing the ones before them. Nothing reads the clock:
dates are relative to ``as_of`` (the seed's reference day), so the same seed and ``as_of``
give the same bytes.

What a person carries is what the registration form (緊急時利用登録届, seed 003 別紙3) asks,
plus what the generator needs to decide the rest of the story: which consultation office
registers them, which providers the consent names, and how the consent later changes
(:class:`ConsentVariant`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from hub.seed import names
from hub.seed.municipality import Municipality, Org, OrgKind, Staff
from hub.seed.profiles import PROFILES, Profile


class ConsentVariant(StrEnum):
    """How the consent the registration form granted stands today."""

    PLAIN = "plain"  # as the form granted it
    DROP_PROVIDER = "drop-provider"  # a later version no longer names one provider
    EMERGENCY_ONLY = "emergency-only"  # a later version: providers only for ETREAT
    WITHDRAWN = "withdrawn"  # withdrawn (Consent.status inactive)


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    kana: str
    relationship: str  # CodeSystem relationship
    address: str
    phone: str
    agreed: bool


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    relationship: str


@dataclass
class Person:
    index: int
    id: str  # the Patient id
    family: tuple[str, str]
    given: tuple[str, str]
    sex: str  # administrative-gender
    birth: date
    postal: str
    address: str
    home_phone: str | None
    mobile: str | None
    profile: Profile
    certificates: list[tuple[str, str | None]]  # (certificate, grade code or None)
    care_level: str
    support_class: str
    eligibility: list[str]
    used: list[tuple[str, Org]]  # (service code, provider)
    family_doctor: str | None
    hospital: Org | None  # a hospital of the municipality named in the consent
    medications: list[str]
    expected: list[str]
    wanted: list[str]
    short_stays: list[Org]
    contacts: list[Contact]
    household: list[Member]
    filer: tuple[str, str, str, str]  # (kanji, kana, relationship, signature method)
    filed: date
    office: Org
    specialist: Staff | None
    consent: ConsentVariant
    changed: date  # when the consent changed (variants other than plain)
    certificate_date: date | None  # health certificate issue date (None: none filed)
    providers: list[Org] = field(default_factory=list)  # named in the consent

    @property
    def name(self) -> str:
        return f"{self.family[0]} {self.given[0]}"

    @property
    def kana(self) -> str:
        return f"{self.family[1]} {self.given[1]}"

    @property
    def ref(self) -> str:
        return f"Patient/{self.id}"

    def age(self, on: date) -> int:
        years = on.year - self.birth.year
        return years - ((on.month, on.day) < (self.birth.month, self.birth.day))


def patient_id(seed: int, index: int) -> str:
    """The stable Patient id of person ``index`` of seed ``seed`` (at most 36 characters,
    so the ids derived from it by the registration keep it as their prefix)."""
    return f"md{seed}-{index:06d}"


def _weighted(rng: random.Random, items: list[Org]) -> Org:
    return rng.choices(items, weights=[o.weight for o in items])[0]


def _profile(rng: random.Random) -> Profile:
    return rng.choices(PROFILES, weights=[p.weight for p in PROFILES])[0]


def _days(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high))


def _phone(rng: random.Random, mobile: bool) -> str:
    return (
        f"090-0000-{rng.randint(0, 9999):04d}" if mobile else f"0000-22-{rng.randint(0, 9999):04d}"
    )


def _given(rng: random.Random, sex: str) -> tuple[str, str]:
    return rng.choice(names.GIVEN_FEMALE if sex == "female" else names.GIVEN_MALE)


def _relatives(
    rng: random.Random, family: tuple[str, str], age: int
) -> tuple[list[tuple[str, tuple[str, str], str]], list[Member]]:
    """Relatives who could be contacts ((relationship, name, sex)) and the household."""
    kin: list[tuple[str, tuple[str, str], str]] = []
    if age < 60:
        kin.append(("mother", _given(rng, "female"), "female"))
    if age < 50 and rng.random() < 0.6:
        kin.append(("father", _given(rng, "male"), "male"))
    for rel, p in (("spouse", 0.3 if age >= 30 else 0.0), ("sibling", 0.5)):
        if rng.random() < p:
            sex = rng.choice(("male", "female"))
            kin.append((rel, _given(rng, sex), sex))
    household = [
        Member(f"{family[0]} {g[0]}", rel)
        for rel, g, _ in kin
        if rel in ("mother", "father", "spouse") or rng.random() < 0.3
    ]
    return kin, household


def person(seed: int, index: int, as_of: date, m: Municipality) -> Person:
    """Person ``index`` of seed ``seed`` (deterministic; see the module docstring)."""
    rng = random.Random(f"hub-seed:{seed}:{index}")
    profile = _profile(rng)
    sex = rng.choice(("male", "female"))
    family = rng.choice(names.FAMILY)
    given = _given(rng, sex)
    age = rng.randint(*profile.ages)
    birth = as_of - timedelta(days=age * 365 + rng.randint(0, 364))
    town = rng.choice(m.towns)
    number = f"{rng.randint(1, 9)}丁目{rng.randint(1, 30)}-{rng.randint(1, 20)}"
    address = m.address(town, number)
    certificates = [
        (cert, rng.choice(grades) if grades else None) for cert, grades in profile.certificates
    ]
    care = "none"
    if age >= 65:
        care = rng.choice(("none", "support-1", "support-2", "care-1", "care-2"))
    eligibility = list(rng.choice(profile.eligibility))
    used: list[tuple[str, Org]] = []
    for i, code in enumerate(profile.used):
        providers = m.providing(code)
        if providers and (i == 0 or rng.random() < profile.used_p):
            used.append((code, rng.choice(providers)))
    hospital = None
    doctor: str | None = None
    if profile.hospital and rng.random() < 0.7:
        hospital = m.by_id[profile.hospital]
        doctor = hospital.name
    elif rng.random() < 0.8:
        doctor = rng.choice(names.CLINICS)
    meds = (
        sorted(rng.sample(names.MEDICATIONS, rng.randint(1, 2)))
        if rng.random() < profile.medication_p
        else []
    )
    expected = sorted(set(rng.sample(profile.expected, rng.randint(1, len(profile.expected)))))
    wanted: list[str] = []
    short_stays: list[Org] = []
    if "carer-unable" in eligibility and rng.random() < 0.85:
        wanted.append("24")
        pool = m.providing("24")
        short_stays.append(_weighted(rng, pool))
        if rng.random() < 0.2:
            short_stays.append(rng.choice(pool))
    wanted += [c for c in profile.wanted if rng.random() < 0.5]
    kin, household = _relatives(rng, family, age)
    contacts: list[Contact] = []
    for rel, g, _ in kin[:2]:
        at_home = any(h.relationship == rel for h in household)
        contacts.append(
            Contact(
                f"{family[0]} {g[0]}",
                f"{family[1]} {g[1]}",
                rel,
                address if at_home else m.address(rng.choice(m.towns), f"{rng.randint(1, 9)}-1"),
                _phone(rng, True),
                rng.random() < (0.97 if not contacts else 0.8),
            )
        )
    if len(contacts) < 2:
        other = rng.choice(("uncle-aunt", "welfare-commissioner", "guardian", "friend"))
        ofam = rng.choice(names.FAMILY) if other != "uncle-aunt" else family
        og = _given(rng, rng.choice(("male", "female")))
        contacts.append(
            Contact(
                f"{ofam[0]} {og[0]}",
                f"{ofam[1]} {og[1]}",
                other,
                m.address(rng.choice(m.towns), f"{rng.randint(1, 9)}-{rng.randint(1, 30)}"),
                _phone(rng, True),
                rng.random() < 0.85,
            )
        )
    if age < 18:
        parent = next((c for c in contacts if c.relationship in ("mother", "father")), contacts[0])
        filer = (parent.name, parent.kana, parent.relationship, "guardian")
    elif rng.random() < 0.7:
        filer = (f"{family[0]} {given[0]}", f"{family[1]} {given[1]}", "self", "self")
    else:
        filer = (contacts[0].name, contacts[0].kana, contacts[0].relationship, "proxy")
    filed = as_of - _days(rng, 30, 900)
    offices = m.of_kind(OrgKind.CONSULTATION_OFFICE)
    office = _weighted(rng, offices)
    staff = m.staff_of(office.id)
    roll = rng.random()
    providers = list(
        dict.fromkeys([o for _, o in used] + short_stays + ([hospital] if hospital else []))
    )
    if roll < 0.10:
        variant = ConsentVariant.WITHDRAWN
    elif roll < 0.18 and len(providers) >= 2:
        variant = ConsentVariant.DROP_PROVIDER
    elif roll < 0.25 and providers:
        variant = ConsentVariant.EMERGENCY_ONLY
    else:
        variant = ConsentVariant.PLAIN
    days_since = (as_of - filed).days
    changed = filed + timedelta(days=rng.randint(1, max(1, days_since - 1)))
    cert_date = as_of - _days(rng, 7, 600) if ("24" in wanted or rng.random() < 0.3) else None
    return Person(
        index=index,
        id=patient_id(seed, index),
        family=family,
        given=given,
        sex=sex,
        birth=birth,
        postal=f"{m.postal_prefix}{rng.randint(10, 99)}",
        address=address,
        home_phone=_phone(rng, False) if rng.random() < 0.7 else None,
        mobile=_phone(rng, True) if age >= 15 and rng.random() < 0.8 else None,
        profile=profile,
        certificates=certificates,
        care_level=care,
        support_class=rng.choice(profile.support),
        eligibility=eligibility,
        used=used,
        family_doctor=doctor,
        hospital=hospital,
        medications=meds,
        expected=expected,
        wanted=wanted,
        short_stays=short_stays,
        contacts=contacts,
        household=household,
        filer=filer,
        filed=filed,
        office=office,
        specialist=rng.choice(staff) if staff else None,
        consent=variant,
        changed=changed,
        certificate_date=cert_date,
        providers=providers,
    )
