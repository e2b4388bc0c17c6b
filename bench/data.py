"""Synthetic, fictional JP Core data: Patients with kanji + kana names, vital-sign Observations.

Search fairness: the 50 ``FAMILIES`` are prefix-free (FHIR string search matches prefixes), so
``Patient?family=<kanji>`` and ``Patient?family=<kana>`` each match exactly the 20 base
Patients of that family; every other Patient (created during the benchmark or bulk-loaded for
``--scale``) takes a name from ``OTHER_FAMILIES``, none of which starts with a search family.
"""

from __future__ import annotations

import itertools
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
JP_PATIENT = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"
JP_VITALS = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_VitalSigns"
# JP Core patient identifier: urn:oid:1.2.392.100495.20.3.51.1 + a (fictional) facility code.
MRN_SYSTEM = "urn:oid:1.2.392.100495.20.3.51.11399999999"
PER_FAMILY = 20
#: The organization that registers every benchmark person (authors the records, custodian of
#: the consents) and the one the benchmark client acts for (named in each person's consent).
CORE_CENTER = "Organization/core-center"
BENCH_ORG = "Organization/hub-bench"
PURPOSE_OF_USE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"

FAMILIES: tuple[tuple[str, str], ...] = (
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"),
    ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
    ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"), ("山田", "ヤマダ"),
    ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"), ("井上", "イノウエ"),
    ("木村", "キムラ"), ("斎藤", "サイトウ"), ("清水", "シミズ"), ("山崎", "ヤマザキ"),
    ("池田", "イケダ"), ("橋本", "ハシモト"), ("阿部", "アベ"), ("石川", "イシカワ"),
    ("山下", "ヤマシタ"), ("中島", "ナカジマ"), ("石井", "イシイ"), ("小川", "オガワ"),
    ("前田", "マエダ"), ("岡田", "オカダ"), ("長谷川", "ハセガワ"), ("藤田", "フジタ"),
    ("後藤", "ゴトウ"), ("近藤", "コンドウ"), ("村上", "ムラカミ"), ("遠藤", "エンドウ"),
    ("青木", "アオキ"), ("坂本", "サカモト"), ("福田", "フクダ"), ("太田", "オオタ"),
    ("西村", "ニシムラ"), ("藤井", "フジイ"), ("金子", "カネコ"), ("岡本", "オカモト"),
    ("藤原", "フジワラ"), ("中野", "ナカノ"), ("三浦", "ミウラ"), ("原田", "ハラダ"),
    ("松田", "マツダ"), ("竹内", "タケウチ"),
)  # fmt: skip
OTHER_FAMILIES: tuple[tuple[str, str], ...] = (
    ("比嘉", "ヒガ"), ("宮城", "ミヤギ"), ("新垣", "アラカキ"), ("金城", "キンジョウ"),
    ("大城", "オオシロ"), ("上原", "ウエハラ"), ("島袋", "シマブクロ"), ("平良", "タイラ"),
    ("玉城", "タマキ"), ("知念", "チネン"), ("照屋", "テルヤ"), ("仲宗根", "ナカソネ"),
)  # fmt: skip
GIVEN: tuple[tuple[str, str], ...] = (
    ("太郎", "タロウ"), ("花子", "ハナコ"), ("健太", "ケンタ"), ("美咲", "ミサキ"),
    ("翔太", "ショウタ"), ("陽菜", "ヒナ"), ("大輔", "ダイスケ"), ("結衣", "ユイ"),
    ("拓海", "タクミ"), ("葵", "アオイ"), ("悠真", "ユウマ"), ("凛", "リン"),
    ("湊", "ミナト"), ("芽依", "メイ"), ("颯太", "ソウタ"), ("心春", "コハル"),
    ("一郎", "イチロウ"), ("和子", "カズコ"), ("誠", "マコト"), ("恵子", "ケイコ"),
)  # fmt: skip
# (LOINC code, display, unit, UCUM code, base value) — JP Core vital signs.
VITALS: tuple[tuple[str, str, str, str, float], ...] = (
    ("29463-7", "Body weight", "kg", "kg", 58.0),
    ("8302-2", "Body height", "cm", "cm", 162.0),
    ("8867-4", "Heart rate", "/min", "/min", 70.0),
    ("8310-5", "Body temperature", "℃", "Cel", 36.4),
    ("8480-6", "Systolic blood pressure", "mmHg", "mm[Hg]", 122.0),
)


def fold(s: str) -> str:
    """Width/case folding close to the hub's string-search normalisation (enough for kanji and
    katakana): NFKC, casefold."""
    return unicodedata.normalize("NFKC", s).casefold()


def check_names() -> None:
    """Fail loudly if a search family could match more than its own 20 Patients."""
    search = [fold(x) for pair in FAMILIES for x in pair]
    others = [fold(x) for pair in OTHER_FAMILIES for x in pair]
    for a, b in itertools.permutations(search, 2):
        if b.startswith(a):
            raise ValueError(f"search family {a!r} is a prefix of {b!r}")
    for a, b in itertools.product(search, others):
        if b.startswith(a):
            raise ValueError(f"filler family {b!r} would match the search for {a!r}")


