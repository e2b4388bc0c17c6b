"""Sample resources for the FHIRPath tests: one or more of each type the hub indexes.

They exercise the R4 search-parameter expressions (see ``test_conformance``) and the table of
expected values in ``test_compile``.
"""

from __future__ import annotations

from typing import Any

EN_REP = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
IDE = {"url": EN_REP}

SAMPLES: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {
            "lastUpdated": "2024-04-01T09:00:00+09:00",
            "tag": [{"system": "http://hub.example/tag", "code": "pilot"}],
            "security": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
            ],
        },
        "identifier": [
            {"system": "urn:oid:1.2.392.100495.20.3.51.11311234567", "value": "00000010"},
            {"type": {"text": "保険者番号"}, "value": "06139999"},
        ],
        "active": True,
        "name": [
            {
                "extension": [IDE | {"valueCode": "IDE"}],
                "use": "official",
                "text": "山田 太郎",
                "family": "山田",
                "given": ["太郎"],
            },
            {
                "extension": [IDE | {"valueCode": "SYL"}],
                "use": "official",
                "text": "ヤマダ タロウ",
                "family": "ヤマダ",
                "given": ["タロウ"],
            },
        ],
        "telecom": [
            {"system": "phone", "value": "03-1234-5678", "use": "home"},
            {"system": "email", "value": "taro@example.jp"},
        ],
        "gender": "male",
        "birthDate": "1970-01-01",
        "deceasedBoolean": False,
        "address": [
            {
                "use": "home",
                "line": ["新宿1-1-1", "サンプルマンション101"],
                "city": "新宿区",
                "state": "東京都",
                "postalCode": "160-0022",
                "country": "JP",
            }
        ],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "ja"}]}}],
        "generalPractitioner": [{"reference": "Practitioner/dr1"}],
        "managingOrganization": {"reference": "Organization/org1", "display": "拠点A"},
        "link": [{"other": {"reference": "Patient/p0"}, "type": "replaces"}],
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "name": [{"family": "Smith", "given": ["John", "Q"], "prefix": ["Mr"]}],
        "deceasedDateTime": "2023-05-01T10:00:00Z",
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}], "text": "体重"},
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2024-04-01T10:30:00+09:00",
        "performer": [
            {"reference": "Practitioner/dr1"},
            {"reference": "https://other.example/fhir/Patient/p9"},
        ],
        "valueQuantity": {"value": 60.5, "unit": "kg", "system": "http://unitsofmeasure.org"},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "unit": "mmHg"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueCodeableConcept": {"text": "normal"},
            },
        ],
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "preliminary",
        "code": {"text": "生活状況"},
        "subject": {"reference": "Group/g1"},
        "effectivePeriod": {"start": "2024-01", "end": "2024-03-31"},
        "valueString": "一人暮らし",
        "dataAbsentReason": {"coding": [{"code": "unknown"}]},
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "code": {"coding": [{"code": "x"}]},
        "subject": {"reference": "http://hub.example/fhir/Patient/p1/_history/3"},
        "valueCodeableConcept": {"coding": [{"code": "ok"}], "text": "良好"},
        "effectiveInstant": "2024-04-01T01:02:03.123Z",
    },
    {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"},
        "statusHistory": [{"status": "planned", "period": {"start": "2024-03-30"}}],
        "subject": {"reference": "Patient/p1"},
        "participant": [
            {"individual": {"reference": "Practitioner/dr1"}},
            {"individual": {"reference": "RelatedPerson/rp1"}},
            {"individual": {"reference": "http://x.example/fhir/Practitioner/dr2"}},
        ],
        "period": {"start": "2024-04-01T10:00:00+09:00"},
        "location": [{"location": {"reference": "Location/l1"}, "period": {"end": "2024-04-02"}}],
    },
    {
        "resourceType": "Encounter",
        "id": "e2",
        "status": "planned",
        "class": {"code": "AMB"},
        "subject": {"reference": "Group/g1"},
    },
    {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": "http://jpfhir.jp/byomei", "code": "B0EK"}], "text": "x"},
        "subject": {"reference": "Patient/p1"},
        "onsetPeriod": {"start": "2020"},
        "abatementString": "寛解",
        "recordedDate": "2024-02-29",
        "asserter": {"reference": "Patient/p1"},
        "evidence": [{"detail": [{"reference": "Observation/o1"}]}],
    },
    {
        "resourceType": "Consent",
        "id": "cs1",
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
        "dateTime": "2024-04-01",
        "performer": [{"reference": "Patient/p1"}],
        "organization": [{"reference": "Organization/org1"}],
        "sourceReference": {"reference": "DocumentReference/d1"},
        "provision": {
            "type": "permit",
            "period": {"start": "2024-04-01", "end": "2025-03-31"},
            "actor": [
                {"role": {"text": "相談員"}, "reference": {"reference": "Practitioner/dr1"}},
                {"role": {"text": "事業所"}, "reference": {"reference": "Organization/org2"}},
            ],
            "action": [{"coding": [{"code": "access"}]}],
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}
            ],
            "data": [{"meaning": "related", "reference": {"reference": "CarePlan/cp1"}}],
        },
    },
    {
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-04-01"},
        "instantiatesCanonical": ["http://hub.example/fhir/PlanDefinition/pd1|2"],
        "careTeam": [{"reference": "CareTeam/ct1"}],
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "code": {"coding": [{"code": "visit"}]},
                    "scheduledTiming": {
                        "event": ["2024-04-05T10:00:00+09:00"],
                        "repeat": {"boundsPeriod": {"start": "2024-04-01", "end": "2024-06-30"}},
                    },
                    "performer": [{"reference": "Practitioner/dr1"}],
                }
            },
            {"detail": {"status": "not-started", "scheduledString": "毎週月曜"}},
            {"reference": {"reference": "ServiceRequest/sr1"}},
        ],
    },
    {
        "resourceType": "Task",
        "id": "t1",
        "status": "requested",
        "intent": "order",
        "for": {"reference": "Patient/p1"},
        "focus": {"reference": "ServiceRequest/sr1"},
        "owner": {"reference": "Organization/org2"},
        "authoredOn": "2024-04-01T09:00:00+09:00",
        "lastModified": "2024-04-01T09:05:00+09:00",
        "executionPeriod": {"start": "2024-04-02"},
        "businessStatus": {"text": "受付済"},
    },
    {
        "resourceType": "QuestionnaireResponse",
        "id": "qr1",
        "status": "completed",
        "questionnaire": "http://hub.example/fhir/Questionnaire/q1|1.0",
        "subject": {"reference": "Patient/p1"},
        "authored": "2024-04-01T11:00:00+09:00",
        "author": {"reference": "PractitionerRole/pr1"},
        "source": {"reference": "#rp"},
        "contained": [
            {"resourceType": "RelatedPerson", "id": "rp", "patient": {"reference": "Patient/p1"}}
        ],
    },
    {
        "resourceType": "Bundle",
        "id": "b1",
        "type": "document",
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": "urn:uuid:0c3e5a2c-1f0b-4c4e-9a8b-3b0b9c1f2d10",
        },
        "timestamp": "2024-04-01T12:00:00+09:00",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Composition", "id": "cmp1", "status": "final"},
            },
            {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Patient", "id": "p1"}},
        ],
    },
    {
        "resourceType": "AuditEvent",
        "id": "ae1",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "action": "R",
        "recorded": "2024-04-01T12:00:00.5+09:00",
        "outcome": "0",
        "agent": [
            {"who": {"reference": "Practitioner/dr1"}, "requestor": True, "name": "佐藤"},
            {"who": {"reference": "Patient/p1"}, "requestor": False},
        ],
        "source": {"observer": {"reference": "Device/d1"}},
        "entity": [{"what": {"reference": "Patient/p1"}, "name": "閲覧"}],
    },
    {
        "resourceType": "Group",
        "id": "g1",
        "type": "person",
        "actual": True,
        "member": [
            {"entity": {"reference": "Patient/p1"}},
            {"entity": {"reference": "Patient/p2"}},
        ],
        "characteristic": [
            {"code": {"text": "地域"}, "valueBoolean": True, "exclude": False},
            {
                "code": {"text": "区分"},
                "valueCodeableConcept": {"coding": [{"code": "3"}]},
                "exclude": False,
            },
        ],
    },
    {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": "urn:oid:1.2.392.100495.20.2.74", "code": "1"}]
        },
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2024-01-01"},
    },
    {
        "resourceType": "Goal",
        "id": "gl1",
        "lifecycleStatus": "active",
        "description": {"text": "外出"},
        "subject": {"reference": "Patient/p1"},
        "startDate": "2024-04",
        "target": [{"dueDate": "2024-09-30"}, {"dueDuration": {"value": 6, "unit": "mo"}}],
    },
    {
        "resourceType": "Composition",
        "id": "cmp1",
        "status": "final",
        "type": {"coding": [{"code": "11503-0"}]},
        "subject": {"reference": "Patient/p1"},
        "date": "2024-04-01",
        "author": [{"reference": "Practitioner/dr1"}],
        "title": "サービス等利用計画",
        "relatesTo": [
            {"code": "replaces", "targetReference": {"reference": "Composition/cmp0"}},
            {"code": "appends", "targetIdentifier": {"system": "urn:x", "value": "1"}},
        ],
        "section": [{"code": {"text": "s"}, "entry": [{"reference": "CarePlan/cp1"}]}],
    },
    {
        "resourceType": "Appointment",
        "id": "ap1",
        "status": "booked",
        "start": "2024-04-05T10:00:00+09:00",
        "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            {"actor": {"reference": "Location/l1"}, "status": "accepted"},
        ],
    },
]
