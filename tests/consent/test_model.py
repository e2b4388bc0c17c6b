"""hub.consent.model: FHIR R4 Consent → ConsentRecord, and the errors of malformed consents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.consent.codes import (
    CONSENT_SCOPE_SYSTEM,
    ConsentDataMeaning,
    ConsentStatus,
    ProvisionType,
)
from hub.consent.model import (
    DEFAULT_POLICY,
    Actor,
    ConsentRecord,
    DataRef,
    Provision,
    parse_consent,
)
from hub.fhir.indexing import MAX_US, MIN_US, date_range
from tests.consent import (
    CITY,
    CORE,
    PATIENT,
    PROVIDER_A,
    REGISTRATION_POLICY,
    actor,
    at,
    registration_consent,
)

IRCP = ("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP")


def minimal(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "patient": {"reference": "Patient/p1"},
        **extra,
    }


def test_registration_form_consent_parses_every_element() -> None:
    c = parse_consent(registration_consent())
    assert c.id == "registration-0001"
    assert c.version == "1"
    assert c.status is ConsentStatus.ACTIVE
    assert c.patient_id == PATIENT
    assert c.date_time == at("2025-04-01T10:00:00+09:00")
    assert c.scope == ((CONSENT_SCOPE_SYSTEM, "patient-privacy"),)
    assert c.category == (("http://loinc.org", "59284-0"),)
    assert c.performers == ("RelatedPerson/guardian-0001",)
    assert c.organizations == (CORE,)
    assert c.source_reference == "QuestionnaireResponse/registration-form-0001"
    assert c.policy_rule == ((REGISTRATION_POLICY, "emergency-registration"),)
    assert c.policy_rule_text == "緊急時利用登録届による情報共有の同意"
    assert c.policy == f"{REGISTRATION_POLICY}|emergency-registration"
    assert c.reference == "Consent/registration-0001/_history/1"
    root = c.provision
    assert root.type is ProvisionType.DENY
    assert root.period == (date_range("2025-04-01")[0], date_range("2028-03-31")[1])
    assert not root.has_criteria
    permit = root.provisions[0]
    assert permit.type is ProvisionType.PERMIT
    assert permit.actors == tuple(Actor((IRCP,), r) for r in (CITY, CORE, PROVIDER_A))
    assert [code for _, code in permit.actions] == ["access", "use"]
    assert [code for _, code in permit.purposes] == ["TREAT", "CAREMGT", "ETREAT"]
    assert permit.has_criteria
    deny = root.at((0, 0))
    assert deny.type is ProvisionType.DENY
    assert deny.actors[0].reference == PROVIDER_A
    assert deny.classes == (("http://hl7.org/fhir/resource-types", "MedicationStatement"),)
    assert deny.provisions == ()


def test_every_provision_element() -> None:
    c = parse_consent(
        minimal(
            provision={
                "type": "permit",
                "period": {"start": "2024"},
                "securityLabel": [{"system": "s", "code": "R"}],
                "class": [{"code": "Condition"}],
                "code": [{"coding": [{"system": "loinc", "code": "1"}, {"code": "2"}]}],
                "dataPeriod": {"end": "2024-06"},
                "data": [
                    {"meaning": "instance", "reference": {"reference": "Condition/c1"}},
                    {"meaning": "related", "reference": {"reference": "CarePlan/9/_history/3"}},
                ],
            }
        )
    )
    p = c.provision
    assert p.period == (date_range("2024")[0], MAX_US)
    assert p.security_labels == (("s", "R"),)
    assert p.classes == (("", "Condition"),)
    assert p.codes == (("loinc", "1"), ("", "2"))
    assert p.data_period == (MIN_US, date_range("2024-06")[1])
    assert p.data == (
        DataRef(ConsentDataMeaning.INSTANCE, "Condition/c1"),
        DataRef(ConsentDataMeaning.RELATED, "CarePlan/9"),  # the version is dropped
    )
    assert p.has_criteria


def test_defaults_of_a_minimal_consent() -> None:
    c = parse_consent(minimal())
    assert c == ConsentRecord(
        id=None, version=None, status=ConsentStatus.ACTIVE, patient_id="p1", date_time=None,
        scope=None,
    )  # fmt: skip
    assert c.provision == Provision()
    assert c.policy == DEFAULT_POLICY
    assert c.reference is None
    assert c.patient_privacy


@pytest.mark.parametrize(
    ("extra", "policy"),
    [
        ({}, DEFAULT_POLICY),
        ({"policyRule": {"coding": [{"system": "b", "code": "2"}, {"system": "a", "code": "1"}]}},
         "a|1,b|2"),
        ({"policyRule": {"coding": [{"code": "x"}], "text": "t"}}, "|x"),
        ({"policyRule": {"text": "同意書"}}, "text:同意書"),
        ({"policy": [{"uri": "https://b"}, {"uri": "https://a"}]}, "https://a,https://b"),
        ({"policy": [{"authority": "https://city"}]}, DEFAULT_POLICY),
        ({"policy": [{"uri": "u"}], "policyRule": {"coding": [{"system": "s", "code": "c"}]}},
         "s|c"),
        ({"policy": [{"uri": "u"}], "policyRule": {"text": "t"}}, "u"),
    ],
)  # fmt: skip
def test_policy_key(extra: dict[str, Any], policy: str) -> None:
    assert parse_consent(minimal(**extra)).policy == policy


@pytest.mark.parametrize(
    ("scope", "counts"),
    [
        (None, True),
        ({"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]}, True),
        ({"coding": [{"code": "patient-privacy"}]}, True),
        ({"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "research"}]}, False),
        ({"coding": [{"system": "http://other", "code": "patient-privacy"}]}, False),
        ({"text": "patient-privacy"}, False),
    ],
)
def test_patient_privacy_scope(scope: dict[str, Any] | None, counts: bool) -> None:
    extra = {} if scope is None else {"scope": scope}
    assert parse_consent(minimal(**extra)).patient_privacy is counts


def test_version_reference_and_partial_date_time() -> None:
    c = parse_consent(minimal(id="7", meta={"versionId": "3"}, dateTime="2024"))
    assert (c.reference, c.date_time) == ("Consent/7/_history/3", date_range("2024")[0])
    assert parse_consent(minimal(id="7")).reference == "Consent/7"
    history = parse_consent(minimal(patient={"reference": "Patient/p9/_history/2"}))
    assert history.patient_id == "p9"


def test_provision_at_walks_the_tree() -> None:
    leaf = Provision(type=ProvisionType.DENY)
    mid = Provision(type=ProvisionType.PERMIT, provisions=(Provision(), leaf))
    root = Provision(provisions=(mid,))
    assert root.at(()) is root
    assert root.at((0,)) is mid
    assert root.at((0, 1)) is leaf
    with pytest.raises(IndexError):
        root.at((1,))


Mutation = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Mutation:
    """Set ``a.b.0.c`` (ints index lists) in the registration consent."""

    def apply(d: dict[str, Any]) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        node: Any = d
        for k in keys[:-1]:
            node = node[k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return apply


_DELETE = object()
P = "provision"
NESTED = "provision.provision.0"
DEEP = "provision.provision.0.provision.0"

ERRORS: list[tuple[str, Mutation, str]] = [
    ("resource type", _set("resourceType", "Patient"), "Consent.resourceType"),
    ("status missing", _set("status", _DELETE), "Consent.status"),
    ("status unknown", _set("status", "withdrawn"), "Consent.status"),
    ("status not a string", _set("status", ["active"]), "Consent.status"),
    ("id empty", _set("id", ""), "Consent.id"),
    ("meta not an object", _set("meta", "1"), "Consent.meta"),
    ("versionId not a string", _set("meta.versionId", 1), "Consent.meta.versionId"),
    ("patient missing", _set("patient", _DELETE), "Consent.patient"),
    ("patient identifier only", _set("patient", {"identifier": {"value": "1"}}),
     "Consent.patient.reference"),
    ("patient not a Patient", _set("patient.reference", "Group/g1"), "Consent.patient.reference"),
    ("patient absolute", _set("patient.reference", "https://x/fhir/Patient/1"),
     "Consent.patient.reference"),
    ("dateTime invalid", _set("dateTime", "2025-13-01"), "Consent.dateTime"),
    ("dateTime not a string", _set("dateTime", 20250401), "Consent.dateTime"),
    ("scope not a concept", _set("scope", "patient-privacy"), "Consent.scope"),
    ("scope coding without code", _set("scope.coding.0.code", _DELETE),
     "Consent.scope.coding[0].code"),
    ("category not an array", _set("category", {"text": "x"}), "Consent.category"),
    ("performer without reference", _set("performer.0", {"display": "母"}),
     "Consent.performer[0].reference"),
    ("organization not a reference", _set("organization.0", "Organization/x"),
     "Consent.organization[0]"),
    ("sourceReference a string", _set("sourceReference", "QuestionnaireResponse/1"),
     "Consent.sourceReference"),
    ("policyRule coding without code", _set("policyRule.coding.0.code", _DELETE),
     "Consent.policyRule.coding[0].code"),
    ("policy uri not a string", _set("policy", [{"uri": 5}]), "Consent.policy[0].uri"),
    ("policy authority empty", _set("policy", [{"authority": ""}]), "Consent.policy[0].authority"),
    ("provision not an object", _set(P, []), "Consent.provision"),
    ("root type unknown", _set(f"{P}.type", "allow"), "Consent.provision.type"),
    ("root period reversed", _set(f"{P}.period", {"start": "2026", "end": "2025"}),
     "Consent.provision.period"),
    ("root period start invalid", _set(f"{P}.period.start", "soon"),
     "Consent.provision.period.start"),
    ("nested type missing", _set(f"{NESTED}.type", _DELETE), "Consent.provision.provision[0].type"),
    ("nested not an array", _set(f"{P}.provision", {}), "Consent.provision.provision"),
    ("actor role missing", _set(f"{NESTED}.actor.1.role", _DELETE),
     "Consent.provision.provision[0].actor[1].role"),
    ("actor reference missing", _set(f"{NESTED}.actor.0.reference", _DELETE),
     "Consent.provision.provision[0].actor[0].reference"),
    ("actor reference without reference", _set(f"{NESTED}.actor.0.reference", {"display": "A"}),
     "Consent.provision.provision[0].actor[0].reference.reference"),
    ("action text only", _set(f"{NESTED}.action.0", {"text": "閲覧"}),
     "Consent.provision.provision[0].action[0].coding"),
    ("purpose coding without code", _set(f"{NESTED}.purpose.0", {"system": "s"}),
     "Consent.provision.provision[0].purpose[0].code"),
    ("securityLabel not an array", _set(f"{P}.securityLabel", {"code": "R"}),
     "Consent.provision.securityLabel"),
    ("class code not a string", _set(f"{DEEP}.class.0.code", 1),
     "Consent.provision.provision[0].provision[0].class[0].code"),
    ("code text only", _set(f"{DEEP}.code", [{"text": "薬"}]),
     "Consent.provision.provision[0].provision[0].code[0].coding"),
    ("dataPeriod end invalid", _set(f"{DEEP}.dataPeriod", {"end": "2025-02-30"}),
     "Consent.provision.provision[0].provision[0].dataPeriod.end"),
    ("data meaning unknown",
     _set(f"{DEEP}.data", [{"meaning": "all", "reference": {"reference": "X/1"}}]),
     "Consent.provision.provision[0].provision[0].data[0].meaning"),
    ("data reference missing", _set(f"{DEEP}.data", [{"meaning": "instance"}]),
     "Consent.provision.provision[0].provision[0].data[0].reference"),
    ("deep nested type missing", _set(f"{DEEP}.provision", [{"actor": [actor("Organization/x")]}]),
     "Consent.provision.provision[0].provision[0].provision[0].type"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "element"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_malformed_consent_names_the_element(mutate: Mutation, element: str) -> None:
    resource = registration_consent()
    mutate(resource)
    with pytest.raises(ValueError) as info:
        parse_consent(resource)
    assert str(info.value).split(": ", 1)[0] == element


def test_not_an_object() -> None:
    with pytest.raises(ValueError, match=r"^Consent: expected an object"):
        parse_consent([])  # type: ignore[arg-type]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(data=st.data(), junk=_JSON)
def test_any_junk_anywhere_is_a_value_error_or_parses(data: st.DataObject, junk: Any) -> None:
    """Replacing any element with any JSON value never escapes as KeyError/TypeError/…"""
    resource = registration_consent()
    path = data.draw(st.sampled_from(_paths(resource)))
    node: Any = resource
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = junk
    try:
        parse_consent(resource)
    except ValueError as exc:
        assert str(exc).startswith("Consent")