def patient(family: tuple[str, str], given: tuple[str, str], n: int) -> dict[str, Any]:
    """A JP Core Patient: one HumanName in kanji (IDE) and one in kana (SYL)."""

    def name(rep: str, fam: str, giv: str) -> dict[str, Any]:
        return {
            "extension": [{"url": EN_REPRESENTATION, "valueCode": rep}],
            "use": "official",
            "text": f"{fam} {giv}",
            "family": fam,
            "given": [giv],
        }

    return {
        "resourceType": "Patient",
        "meta": {"profile": [JP_PATIENT]},
        "identifier": [{"system": MRN_SYSTEM, "value": f"{n:08d}"}],
        "name": [name("IDE", family[0], given[0]), name("SYL", family[1], given[1])],
        "gender": "male" if n % 2 else "female",
        "birthDate": f"{1930 + n % 80}-{1 + n % 12:02d}-{1 + n % 28:02d}",
    }


def observation(subject: str, k: int, n: int) -> dict[str, Any]:
    """Vital sign ``k`` (0..4) for ``subject`` (``Patient/<id>`` or ``urn:uuid:…``)."""
    code, display, unit, ucum, base = VITALS[k % len(VITALS)]
    return {
        "resourceType": "Observation",
        "meta": {"profile": [JP_VITALS]},
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
        "subject": {"reference": subject},
        "effectiveDateTime": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00+09:00",
        "valueQuantity": {"value": round(base + (n % 7) * 0.5, 1), "unit": unit,
                          "system": "http://unitsofmeasure.org", "code": ucum},
    }  # fmt: skip


def base_patient(i: int) -> dict[str, Any]:
    """Base Patient ``i``: family ``i % 50`` so each family has exactly 20 of the 1,000."""
    return patient(FAMILIES[i % len(FAMILIES)], GIVEN[(i // len(FAMILIES)) % len(GIVEN)], i)


def other_patient(i: int) -> dict[str, Any]:
    """A Patient that no benchmark search matches (created or bulk-loaded filler)."""
    return patient(OTHER_FAMILIES[i % len(OTHER_FAMILIES)], GIVEN[i % len(GIVEN)], i)


def organization(ref: str, name: str) -> dict[str, Any]:
    """A directory Organization with a fixed id (``ref`` = ``Organization/<id>``)."""
    return {"resourceType": "Organization", "id": ref.split("/", 1)[1], "active": True,
            "name": name}  # fmt: skip


def consent(
    patient_ref: str, actor: str = BENCH_ORG, custodian: str = CORE_CENTER
) -> dict[str, Any]:
    """An active ``patient-privacy`` Consent (FHIR R4 §Consent) by which ``patient_ref`` permits
    ``actor`` to access their data for treatment (PurposeOfUse TREAT) — base deny, one permit
    provision, as the registration form (緊急時利用登録届) gives."""
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": patient_ref},
        "dateTime": "2025-04-01T10:00:00+09:00",
        "organization": [{"reference": custodian}],
        "policyRule": {"text": "緊急時利用登録届による情報共有の同意 (benchmark)"},
        "provision": {
            "type": "deny",
            "provision": [{
                "type": "permit",
                "actor": [{
                    "role": {"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "IRCP",
                    }]},
                    "reference": {"reference": actor},
                }],
                "purpose": [{"system": PURPOSE_OF_USE, "code": "TREAT"}],
            }],
        },
    }  # fmt: skip


def directory_entries() -> list[dict[str, Any]]:
    """PUT entries for the two Organizations the consents and clients name."""
    return [
        {
            "resource": organization(ref, name),
            "request": {"method": "PUT", "url": ref},
        }
        for ref, name in ((CORE_CENTER, "基幹相談支援センター (benchmark)"),
                          (BENCH_ORG, "ベンチマーク事業所 (benchmark)"))
    ]  # fmt: skip


def transaction_bundles(
    patients: int = 1000,
    obs_per_patient: int = 5,
    per_bundle: int = 100,
    consent_for: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Transaction Bundles of ``per_bundle`` Patients each, with their Observations
    (``subject`` → the Patient's ``urn:uuid:`` fullUrl, resolved by the hub). With
    ``consent_for`` (an Organization reference), each Patient also gets an active Consent
    permitting that organization (TREAT), and the first Bundle creates the Organizations."""
    for start in range(0, patients, per_bundle):
        entries: list[dict[str, Any]] = []
        if consent_for and start == 0:
            entries += directory_entries()
        for i in range(start, min(start + per_bundle, patients)):
            full_url = f"urn:uuid:{uuid.uuid4()}"
            entries.append(
                {
                    "fullUrl": full_url,
                    "resource": base_patient(i),
                    "request": {"method": "POST", "url": "Patient"},
                }
            )
            for k in range(obs_per_patient):
                entries.append(
                    {
                        "resource": observation(full_url, k, i * obs_per_patient + k),
                        "request": {"method": "POST", "url": "Observation"},
                    }
                )
            if consent_for:
                entries.append(
                    {
                        "resource": consent(full_url, actor=consent_for),
                        "request": {"method": "POST", "url": "Consent"},
                    }
                )
        yield {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def search_paths() -> list[str]:
    """``/fhir/Patient?family=…`` for every family, kanji and kana (each matches 20)."""
    return [f"/fhir/Patient?family={quote(name)}" for pair in FAMILIES for name in pair]


def filler(count: int, start: int = 0, obs_per_patient: int = 5) -> Iterator[dict[str, Any]]:
    """``count`` filler resources for ``--scale``: one Patient then its Observations, repeated.
    Ids are set here (``id``) so that Observations can point at their Patient."""
    group = obs_per_patient + 1
    pid = ""
    for j in range(count):
        n = start + j
        if j % group == 0:
            pid = str(uuid.uuid4())
            yield {**other_patient(n // group), "id": pid}
        else:
            yield observation(f"Patient/{pid}", j % group - 1, n)
