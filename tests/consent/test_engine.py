"""hub.consent.engine: table tests for every rule and criterion, and the registration scenario.

The combination rules are also tested as hypothesis properties (at the end).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.consent.codes import (
    CONSENT_ACTION_SYSTEM,
    CONSENT_SCOPE_SYSTEM,
    PURPOSE_OF_USE_SYSTEM,
    RESOURCE_TYPES_SYSTEM,
    DecisionRule,
)
from hub.consent.engine import (
    NOT_GATED,
    AccessRequest,
    BreakGlass,
    Decision,
    applicable_consents,
    decide,
    may_see_patient,
)
from hub.consent.model import ConsentRecord, parse_consent
from hub.fhir.indexing import date_range
from tests.consent import (
    CITY,
    CORE,
    HOSPITAL,
    NOW,
    PATIENT,
    PROVIDER_A,
    PROVIDER_B,
    action,
    actor,
    at,
    purpose,
    rclass,
    registration_consent,
)

R = DecisionRule
ORG_A, ORG_B = "Organization/a", "Organization/b"
LOINC = "http://loinc.org"
CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
HOUR = 3_600_000_000


def consent(
    provision: dict[str, Any] | None = None,
    *,
    id: str = "c1",
    version: str = "1",
    status: str = "active",
    date: str | None = "2025-01-01",
    policy: str | None = None,
    patient: str = "p1",
    **extra: Any,
) -> ConsentRecord:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": id,
        "meta": {"versionId": version},
        "status": status,
        "patient": {"reference": f"Patient/{patient}"},
        **extra,
    }
    if date is not None:
        resource["dateTime"] = date
    if policy is not None:
        resource["policyRule"] = {"coding": [{"system": "urn:policy", "code": policy}]}
    if provision is not None:
        resource["provision"] = provision
    return parse_consent(resource)


def req(**kw: Any) -> AccessRequest:
    base: dict[str, Any] = {
        "actor_refs": frozenset({ORG_A}),
        "organization": ORG_A,
        "purpose": "TREAT",
        "action": "access",
        "resource_type": "Condition",
        "resource_ref": "Condition/c1",
        "patient_id": "p1",
        "now": NOW,
    }
    return AccessRequest(**{**base, **kw})


def opt_in(**nested: Any) -> ConsentRecord:
    """Root catch-all deny with one nested permit carrying ``nested``'s criteria."""
    return consent({"type": "deny", "provision": [{"type": "permit", **nested}]})


PERMITTED = (True, R.CONSENT_PERMIT, (0,))
REFUSED = (False, R.CONSENT_DEFAULT_DENY, ())


def outcome(d: Decision) -> tuple[bool, DecisionRule, tuple[int, ...]]:
    return d.permit, d.rule, d.provision_path


def span(low: str, high: str) -> tuple[int, int]:
    return date_range(low)[0], date_range(high)[1]


# --- each provision criterion, matching and not ------------------------------------------------

