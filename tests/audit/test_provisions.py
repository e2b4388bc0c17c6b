"""Third-party provision records from AuditEvents (pure; events rendered by hub.audit.events)."""

from __future__ import annotations

from hub.audit.events import AuditRecord, Disclosure, Outcome, render
from hub.audit.provisions import HUB_CUSTODIAN, from_audit_event
from hub.consent.codes import DecisionRule

A = "Organization/short-stay-a"
CORE = "Organization/core-center"
CONSENT = "Consent/c1/_history/2"


def _event(*disclosures: Disclosure, outcome: Outcome = Outcome.SUCCESS, reason: str | None = None):  # type: ignore[no-untyped-def]
    record = AuditRecord(
        interaction="search-type",
        client_id="client-a",
        organization=A,
        purpose="TREAT",
        address="127.0.0.1",
        recorded="2026-11-02T10:00:00+09:00",
        outcome=outcome,
        disclosures=list(disclosures),
        break_glass_reason=reason,
    )
    event = render(record)
    event["id"] = "ae1"
    return event


def _permit(
    ref: str, pid: str, rule: str = DecisionRule.CONSENT_PERMIT, custodian: str | None = CORE
) -> Disclosure:
    return Disclosure(ref, pid, True, rule, CONSENT, "0", custodian)


def test_one_record_per_person_with_items_consent_and_provision() -> None:
    event = _event(
        _permit("Patient/p1/_history/1", "p1"),
        _permit("CarePlan/cp1/_history/3", "p1"),
        _permit("Patient/p2/_history/1", "p2"),
    )
    records = from_audit_event(event, names={A: "短期入所A", "Patient/p1": "山田 太郎"})
    assert [r.patient for r in records] == ["Patient/p1", "Patient/p2"]
    first = records[0]
    assert first.recipient == A and first.recipient_name == "短期入所A"
    assert first.patient_name == "山田 太郎"
    assert first.items == ("CarePlan", "Patient")
    assert first.resources == ("CarePlan/cp1/_history/3", "Patient/p1/_history/1")
    assert first.basis == "consent" and first.consents == (CONSENT,)
    assert first.provisions == ("0",)
    assert first.purpose == "TREAT" and first.client_id == "client-a"
    assert first.audit_event == "AuditEvent/ae1"
    assert records[1].patient_name == ""  # unknown names are left empty, never guessed


def test_own_data_refusals_and_failures_are_not_provisions() -> None:
    own = _event(_permit("Patient/p1/_history/1", "p1", rule=DecisionRule.AUTHOR, custodian=A))
    same_custodian = _event(_permit("Patient/p1/_history/1", "p1", custodian=A))
    denied = _event(Disclosure("Patient/p1/_history/1", "p1", False, DecisionRule.NO_CONSENT))
    failed = _event(_permit("Patient/p1/_history/1", "p1"), outcome=Outcome.MINOR)
    for event in (own, same_custodian, denied, failed):
        assert from_audit_event(event) == []


def test_break_glass_is_recorded_with_its_reason() -> None:
    event = _event(
        _permit("Patient/p1/_history/1", "p1", rule=DecisionRule.BREAK_GLASS, custodian=None),
        reason="意識消失で救急搬送",
    )
    (record,) = from_audit_event(event)
    assert record.basis == "break-glass"
    assert record.break_glass_reason == "意識消失で救急搬送"
    assert record.custodians == (HUB_CUSTODIAN,)


def test_csv_row_is_flat() -> None:
    (record,) = from_audit_event(_event(_permit("CarePlan/cp1/_history/3", "p1")))
    row = record.as_row()
    assert row["items"] == "CarePlan" and row["patient"] == "Patient/p1"
    assert all(isinstance(v, str) for v in row.values())


def test_records_say_until_when_they_must_be_kept() -> None:
    event = _event(_permit("CarePlan/cp1/_history/3", "p1"))
    assert from_audit_event(event)[0].retain_until == "2029-11-02"
    assert from_audit_event(event, retention_years=5)[0].retain_until == "2031-11-02"
    event["recorded"] = "2028-02-29T09:00:00+09:00"
    assert from_audit_event(event)[0].retain_until == "2031-02-28"
