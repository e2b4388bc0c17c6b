"""Small helpers for FHIR-over-HTTP tests (Flask test client)."""

from __future__ import annotations

import json
from typing import Any

FHIR_JSON = "application/fhir+json"


def patient(
    family: str = "山田",
    given: str = "太郎",
    kana_family: str = "ヤマダ",
    kana_given: str = "タロウ",
    **extra: Any,
) -> dict[str, Any]:
    """A fictional JP Core style Patient: kanji (IDE) and kana (SYL) names."""
    ext = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
    return {
        "resourceType": "Patient",
        "name": [
            {
                "use": "official",
                "family": family,
                "given": [given],
                "text": f"{family} {given}",
                "extension": [{"url": ext, "valueCode": "IDE"}],
            },
            {
                "use": "official",
                "family": kana_family,
                "given": [kana_given],
                "text": f"{kana_family} {kana_given}",
                "extension": [{"url": ext, "valueCode": "SYL"}],
            },
        ],
        "gender": "male",
        "birthDate": "1980-04-01",
        **extra,
    }


def post(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.post(
        f"/fhir/{path}",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": FHIR_JSON, **headers},
    )


def put(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.put(
        f"/fhir/{path}",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": FHIR_JSON, **headers},
    )


def outcome_expressions(resp: Any) -> list[str]:
    body = resp.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome", body
    return [e for issue in body["issue"] for e in issue.get("expression", [])]
