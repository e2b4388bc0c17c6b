"""A hub-written AuditEvent's index rows (``hub.audit.index``) are exactly the generic
indexer's (http://hl7.org/fhir/R4/auditevent.html#search), and the repository stores them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.audit import index as audit_index_module
from hub.audit.events import AuditRecord, Disclosure, Outcome, render
from hub.audit.index import audit_index, probe_records
from hub.fhir.codes import SearchParamType
from hub.fhir.indexing import index_resource
from hub.fhir.searchparams import SearchParam, SearchParamRegistry, default_registry

ids = st.from_regex(r"[A-Za-z0-9\-.]{1,12}", fullmatch=True)
texts = st.text(max_size=20)
maybe = st.one_of(st.none(), texts)
instants = st.sampled_from(
    ["2026-11-23T10:00:00Z", "2026-11-23T10:00:00.123456Z", "2025-01-01T00:00:00+09:00"]
)
disclosures = st.builds(
    Disclosure,
    reference=st.builds(
        lambda t, i, v: f"{t}/{i}/_history/{v}",
        st.sampled_from(["Patient", "Observation", "Consent", "Organization"]),
        ids,
        st.integers(1, 9),
    ),
    patient_id=st.one_of(st.none(), ids),
    permit=st.booleans(),
    rule=st.sampled_from(["consent", "author", "deny", "break-glass"]),
    consent=maybe,
    provision=st.one_of(st.none(), st.just(""), st.just("0.1")),
    custodian=maybe,
    detail=texts,
)
records = st.builds(
    AuditRecord,
    interaction=st.sampled_from(
        ["read", "search-type", "create", "auth", "operation:$everything", "history-type"]
    ),
    client_id=maybe,
    organization=st.one_of(st.none(), st.builds(lambda i: f"Organization/{i}", ids)),
    purpose=st.one_of(st.none(), st.sampled_from(["TREAT", "ETREAT"])),
    address=st.one_of(st.none(), st.sampled_from(["127.0.0.1", "::1", "ＡＢＣ"])),
    recorded=instants,
    outcome=st.sampled_from(list(Outcome)),
    outcome_desc=texts,
    query=st.one_of(st.none(), texts),
    target=st.one_of(
        st.none(),
        st.sampled_from(["Patient", "Observation"]),
        st.builds(lambda i: f"Patient/{i}", ids),
    ),
    disclosures=st.lists(disclosures, max_size=4),
    break_glass_reason=maybe,
)


def _same(record: AuditRecord) -> None:
    event = render(record)
    fast = audit_index(event, default_registry())
    assert fast is not None
    assert fast == index_resource(event, default_registry())


def test_probe_records_index_like_the_generic_indexer() -> None:
    for record in probe_records():
        _same(record)


@settings(max_examples=300, deadline=None)
@given(records)
def test_any_record_indexes_like_the_generic_indexer(record: AuditRecord) -> None:
    _same(record)


def test_an_unknown_audit_parameter_falls_back_to_the_generic_indexer() -> None:
    base = default_registry()
    extra = SearchParam(
        code="hub-extra",
        resource_type="AuditEvent",
        type=SearchParamType.TOKEN,
        expression="AuditEvent.outcomeDesc",
    )
    registry: Any = _with(base, extra)
    assert audit_index(render(probe_records()[0]), registry) is None


def _with(base: SearchParamRegistry, param: SearchParam) -> Any:
    class Registry:
        def for_type(self, rtype: str) -> dict[str, SearchParam]:
            params = dict(base.for_type(rtype))
            if rtype == "AuditEvent":
                params[param.code] = param
            return params

    return Registry()


def test_a_differing_generic_indexer_disables_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome = default_registry().get("AuditEvent", "outcome")
    assert outcome is not None
    registry: Any = _with(default_registry(), outcome)  # the same parameters, a new registry
    real = audit_index_module.ix.index_resource
    monkeypatch.setattr(
        audit_index_module.ix,
        "index_resource",
        lambda r, reg=None: type(real(r, reg))(strings=[], tokens=[], dates=[], references=[]),
    )
    assert audit_index(render(probe_records()[0]), registry) is None
