"""``consent_keepers``: the organizations that keep a Consent (pure, table-tested)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.consent.keepers import consent_keepers

R = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


def permit(purposes: list[str], *actors: str, nested: list[Any] | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {
        "type": "permit",
        "purpose": [{"system": R, "code": c} for c in purposes],
        "actor": [{"reference": {"reference": a}} for a in actors],
    }
    if nested:
        p["provision"] = nested
    return p


@pytest.mark.parametrize(
    ("body", "keepers"),
    [
        ({}, set()),
        ({"organization": [{"reference": "Organization/core"}]}, {"Organization/core"}),
        (
            {
                "organization": [{"reference": "Organization/core"}],
                "provision": {
                    "type": "deny",
                    "provision": [
                        permit(["CAREMGT", "TREAT"], "Organization/office"),
                        permit(["TREAT", "ETREAT"], "Organization/provider"),
                    ],
                },
            },
            {"Organization/core", "Organization/office"},
        ),
        # a deny naming CAREMGT keeps nothing; nested permits count
        (
            {
                "provision": {
                    "type": "deny",
                    "provision": [
                        {**permit(["CAREMGT"], "Organization/x"), "type": "deny"},
                        permit(
                            ["TREAT"],
                            "Organization/y",
                            nested=[permit(["CAREMGT"], "Organization/z")],
                        ),
                    ],
                }
            },
            {"Organization/z"},
        ),
        # malformed parts are ignored, not fatal
        ({"organization": ["x", {}], "provision": {"provision": ["x", {"actor": "y"}]}}, set()),
    ],
)
def test_consent_keepers(body: dict[str, Any], keepers: set[str]) -> None:
    assert consent_keepers(body) == frozenset(keepers)
