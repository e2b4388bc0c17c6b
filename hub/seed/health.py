"""The common health-certificate form (健康診断書共通様式) of a generated person.

A completed QuestionnaireResponse of ``Questionnaire/health-certificate``
(http://hl7.org/fhir/R4/questionnaireresponse.html) with ``subject`` the Patient and
``authored`` the issue date, so that a short-stay provider can tell how old it is (the base
wants one certificate to serve every short-stay provider, DOMAIN.md). Pure, deterministic.
"""

from __future__ import annotations

import random
from typing import Any

from hub.seed import names
from hub.seed.documents import HEALTH_FORM, JST, Form, coding, gender
from hub.seed.people import Person


def health_certificate(p: Person) -> dict[str, Any] | None:
    """The 健康診断書共通様式, issued on ``p.certificate_date`` (None when none was filed)."""
    if p.certificate_date is None:
        return None
    issued = p.certificate_date
    rng = random.Random(f"certificate:{p.id}")
    f = Form("health-certificate")
    diagnoses = [
        f.item(
            "diagnosis",
            items=[
                f.item("diagnosis.name", name),
                f.item(
                    "diagnosis.stability",
                    coding("condition-stability", rng.choice(("stable", "stable", "unstable"))),
                ),
            ],
        )
        for name in p.profile.main.split("、")
    ]
    medication = [f.item("medication.present", bool(p.medications))]
    if p.medications:
        medication.append(f.item("medication.detail", "、".join(p.medications)))
    items = [
        f.item(
            "person",
            items=[
                f.item("person.name.kanji", p.name),
                f.item("person.name.kana", p.kana),
                f.item("person.sex", gender(p.sex)),
                f.item("person.birthDate", p.birth),
            ],
        ),
        *diagnoses,
        f.item("history", "特記事項なし"),
        f.item(
            "vitals",
            items=[
                f.item("vitals.systolic", rng.randint(100, 140)),
                f.item("vitals.diastolic", rng.randint(60, 90)),
                f.item("vitals.pulse", rng.randint(60, 95)),
            ],
        ),
        f.item("medication", items=medication),
    ]
    if p.profile.procedures:
        kinds = sorted(rng.sample(p.profile.procedures, rng.randint(1, len(p.profile.procedures))))
        items.append(
            f.item(
                "procedures",
                items=[
                    f.item("procedures.kind", *(coding("medical-procedure", k) for k in kinds)),
                    f.item("procedures.detail", "手順書あり。実施できる職員の配置が必要。"),
                ],
            )
        )
    items += [
        f.item(
            "infection",
            items=[
                f.item(
                    "infection.tuberculosis",
                    items=[
                        f.item(
                            "infection.tuberculosis.result", coding("screening-result", "negative")
                        ),
                        f.item("infection.tuberculosis.date", issued),
                    ],
                )
            ],
        ),
        f.item("allergy", rng.choice(("なし", "なし", "卵", "ペニシリン系抗菌薬"))),
    ]
    if p.profile.behaviour:
        items.append(f.item("behaviour", p.profile.behaviour))
    institution = p.family_doctor or rng.choice(names.CLINICS)
    doctor = rng.choice(names.FAMILY)[0] + " " + rng.choice(names.GIVEN_MALE)[0]
    items += [
        f.item("fitness", rng.random() < 0.9),
        f.item(
            "physician",
            items=[f.item("physician.institution", institution), f.item("physician.name", doctor)],
        ),
        f.item("date", issued),
    ]
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"{p.id}-health-certificate",
        "questionnaire": HEALTH_FORM,
        "status": "completed",
        "subject": {"reference": p.ref},
        "authored": f"{issued.isoformat()}T11:00:00{JST}",
        "item": items,
    }