CRITERIA: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("actor: the organization", {"actor": [actor(ORG_A)]}, {}, True),
    ("actor: another organization", {"actor": [actor(ORG_B)]}, {}, False),
    ("actor: one of several", {"actor": [actor(ORG_B), actor(ORG_A)]}, {}, True),
    ("actor: a care team the caller is in", {"actor": [actor("CareTeam/t1")]},
     {"actor_refs": frozenset({ORG_A, "CareTeam/t1"})}, True),
    ("actor: organization only, not in actor_refs", {"actor": [actor(ORG_A)]},
     {"actor_refs": frozenset()}, True),
    ("actor: no organization, no refs", {"actor": [actor(ORG_A)]},
     {"actor_refs": frozenset(), "organization": None}, False),
    ("actor: role is not matched", {"actor": [{"role": {"coding": [{"code": "AUT"}]},
                                               "reference": {"reference": ORG_A}}]}, {}, True),
    ("action: access", {"action": [action("access")]}, {}, True),
    ("action: collect only", {"action": [action("collect")]}, {}, False),
    ("action: one of two", {"action": [action("collect"), action("access")]}, {}, True),
    ("action: no system", {"action": [{"coding": [{"code": "access"}]}]}, {}, True),
    ("action: other system", {"action": [{"coding": [{"system": "urn:x", "code": "access"}]}]},
     {}, False),
    ("action: request disclose", {"action": [action("access")]}, {"action": "disclose"}, False),
    ("purpose: TREAT", {"purpose": [purpose("TREAT")]}, {}, True),
    ("purpose: research only", {"purpose": [purpose("HRESCH")]}, {}, False),
    ("purpose: one of three", {"purpose": [purpose("CAREMGT"), purpose("TREAT")]}, {}, True),
    ("purpose: other system", {"purpose": [{"system": "urn:x", "code": "TREAT"}]}, {}, False),
    ("purpose: no system", {"purpose": [{"code": "TREAT"}]}, {}, True),
    ("purpose: ETREAT only, TREAT asked", {"purpose": [purpose("ETREAT")]}, {}, False),
    ("purpose: ETREAT only, ETREAT asked", {"purpose": [purpose("ETREAT")]},
     {"purpose": "ETREAT"}, True),
    ("class: the type", {"class": [rclass("Condition")]}, {}, True),
    ("class: another type", {"class": [rclass("CarePlan")]}, {}, False),
    ("class: no system", {"class": [{"code": "Condition"}]}, {}, True),
    ("class: other system", {"class": [{"system": "urn:x", "code": "Condition"}]}, {}, False),
    ("code: in the resource", {"code": [{"coding": [{"system": LOINC, "code": "1"}]}]},
     {"codes": frozenset({(LOINC, "1"), (LOINC, "2")})}, True),
    ("code: not in the resource", {"code": [{"coding": [{"system": LOINC, "code": "3"}]}]},
     {"codes": frozenset({(LOINC, "1")})}, False),
    ("code: same code, other system", {"code": [{"coding": [{"system": "urn:x", "code": "1"}]}]},
     {"codes": frozenset({(LOINC, "1")})}, False),
    ("code: no system matches by code", {"code": [{"coding": [{"code": "1"}]}]},
     {"codes": frozenset({(LOINC, "1")})}, True),
    ("code: resource has no codes", {"code": [{"coding": [{"system": LOINC, "code": "1"}]}]},
     {}, False),
    ("securityLabel: present", {"securityLabel": [{"system": CONF, "code": "R"}]},
     {"security_labels": frozenset({(CONF, "R")})}, True),
    ("securityLabel: other label", {"securityLabel": [{"system": CONF, "code": "R"}]},
     {"security_labels": frozenset({(CONF, "N")})}, False),
    ("securityLabel: unlabelled resource", {"securityLabel": [{"system": CONF, "code": "R"}]},
     {}, False),
    ("dataPeriod: overlaps", {"dataPeriod": {"start": "2024-01", "end": "2024-06"}},
     {"data_period": span("2024-05-01", "2024-08-01")}, True),
    ("dataPeriod: touches the last day", {"dataPeriod": {"start": "2024-01", "end": "2024-06"}},
     {"data_period": span("2024-06-30T23:59:59Z", "2024-07-02")}, True),
    ("dataPeriod: after it", {"dataPeriod": {"start": "2024-01", "end": "2024-06"}},
     {"data_period": span("2024-07-01", "2024-07-02")}, False),
    ("dataPeriod: before it", {"dataPeriod": {"start": "2024-01"}},
     {"data_period": span("2023-01-01", "2023-12-31")}, False),
    ("dataPeriod: undated resource", {"dataPeriod": {"start": "2024-01"}}, {}, False),
    ("data: instance, this resource",
     {"data": [{"meaning": "instance", "reference": {"reference": "Condition/c1"}}]}, {}, True),
    ("data: instance, another resource",
     {"data": [{"meaning": "instance", "reference": {"reference": "Condition/c2"}}]}, {}, False),
    ("data: versioned reference",
     {"data": [{"meaning": "instance", "reference": {"reference": "Condition/c1/_history/4"}}]},
     {}, True),
    ("data: related, exact reference",
     {"data": [{"meaning": "related", "reference": {"reference": "Condition/c1"}}]}, {}, True),
    ("data: dependents of the patient are not walked",
     {"data": [{"meaning": "dependents", "reference": {"reference": "Patient/p1"}}]}, {}, False),
    ("data: authoredby, exact reference",
     {"data": [{"meaning": "authoredby", "reference": {"reference": "Condition/c1"}}]}, {}, True),
    ("period: contains now", {"period": {"start": "2025-01-01", "end": "2025-12-31"}}, {}, True),
    ("period: ended", {"period": {"end": "2025-09-30"}}, {}, False),
    ("period: last day still counts", {"period": {"end": "2025-10-01"}}, {}, True),
    ("period: not begun", {"period": {"start": "2025-10-02"}}, {}, False),
    ("all criteria match",
     {"actor": [actor(ORG_A)], "action": [action("access")], "purpose": [purpose("TREAT")],
      "class": [rclass("Condition")], "period": {"start": "2025"}}, {}, True),
    ("all but one criterion match",
     {"actor": [actor(ORG_A)], "action": [action("access")], "purpose": [purpose("TREAT")],
      "class": [rclass("CarePlan")], "period": {"start": "2025"}}, {}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("criteria", "request_kw", "permit"), [c[1:] for c in CRITERIA], ids=[c[0] for c in CRITERIA]
)
def test_provision_criterion(
    criteria: dict[str, Any], request_kw: dict[str, Any], permit: bool
) -> None:
    d = decide(req(**request_kw), [opt_in(**criteria)])
    assert outcome(d) == (PERMITTED if permit else REFUSED)
    assert (d.consent_id, d.consent_version) == ("c1", "1")


@pytest.mark.parametrize(
    ("criteria", "request_kw", "matches"), [c[1:] for c in CRITERIA], ids=[c[0] for c in CRITERIA]
)
def test_the_same_criterion_on_a_deny(
    criteria: dict[str, Any], request_kw: dict[str, Any], matches: bool
) -> None:
    """A nested deny under a root permit matches by the same rules (and is then explicit)."""
    c = consent({"type": "permit", "provision": [{"type": "deny", **criteria}]})
    d = decide(req(**request_kw), [c])
    assert outcome(d) == (
        (False, R.CONSENT_DENY, (0,)) if matches else (True, R.CONSENT_PERMIT, ())
    )


# --- which consents count ------------------------------------------------------------------------

PERMIT_ALL = {"type": "permit"}


@pytest.mark.parametrize(
    ("status", "permit"),
    [("active", True), ("draft", False), ("proposed", False), ("rejected", False),
     ("inactive", False), ("entered-in-error", False)],
)  # fmt: skip
def test_only_active_consents_count(status: str, permit: bool) -> None:
    d = decide(req(), [consent(PERMIT_ALL, status=status)])
    assert (d.permit, d.rule) == ((True, R.CONSENT_PERMIT) if permit else (False, R.NO_CONSENT))


@pytest.mark.parametrize(
    ("period", "counts"),
    [
        (None, True),
        ({"start": "2025-04-01", "end": "2028-03-31"}, True),
        ({"start": "2025-10-01T12:00:00+09:00"}, True),  # starts this very moment
        ({"start": "2025-10-01T12:00:01+09:00"}, False),
        ({"end": "2025-10-01"}, True),  # an end date covers that whole day (UTC)
        ({"end": "2025-09-30"}, False),
        ({"start": "2030"}, False),
    ],
)
def test_root_period_decides_whether_the_consent_counts(period: dict | None, counts: bool) -> None:
    prov: dict[str, Any] = {"type": "permit", **({"period": period} if period else {})}
    c = consent(prov)
    assert applicable_consents([c], "p1", NOW) == ([c] if counts else [])
    assert decide(req(), [c]).rule == (R.CONSENT_PERMIT if counts else R.NO_CONSENT)


@pytest.mark.parametrize(
    ("scope", "counts"),
    [
        (None, True),
        ({"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]}, True),
        ({"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "research"}]}, False),
        ({"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "treatment"}]}, False),
        ({"text": "個人情報"}, False),
    ],
)
def test_scope_must_be_patient_privacy(scope: dict | None, counts: bool) -> None:
    extra: dict[str, Any] = {"scope": scope} if scope else {}
    c = consent(PERMIT_ALL, **extra)
    assert decide(req(), [c]).permit is counts


def test_only_the_requests_patient_counts() -> None:
    other = consent(PERMIT_ALL, patient="p2")
    assert decide(req(), [other]).rule == R.NO_CONSENT
    assert decide(req(patient_id="p2"), [other]).rule == R.CONSENT_PERMIT
    assert decide(req(patient_id=None), [other]).rule == R.NO_CONSENT
    assert applicable_consents([other], None, NOW) == []


def test_base_deny_without_consents() -> None:
    d = decide(req(), [])
    assert d == Decision(False, R.NO_CONSENT, detail=d.detail)
    assert d.consent_id is None


@pytest.mark.parametrize(
    ("provision", "expected"),
    [
        (None, (False, R.CONSENT_DEFAULT_DENY, ())),  # no provision: counts, permits nothing
        ({}, (False, R.CONSENT_DEFAULT_DENY, ())),  # root without type = deny
        ({"type": "deny"}, (False, R.CONSENT_DEFAULT_DENY, ())),
        ({"type": "permit"}, (True, R.CONSENT_PERMIT, ())),
        ({"type": "deny", "actor": [actor(ORG_A)]}, (False, R.CONSENT_DENY, ())),  # named refusal
        ({"actor": [actor(ORG_A)]}, (False, R.CONSENT_DEFAULT_DENY, ())),  # no type: not explicit
        ({"type": "permit", "actor": [actor(ORG_B)]}, (False, R.NO_MATCHING_CONSENT, ())),
        ({"type": "deny", "actor": [actor(ORG_B)]}, (False, R.NO_MATCHING_CONSENT, ())),
        ({"type": "deny", "period": {"start": "2025"}}, (False, R.CONSENT_DEFAULT_DENY, ())),
    ],
)
def test_root_provision(provision: dict | None, expected: tuple) -> None:
    assert outcome(decide(req(), [consent(provision)])) == expected


# --- nested provisions ---------------------------------------------------------------------------

NESTED = consent(
    {
        "type": "deny",
        "provision": [
            {
                "type": "permit",
                "actor": [actor(ORG_A)],
                "provision": [
                    {
                        "type": "deny",
                        "class": [rclass("MedicationStatement")],
                        "provision": [
                            {
                                "type": "permit",
                                "code": [{"coding": [{"system": LOINC, "code": "ok"}]}],
                            }
                        ],
                    }
                ],
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("request_kw", "expected"),
    [
        ({"actor_refs": frozenset({ORG_B}), "organization": ORG_B}, REFUSED),
        ({}, (True, R.CONSENT_PERMIT, (0,))),
        ({"resource_type": "MedicationStatement"}, (False, R.CONSENT_DENY, (0, 0))),
        ({"resource_type": "MedicationStatement", "codes": frozenset({(LOINC, "ok")})},
         (True, R.CONSENT_PERMIT, (0, 0, 0))),
        ({"resource_type": "Condition", "codes": frozenset({(LOINC, "ok")})},
         (True, R.CONSENT_PERMIT, (0,))),  # level 2 does not match, so level 3 is not reached
    ],
)  # fmt: skip
def test_nested_provisions_override_at_each_level(request_kw: dict, expected: tuple) -> None:
    d = decide(req(**request_kw), [NESTED])
    assert outcome(d) == expected
    if d.rule is not R.CONSENT_DEFAULT_DENY:
        assert NESTED.provision.at(d.provision_path).type == ("permit" if d.permit else "deny")


def test_first_matching_nested_provision_in_document_order_decides() -> None:
    permit_a = {"type": "permit", "actor": [actor(ORG_A)]}
    deny_a = {"type": "deny", "actor": [actor(ORG_A)]}
    assert outcome(decide(req(), [consent({"provision": [permit_a, deny_a]})])) == PERMITTED
    d = decide(req(), [consent({"provision": [deny_a, permit_a]})])
    assert outcome(d) == (False, R.CONSENT_DENY, (0,))


def test_descent_stays_in_the_first_matching_branch() -> None:
    """A deeper match in a later sibling branch does not outrank the first match."""
    c = consent(
        {
            "type": "deny",
            "provision": [
                {"type": "permit", "actor": [actor(ORG_A)]},
                {"type": "permit", "provision": [{"type": "deny", "class": [rclass("Condition")]}]},
            ],
        }
    )
    assert outcome(decide(req(), [c])) == PERMITTED
    d = decide(req(actor_refs=frozenset({ORG_B}), organization=ORG_B), [c])
    assert outcome(d) == (False, R.CONSENT_DENY, (1, 0))


def test_nested_period_and_root_period() -> None:
    c = consent(
        {
            "type": "deny",
            "period": {"start": "2025-01-01", "end": "2026-12-31"},
            "provision": [{"type": "permit", "period": {"start": "2025-12-01"}}],
        }
    )
    assert decide(req(), [c]).rule == R.CONSENT_DEFAULT_DENY
    assert decide(req(now=at("2025-12-01")), [c]).rule == R.CONSENT_PERMIT
    assert decide(req(now=at("2027-01-01")), [c]).rule == R.NO_CONSENT


# --- replacement and combination -----------------------------------------------------------------


def test_a_newer_consent_of_the_same_policy_replaces_the_older() -> None:
    old = consent(PERMIT_ALL, id="old", date="2024-01-01", policy="reg")
    new = consent({"type": "deny"}, id="new", date="2025-01-01", policy="reg")
    for order in ([old, new], [new, old]):
        assert applicable_consents(order, "p1", NOW) == [new]
        d = decide(req(), order)
        assert (d.permit, d.rule, d.consent_id) == (False, R.CONSENT_DEFAULT_DENY, "new")
    # and the other way round: a newer permit replaces an older explicit deny
    refused = consent({"type": "deny", "actor": [actor(ORG_A)]}, id="old", policy="reg")
    granted = consent(PERMIT_ALL, id="new", date="2025-06-01", policy="reg")
    assert decide(req(), [refused, granted]).rule == R.CONSENT_PERMIT


@pytest.mark.parametrize(
    ("a", "b", "newest"),
    [
        ({"id": "x", "date": "2025-01-01"}, {"id": "y", "date": "2025-01-02"}, "y"),
        # a partial dateTime counts from its first instant (UTC)
        ({"id": "x", "date": "2025-01-01T10:00:00+09:00"}, {"id": "y", "date": "2025-01-01"}, "x"),
        ({"id": "x", "date": "2025-01-01T08:59:00+09:00"}, {"id": "y", "date": "2025-01-01"}, "y"),
        ({"id": "x", "date": None}, {"id": "y", "date": "1990"}, "y"),  # absent = oldest
        ({"id": "x", "date": "2025"}, {"id": "y", "date": "2025"}, "y"),  # tie: greater id
        ({"id": "9", "date": "2025"}, {"id": "10", "date": "2025"}, "10"),  # numeric ids as numbers
        ({"id": "99", "date": "2025"}, {"id": "a", "date": "2025"}, "a"),  # names above numbers
        ({"id": "x", "version": "2", "date": "2025"}, {"id": "x", "version": "10", "date": "2025"},
         "x/10"),
        ({"id": "x", "version": "5", "date": "2025"}, {"id": "y", "version": "1", "date": "2025"},
         "y/1"),  # the id before the version
    ],
)  # fmt: skip
def test_which_consent_of_a_policy_is_newest(a: dict, b: dict, newest: str) -> None:
    ca = consent(PERMIT_ALL, policy="reg", **a)
    cb = consent(PERMIT_ALL, policy="reg", **b)
    for order in ([ca, cb], [cb, ca]):
        (kept,) = applicable_consents(order, "p1", NOW)
        assert f"{kept.id}/{kept.version}".startswith(newest)


def test_records_equal_in_date_id_and_version_all_count() -> None:
    a = consent(PERMIT_ALL, id="x")
    b = consent({"type": "deny", "class": [rclass("Condition")]}, id="x")
    assert len(applicable_consents([a, b], "p1", NOW)) == 2
    assert decide(req(), [a, b]) == decide(req(), [b, a])
    assert decide(req(), [a, b]).rule == R.CONSENT_DENY


@pytest.mark.parametrize(
    "newer",
    [
        {"status": "inactive"},
        {"status": "draft"},
        {"status": "entered-in-error"},
        {"provision": {"type": "deny", "period": {"start": "2026"}}},
        {"scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "research"}]}},
        {"patient": "p2"},
    ],
)
def test_a_consent_that_does_not_count_replaces_nothing(newer: dict) -> None:
    old = consent(PERMIT_ALL, id="old", date="2024-01-01", policy="reg")
    provision = newer.pop("provision", {"type": "deny"})
    new = consent(provision, id="new", date="2025-06-01", policy="reg", **newer)
    assert applicable_consents([old, new], "p1", NOW) == [old]
    assert decide(req(), [new, old]).rule == R.CONSENT_PERMIT


def test_policies_are_kept_apart_by_rule_uri_and_text() -> None:
    base = {"resourceType": "Consent", "status": "active", "patient": {"reference": "Patient/p1"}}
    variants: list[dict[str, Any]] = [
        {"policyRule": {"coding": [{"system": "urn:p", "code": "1"}]}},
        {"policyRule": {"coding": [{"system": "urn:p", "code": "2"}]}},
        {"policy": [{"uri": "https://city.example/policy"}]},
        {"policyRule": {"text": "口頭同意"}},
        {},
    ]
    cs = [
        parse_consent({**base, "id": f"c{i}", "dateTime": f"202{i}", **v, "provision": PERMIT_ALL})
        for i, v in enumerate(variants)
    ]
    assert len(applicable_consents(cs, "p1", NOW)) == 5


@pytest.mark.parametrize(
    ("deny", "expected"),
    [
        ({"type": "deny", "actor": [actor(ORG_A)]}, (False, R.CONSENT_DENY, "deny")),
        ({"type": "deny", "class": [rclass("Condition")]}, (False, R.CONSENT_DENY, "deny")),
        ({"type": "permit", "provision": [{"type": "deny", "purpose": [purpose("TREAT")]}]},
         (False, R.CONSENT_DENY, "deny")),
        ({"type": "deny"}, (True, R.CONSENT_PERMIT, "permit")),  # catch-all: not a refusal
        ({"provision": [{"type": "permit", "actor": [actor(ORG_B)]}]},
         (True, R.CONSENT_PERMIT, "permit")),
        ({"type": "deny", "actor": [actor(ORG_B)]}, (True, R.CONSENT_PERMIT, "permit")),
    ],
)  # fmt: skip
def test_explicit_deny_wins_across_policies(deny: dict, expected: tuple) -> None:
    permit = consent(PERMIT_ALL, id="permit", policy="one", date="2025-06-01")
    refusal = consent(deny, id="deny", policy="two", date="2024-01-01")
    for order in ([permit, refusal], [refusal, permit]):
        d = decide(req(), order)
        assert (d.permit, d.rule, d.consent_id) == expected


def test_the_newest_consent_of_the_winning_kind_is_reported() -> None:
    older = consent(PERMIT_ALL, id="older", policy="one", date="2024-01-01")
    newer = consent(PERMIT_ALL, id="newer", policy="two", date="2025-01-01")
    assert decide(req(), [older, newer]).consent_id == "newer"
    only_default = [consent({"type": "deny"}, id=i, policy=i, date=d)
                    for i, d in (("a", "2025-02-01"), ("b", "2025-03-01"))]  # fmt: skip
    d = decide(req(), only_default)
    assert (d.rule, d.consent_id) == (R.CONSENT_DEFAULT_DENY, "b")


# --- author, emergency contacts, break-glass -----------------------------------------------------

DENY_A = consent({"type": "deny", "actor": [actor(ORG_A)]})


@pytest.mark.parametrize(
    ("request_kw", "consents", "expected"),
    [
        ({"author_organization": ORG_A}, [DENY_A], (True, R.AUTHOR)),
        ({"author_organization": ORG_A}, [], (True, R.AUTHOR)),
        ({"author_organization": ORG_A, "contact_agreed": False}, [], (True, R.AUTHOR)),
        ({"author_organization": ORG_B}, [DENY_A], (False, R.CONSENT_DENY)),
        ({"author_organization": None, "organization": None}, [], (False, R.NO_CONSENT)),
        ({"author_organization": ORG_A, "organization": None}, [], (False, R.NO_CONSENT)),
    ],
)
def test_author_rule(request_kw: dict, consents: list, expected: tuple) -> None:
    d = decide(req(**request_kw), consents)
    assert (d.permit, d.rule) == expected


@pytest.mark.parametrize(
    ("agreed", "expected"),
    [(None, (True, R.CONSENT_PERMIT)), (True, (True, R.CONSENT_PERMIT)),
     (False, (False, R.CONTACT_NOT_AGREED))],
)  # fmt: skip
def test_emergency_contact_needs_their_own_agreement(agreed: bool | None, expected: tuple) -> None:
    request = req(
        resource_type="RelatedPerson", resource_ref="RelatedPerson/r1", contact_agreed=agreed
    )
    d = decide(request, [consent(PERMIT_ALL)])
    assert (d.permit, d.rule) == expected
    glass = BreakGlass(True, "倒れている", "p1", NOW + HOUR)
    d = decide(dataclasses.replace(request, purpose="ETREAT", break_glass=glass), [])
    assert d.permit is (agreed is not False)


GLASS = BreakGlass(allowed=True, reason="自宅で倒れ意識がない", patient_id="p1", expires=NOW + HOUR)


@pytest.mark.parametrize(
    ("glass", "request_kw", "consents", "expected"),
    [
        (GLASS, {}, [], (True, R.BREAK_GLASS)),
        (GLASS, {}, [DENY_A], (True, R.BREAK_GLASS)),  # life protection over a refusal
        (GLASS, {}, [consent({"type": "deny"})], (True, R.BREAK_GLASS)),
        (dataclasses.replace(GLASS, allowed=False), {}, [], (False, R.BREAK_GLASS_REFUSED)),
        (dataclasses.replace(GLASS, reason=""), {}, [], (False, R.BREAK_GLASS_REFUSED)),
        (dataclasses.replace(GLASS, reason="  \u3000"), {}, [], (False, R.BREAK_GLASS_REFUSED)),
        (dataclasses.replace(GLASS, patient_id="p2"), {}, [], (False, R.BREAK_GLASS_REFUSED)),
        (dataclasses.replace(GLASS, patient_id=None), {}, [], (False, R.BREAK_GLASS_REFUSED)),
        (GLASS, {"patient_id": None}, [], (False, R.BREAK_GLASS_REFUSED)),
        (dataclasses.replace(GLASS, expires=NOW), {}, [], (False, R.BREAK_GLASS_REFUSED)),
        (dataclasses.replace(GLASS, expires=NOW + 1), {}, [], (True, R.BREAK_GLASS)),
        (GLASS, {"purpose": "TREAT"}, [], (False, R.BREAK_GLASS_REFUSED)),
        (GLASS, {"purpose": "BTG"}, [], (False, R.BREAK_GLASS_REFUSED)),
        (GLASS, {}, [consent(PERMIT_ALL)], (True, R.CONSENT_PERMIT)),  # not needed, not used
    ],
)
def test_break_glass(glass: BreakGlass, request_kw: dict, consents: list, expected: tuple) -> None:
    d = decide(req(**{"purpose": "ETREAT", "break_glass": glass, **request_kw}), consents)
    assert (d.permit, d.rule) == expected


def test_break_glass_keeps_the_deny_it_overrode_or_left_standing() -> None:
    d = decide(req(purpose="ETREAT", break_glass=GLASS), [DENY_A])
    assert (d.consent_id, d.consent_version, d.provision_path) == ("c1", "1", ())
    assert "consent-deny" in d.detail
    refused = decide(
        req(purpose="ETREAT", break_glass=dataclasses.replace(GLASS, reason="")), [DENY_A]
    )
    assert (refused.permit, refused.consent_id) == (False, "c1")
    assert "no reason" in refused.detail


# --- decisions as values -------------------------------------------------------------------------


def test_decision_to_json_and_not_gated() -> None:
    d = decide(req(), [NESTED])
    assert d.to_json() == {
        "permit": True,
        "rule": "consent-permit",
        "consentId": "c1",
        "consentVersion": "1",
        "provisionPath": [0],
        "detail": "Consent/c1/_history/1 provision.provision[0] permits",
    }
    assert NOT_GATED.permit and NOT_GATED.rule == R.NOT_GATED
    assert NOT_GATED.to_json()["consentId"] is None


# --- may_see_patient -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("org", "purpose_code", "now", "expected"),
    [
        (ORG_A, "TREAT", NOW, (True, R.CONSENT_PERMIT, (0,))),
        (ORG_A, "HRESCH", NOW, (False, R.NO_MATCHING_CONSENT, ())),
        (ORG_B, "TREAT", NOW, (False, R.NO_MATCHING_CONSENT, ())),
        (ORG_A, "TREAT", at("2020"), (False, R.NO_CONSENT, ())),
    ],
)
def test_may_see_patient(org: str, purpose_code: str, now: int, expected: tuple) -> None:
    c = consent(
        {
            "type": "deny",
            "period": {"start": "2025"},
            "provision": [
                {"type": "deny", "class": [rclass("Condition")]},  # ignored by the coarse check
                {"type": "permit", "actor": [actor(ORG_A)], "purpose": [purpose("TREAT")],
                 "class": [rclass("CarePlan")]},
            ],
        }
    )  # fmt: skip
    # the first nested provision is a deny: the first *permit* reachable is reported
    if expected[0]:
        expected = (True, R.CONSENT_PERMIT, (1,))
    d = may_see_patient(frozenset({org}), org, purpose_code, now, [c])
    assert outcome(d) == expected


def test_may_see_patient_with_break_glass_and_other_patients() -> None:
    assert not may_see_patient(frozenset({ORG_B}), ORG_B, "ETREAT", NOW, [], patient_id="p1").permit
    d = may_see_patient(
        frozenset({ORG_B}), ORG_B, "ETREAT", NOW, [], patient_id="p1", break_glass=GLASS
    )
    assert (d.permit, d.rule) == (True, R.BREAK_GLASS)
    d = may_see_patient(
        frozenset({ORG_B}), ORG_B, "ETREAT", NOW, [], patient_id="p2", break_glass=GLASS
    )
    assert (d.permit, d.rule) == (False, R.BREAK_GLASS_REFUSED)
    # with no patient named, the consents' patient is the one (break-glass checked against it)
    p1_only = [consent({"type": "deny"})]
    d = may_see_patient(frozenset({ORG_B}), ORG_B, "ETREAT", NOW, p1_only, break_glass=GLASS)
    assert (d.permit, d.rule) == (True, R.BREAK_GLASS)
    two = [*p1_only, consent({"type": "deny"}, id="c2", patient="p2")]
    d = may_see_patient(frozenset({ORG_B}), ORG_B, "ETREAT", NOW, two, break_glass=GLASS)
    assert (d.permit, d.rule) == (False, R.BREAK_GLASS_REFUSED)
    granted = consent(PERMIT_ALL, patient="p9")
    assert may_see_patient(frozenset(), ORG_B, "TREAT", NOW, [granted]).permit
    assert not may_see_patient(frozenset(), ORG_B, "TREAT", NOW, [granted], patient_id="p1").permit


# --- the registration form (緊急時利用登録届) ---------------------------------------------


def as_org(org: str, **kw: Any) -> AccessRequest:
    base: dict[str, Any] = {
        "actor_refs": frozenset({org, "PractitionerRole/someone"}),
        "organization": org,
        "patient_id": PATIENT,
        "resource_type": "CarePlan",
        "resource_ref": "CarePlan/plan-1",
    }
    return req(**{**base, **kw})


REGISTRATION = parse_consent(registration_consent())
MED = {"resource_type": "MedicationStatement", "resource_ref": "MedicationStatement/m1"}


@pytest.mark.parametrize(
    ("org", "request_kw", "expected"),
    [
        (CITY, {}, (True, R.CONSENT_PERMIT, (0,))),
        (CORE, {"purpose": "CAREMGT"}, (True, R.CONSENT_PERMIT, (0,))),
        (PROVIDER_A, {}, (True, R.CONSENT_PERMIT, (0,))),
        (PROVIDER_A, {"purpose": "ETREAT", "resource_type": "Patient",
                      "resource_ref": f"Patient/{PATIENT}"}, (True, R.CONSENT_PERMIT, (0,))),
        (PROVIDER_A, MED, (False, R.CONSENT_DENY, (0, 0))),  # the person's own exception
        (CITY, MED, (True, R.CONSENT_PERMIT, (0,))),  # the exception is for provider A only
        (PROVIDER_A, {"purpose": "HRESCH"}, (False, R.CONSENT_DEFAULT_DENY, ())),
        (PROVIDER_A, {"action": "correct"}, (False, R.CONSENT_DEFAULT_DENY, ())),
        (PROVIDER_B, {}, (False, R.CONSENT_DEFAULT_DENY, ())),
        (HOSPITAL, {"purpose": "ETREAT"}, (False, R.CONSENT_DEFAULT_DENY, ())),
        (PROVIDER_A, {"now": at("2028-04-01")}, (False, R.NO_CONSENT, ())),
        (PROVIDER_A, {"now": at("2025-03-31")}, (False, R.NO_CONSENT, ())),
        (PROVIDER_A, {"patient_id": "p-0002"}, (False, R.NO_CONSENT, ())),
    ],
)  # fmt: skip
def test_registration_form_consent(org: str, request_kw: dict, expected: tuple) -> None:
    d = decide(as_org(org, **request_kw), [REGISTRATION])
    assert outcome(d) == expected
    assert d.consent_id == (None if d.rule is R.NO_CONSENT else "registration-0001")


def test_registration_withdrawn_changed_and_a_hospital_named_for_emergencies() -> None:
    form = registration_consent()
    # withdrawal: the same consent set inactive stops provider A at once
    withdrawn = parse_consent({**form, "status": "inactive", "meta": {"versionId": "2"}})
    assert decide(as_org(PROVIDER_A), [withdrawn]).rule == R.NO_CONSENT
    # a change notice (変更届): a newer consent of the same policy no longer names provider A
    change = registration_consent()
    change["id"], change["dateTime"] = "change-0001", "2025-09-01T09:00:00+09:00"
    change["provision"]["provision"][0]["actor"] = [actor(CITY), actor(CORE)]
    both = [REGISTRATION, parse_consent(change)]
    assert decide(as_org(PROVIDER_A), both).rule == R.CONSENT_DEFAULT_DENY
    d = decide(as_org(CORE), both)
    assert (d.rule, d.consent_id) == (R.CONSENT_PERMIT, "change-0001")
    # a hospital named, under another policy, only for emergency treatment
    hospital = consent(
        {"type": "deny", "provision": [
            {"type": "permit", "actor": [actor(HOSPITAL)], "purpose": [purpose("ETREAT")]}]},
        id="hospital-0001", policy="hospital-sharing", patient=PATIENT,
    )  # fmt: skip
    during = decide(as_org(HOSPITAL, purpose="ETREAT"), [REGISTRATION, hospital])
    assert (during.permit, during.consent_id) == (True, "hospital-0001")
    otherwise = decide(as_org(HOSPITAL, purpose="TREAT"), [REGISTRATION, hospital])
    assert otherwise.rule == R.CONSENT_DEFAULT_DENY and not otherwise.permit
    # provider B breaks the glass with a reason: permitted, flagged as break-glass
    glass = BreakGlass(True, "短期入所先で発作、主治医に連絡がつかない", PATIENT, NOW + 24 * HOUR)
    d = decide(as_org(PROVIDER_B, purpose="ETREAT", break_glass=glass), [REGISTRATION])
    assert (d.permit, d.rule, d.consent_id) == (True, R.BREAK_GLASS, "registration-0001")
    assert may_see_patient(frozenset({PROVIDER_A}), PROVIDER_A, "TREAT", NOW, [REGISTRATION]).permit
    assert not may_see_patient(
        frozenset({PROVIDER_B}), PROVIDER_B, "TREAT", NOW, [REGISTRATION]
    ).permit


def test_systems_are_the_standard_ones() -> None:
    assert PURPOSE_OF_USE_SYSTEM == "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    assert CONSENT_ACTION_SYSTEM == "http://terminology.hl7.org/CodeSystem/consentaction"
    assert RESOURCE_TYPES_SYSTEM == "http://hl7.org/fhir/resource-types"


# --- properties of the combination rules (hypothesis) --------------------------------------------

ACTORS = [ORG_A, ORG_B, "CareTeam/t1"]
PURPOSES = ["TREAT", "ETREAT", "CAREMGT"]
CLASSES = ["Condition", "CarePlan", "MedicationStatement"]
POLICIES = ["one", "two", "three"]
DATES = [None, "2023", "2024-06-01", "2025-01-01", "2025-01-01T09:00:00Z"]
NOT_ACTIVE = ["draft", "proposed", "rejected", "inactive", "entered-in-error"]
#: root periods around NOW (2025-10-01): containing it, ended, not begun
PERIODS = [{"start": "2025"}, {"end": "2024"}, {"start": "2026"}, {"start": "2024", "end": "2026"}]


def _some(values: list[str], wrap: Any) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True).map(
        lambda xs: [wrap(x) for x in xs]
    )


CRITERION = st.fixed_dictionaries(
    {},
    optional={
        "actor": _some(ACTORS, actor),
        "purpose": _some(PURPOSES, purpose),
        "class": _some(CLASSES, rclass),
        "action": _some(["access", "use"], action),
        "period": st.sampled_from(PERIODS),
        "dataPeriod": st.sampled_from([{"end": "2024"}, {"start": "2024"}]),
    },
)


def provisions(depth: int, *, root: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    kinds = ["permit", "deny", *([None] if root else [])]
    kids = st.just([]) if depth == 0 else st.lists(provisions(depth - 1), max_size=2)
    return st.builds(
        lambda c, t, k: {**c, **({"type": t} if t else {}), **({"provision": k} if k else {})},
        CRITERION,
        st.sampled_from(kinds),
        kids,
    )


def consent_json(status: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict]:
    return st.builds(
        lambda st_, pat, date, pol, prov: {
            "resourceType": "Consent",
            "status": st_,
            "patient": {"reference": f"Patient/{pat}"},
            **({"dateTime": date} if date else {}),
            **({"policyRule": {"coding": [{"system": "urn:policy", "code": pol}]}} if pol else {}),
            "provision": prov,
        },
        st.sampled_from(["active"] * 5 + NOT_ACTIVE) if status is None else status,
        st.sampled_from(["p1", "p1", "p1", "p2"]),
        st.sampled_from(DATES),
        st.sampled_from([None, *POLICIES]),
        provisions(2, root=True),
    )


def _records(jsons: list[dict], prefix: str = "c") -> list[ConsentRecord]:
    return [parse_consent({**j, "id": f"{prefix}{i}"}) for i, j in enumerate(jsons)]


CONSENTS = st.lists(consent_json(), max_size=5).map(_records)
REQUESTS = st.builds(
    req,
    actor_refs=st.frozensets(st.sampled_from(ACTORS)),
    organization=st.sampled_from([ORG_A, ORG_B, None]),
    purpose=st.sampled_from([*PURPOSES, "HRESCH"]),
    action=st.sampled_from(["access", "use"]),
    resource_type=st.sampled_from(CLASSES),
    data_period=st.sampled_from(
        [None, span("2023-01-01", "2023-02-01"), span("2025-01", "2025-02")]
    ),
)  # fmt: skip
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(r=REQUESTS, cs=CONSENTS, extra=consent_json(st.sampled_from(NOT_ACTIVE)), data=st.data())
def test_adding_a_consent_that_does_not_count_changes_nothing(
    r: AccessRequest, cs: list[ConsentRecord], extra: dict, data: st.DataObject
) -> None:
    other_patient = {**extra, "status": "active", "patient": {"reference": "Patient/p3"}}
    for added in _records([extra, other_patient], prefix="x"):
        mixed = data.draw(st.permutations([*cs, added]))
        assert decide(r, mixed) == decide(r, cs)


@PROPS
@given(r=REQUESTS, cs=CONSENTS, data=st.data())
def test_the_order_of_consents_never_matters(
    r: AccessRequest, cs: list[ConsentRecord], data: st.DataObject
) -> None:
    assert decide(r, data.draw(st.permutations(cs))) == decide(r, cs)
    assert set(applicable_consents(data.draw(st.permutations(cs)), "p1", NOW)) == set(
        applicable_consents(cs, "p1", NOW)
    )


@PROPS
@given(r=REQUESTS, jsons=st.lists(consent_json(), max_size=5))
def test_decide_is_deterministic(r: AccessRequest, jsons: list[dict]) -> None:
    assert decide(r, _records(jsons)) == decide(r, _records(copy.deepcopy(jsons)))


@PROPS
@given(r=REQUESTS, cs=CONSENTS)
def test_base_deny_without_a_counting_consent(r: AccessRequest, cs: list[ConsentRecord]) -> None:
    assert decide(r, []) == Decision(
        False, R.NO_CONSENT, detail="no consent counts for the patient"
    )
    not_counting = [c for c in cs if not applicable_consents([c], "p1", NOW)]
    assert decide(r, not_counting).rule == R.NO_CONSENT


@PROPS
@given(r=REQUESTS, cs=CONSENTS, nested=st.booleans(), date=st.sampled_from(DATES))
def test_a_matching_explicit_deny_in_another_policy_always_denies(
    r: AccessRequest, cs: list[ConsentRecord], nested: bool, date: str | None
) -> None:
    refusal = {"type": "deny", "class": [rclass(r.resource_type)]}
    prov = {"type": "permit", "provision": [refusal]} if nested else refusal
    deny = consent(prov, id="refusal", date=date, policy="separate")
    d = decide(r, [*cs, deny])
    assert (d.permit, d.rule) == (False, R.CONSENT_DENY)


@PROPS
@given(r=REQUESTS, cs=CONSENTS, date=st.sampled_from(DATES))
def test_a_permit_all_in_another_policy_permits_unless_explicitly_denied(
    r: AccessRequest, cs: list[ConsentRecord], date: str | None
) -> None:
    before = decide(r, cs)
    after = decide(r, [*cs, consent(PERMIT_ALL, id="all", date=date, policy="separate")])
    assert after.permit is (before.rule is not R.CONSENT_DENY)


@PROPS
@given(r=REQUESTS, cs=CONSENTS, new=consent_json(st.just("active")))
def test_the_newest_consent_of_a_policy_alone_decides_for_it(
    r: AccessRequest, cs: list[ConsentRecord], new: dict
) -> None:
    new = {**new, "patient": {"reference": "Patient/p1"}, "dateTime": "2025-09-30"}
    new["provision"].pop("period", None)
    (newest,) = _records([new], prefix="new")
    others = [c for c in cs if c.policy != newest.policy]
    assert decide(r, [*cs, newest]) == decide(r, [*others, newest])


@PROPS
@given(r=REQUESTS, cs=CONSENTS)
def test_the_reported_provision_is_the_one_that_decided(
    r: AccessRequest, cs: list[ConsentRecord]
) -> None:
    d = decide(r, cs)
    if d.rule in (R.NO_CONSENT, R.NO_MATCHING_CONSENT):
        assert d.consent_id is None and not d.permit
        return
    (c,) = [c for c in cs if c.id == d.consent_id]
    assert c in applicable_consents(cs, "p1", NOW)
    node = c.provision.at(d.provision_path)
    if d.rule is R.CONSENT_PERMIT:
        assert node.type == "permit"
    elif d.rule is R.CONSENT_DENY:
        assert node.type == "deny" and (d.provision_path or node.has_criteria)
    else:
        assert d.rule is R.CONSENT_DEFAULT_DENY and d.provision_path == ()
        assert node.type != "permit" and not (node.type == "deny" and node.has_criteria)


@PROPS
@given(r=REQUESTS, cs=CONSENTS)
def test_may_see_patient_is_never_stricter_than_decide(
    r: AccessRequest, cs: list[ConsentRecord]
) -> None:
    coarse = may_see_patient(r.actor_refs, r.organization, r.purpose, r.now, cs, patient_id="p1")
    if decide(r, cs).permit:
        assert coarse.permit
    glass = BreakGlass(True, "reason", "p1", NOW + HOUR)
    r2 = dataclasses.replace(r, purpose="ETREAT", break_glass=glass)
    if decide(r2, cs).permit:
        assert may_see_patient(
            r.actor_refs, r.organization, "ETREAT", NOW, cs, patient_id="p1", break_glass=glass
        ).permit


@PROPS
@given(r=REQUESTS, cs=CONSENTS, author=st.sampled_from([ORG_A, ORG_B, None]))
def test_author_contact_and_break_glass_rules_hold_over_any_consents(
    r: AccessRequest, cs: list[ConsentRecord], author: str | None
) -> None:
    d = decide(dataclasses.replace(r, author_organization=author), cs)
    is_author = author is not None and author == r.organization
    assert (d.rule is R.AUTHOR) is is_author
    assert d.permit or not is_author
    contact = decide(dataclasses.replace(r, contact_agreed=False, author_organization=author), cs)
    assert contact.permit is is_author
    glass = BreakGlass(True, "reason", "p1", NOW + HOUR)
    emergency = dataclasses.replace(r, purpose="ETREAT")
    plain = decide(emergency, cs)
    broken = decide(dataclasses.replace(emergency, break_glass=glass), cs)
    assert broken.permit
    assert (broken.rule is R.BREAK_GLASS) is (not plain.permit)
    refused = decide(
        dataclasses.replace(emergency, break_glass=dataclasses.replace(glass, allowed=False)), cs
    )
    assert refused.permit is plain.permit
