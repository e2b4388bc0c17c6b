"""The search index rows of a hub-written AuditEvent, read straight off its known shape.

Every interaction writes an AuditEvent; its index rows are written from the index backlog
(``hub.store.backlog``, which calls ``audit_index`` through ``backlog.INDEXERS``), in batches. The
generic indexer (``hub.fhir.indexing.index_resource``) runs each AuditEvent search
parameter's FHIRPath expression (http://hl7.org/fhir/R4/auditevent.html#search) over the
JSON; ``audit_index`` reads the same elements directly from the shapes ``hub.audit.events
.render`` produces and turns the values into rows with the indexer's own value functions
(tokens, strings, dates, references), so the rows are the same.

"The same" is checked, not assumed: for each search parameter registry, the first call
compares both indexers over probe events covering every branch of ``render`` (and the
tests over many more); if they differ in any way — a registry with other AuditEvent
parameters, a change to the generic indexer — ``audit_index`` answers None and the
index backlog (``hub.store.backlog``, which writes AuditEvents' rows) falls back to the generic
indexer, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hub.audit.events import AuditRecord, Disclosure, Outcome, render
from hub.fhir import indexing as ix
from hub.fhir.fhirpath import split_reference
from hub.fhir.searchparams import SearchParamRegistry
from hub.store import backlog

log = logging.getLogger(__name__)

_Values = Callable[[dict[str, Any]], list[Any]]


def _entities(e: dict[str, Any], key: str) -> list[Any]:
    return [x[key] for x in e.get("entity", ()) if key in x]


def _agents(e: dict[str, Any], *keys: str) -> list[Any]:
    out = []
    for agent in e.get("agent", ()):
        v: Any = agent
        for k in keys:
            v = v.get(k) if type(v) is dict else None
        if v is not None:
            out.extend(v if type(v) is list else [v])
    return out


def _is_patient(v: Any) -> bool:
    ref = v.get("reference") if type(v) is dict else None
    parts = split_reference(ref) if type(ref) is str and not ref.startswith("#") else None
    return parts is not None and parts[0] == "Patient"


def _meta(key: str) -> _Values:
    def values(e: dict[str, Any]) -> list[Any]:
        v = (e.get("meta") or {}).get(key)
        return [] if v is None else (v if type(v) is list else [v])

    return values


def _top(key: str) -> _Values:
    def values(e: dict[str, Any]) -> list[Any]:
        v = e.get(key)
        return [] if v is None else (v if type(v) is list else [v])

    return values


def _source(key: str) -> _Values:
    def values(e: dict[str, Any]) -> list[Any]:
        v = (e.get("source") or {}).get(key)
        return [] if v is None else (v if type(v) is list else [v])

    return values


#: AuditEvent search parameter → the values its expression selects in a rendered event
_PARAMS: dict[str, _Values] = {
    "_profile": _meta("profile"),
    "_security": _meta("security"),
    "_source": _meta("source"),
    "_tag": _meta("tag"),
    "action": _top("action"),
    "address": lambda e: _agents(e, "network", "address"),
    "agent": lambda e: _agents(e, "who"),
    "agent-name": lambda e: _agents(e, "name"),
    "agent-role": lambda e: _agents(e, "role"),
    "altid": lambda e: _agents(e, "altId"),
    "date": _top("recorded"),
    "entity": lambda e: _entities(e, "what"),
    "entity-name": lambda e: _entities(e, "name"),
    "entity-role": lambda e: _entities(e, "role"),
    "entity-type": lambda e: _entities(e, "type"),
    "outcome": _top("outcome"),
    "patient": lambda e: [v for v in _agents(e, "who") + _entities(e, "what") if _is_patient(v)],
    "policy": lambda e: _agents(e, "policy"),
    "purpose": lambda e: _top("purposeOfEvent")(e) + _agents(e, "purposeOfUse"),
    "site": _source("site"),
    "source": _source("observer"),
    "subtype": _top("subtype"),
    "type": _top("type"),
}


def _fast(event: dict[str, Any], codes: list[tuple[str, int]]) -> ix.IndexRows:
    """The rows, in the generic indexer's order (``codes``: the registry's indexed
    parameters and their kinds, in order)."""
    norm = ix.normalize_string
    strings: dict[tuple[str, str, str], None] = {}
    tokens: dict[tuple[str, str, str, str], None] = {}
    dates: dict[tuple[str, int, int], None] = {}
    references: dict[tuple[str, str, str, str], None] = {}
    patients: dict[str, None] = {}
    for code, kind in codes:
        values = _PARAMS[code](event)
        if kind == ix._REFERENCE:
            for v in values:
                for t, i, u in ix._references(v):
                    key = (code, t[: ix._TYPE_LEN], i[: ix._ID_LEN], u[: ix._URL_LEN])
                    references[key] = None
                    if code == "patient" and key[1] == "Patient" and key[2] and not key[3]:
                        patients[key[2]] = None
        elif kind == ix._STRING:
            for v in values:
                for s in ix._strings(v):
                    exact = s[: ix._STR_LEN]
                    if folded := norm(exact)[: ix._STR_LEN]:
                        strings[code, folded, exact] = None
        elif kind == ix._TOKEN:
            for v in values:
                for system, value, text in ix._tokens(v, norm):
                    if system or value or text:
                        key4 = (
                            code,
                            system[: ix._SYS_LEN],
                            value[: ix._TOK_LEN],
                            text[: ix._TEXT_LEN],
                        )
                        tokens[key4] = None
        else:
            for v in values:
                dates.update(dict.fromkeys((code, lo, hi) for lo, hi in ix._dates(v)))
    return ix.IndexRows(
        strings=[ix.StringRow(*k) for k in strings],
        tokens=[ix.TokenRow(*k) for k in tokens],
        dates=[ix.DateRow(*k) for k in dates],
        references=[ix.ReferenceRow(*k) for k in references],
        compartments=list(patients),
    )


def probe_records() -> list[AuditRecord]:
    """Records covering every branch of ``render`` (used by the self-check and the tests)."""
    base: dict[str, Any] = {
        "client_id": "c", "organization": "Organization/o", "purpose": "TREAT",
        "address": "10.0.0.1",
    }  # fmt: skip
    out = [
        AuditRecord("read", recorded="2026-11-23T10:00:00.123456Z", **base),
        AuditRecord("auth", None, None, None, None, "2026-11-23T10:00:00Z", Outcome.MINOR,
                    "401: x"),
        AuditRecord(
            "search-type", "c", None, None, "::1", "2026-11-23T10:00:01.5Z", query="name=山田",
            target="Patient",
        ),
        AuditRecord(
            "operation:$everything", "c", "Organization/o", "ETREAT", None,
            "2026-11-23T10:00:02Z", target="Patient/p1", break_glass_reason="救急搬送",
        ),
        AuditRecord("create", "c", "Organization/o", None, None, "2026-11-23T10:00:03Z",
                    target="Observation"),
        AuditRecord("read", "c", None, None, None, "2026-11-23T10:00:04Z", Outcome.MINOR,
                    "404: gone", target="Patient/p9"),
    ]  # fmt: skip
    out[0].disclosures = [
        Disclosure("Patient/p1/_history/2", "p1", True, "consent", "Consent/c1/_history/1", "0"),
        Disclosure("Observation/o1/_history/1", "p1", False, "deny", None, None, "Org/x", "why"),
        Disclosure("Observation/o2/_history/1", "p2", True, "author", custodian="Org/y"),
        Disclosure("Organization/o/_history/1", None, True, "not-gated"),
    ]
    out[3].disclosures = [Disclosure("Patient/p1/_history/1", "p1", True, "break-glass")]
    return out


#: id(registry) → (the registry, its AuditEvent (code, kind) list, or None: use the generic)
_CHECKED: dict[int, tuple[SearchParamRegistry, list[tuple[str, int]] | None]] = {}


def _codes(registry: SearchParamRegistry) -> list[tuple[str, int]] | None:
    entry = _CHECKED.get(id(registry))
    if entry is not None and entry[0] is registry:
        return entry[1]
    codes: list[tuple[str, int]] | None = []
    for plan in ix._plans(registry.for_type("AuditEvent")):
        if plan[1] not in _PARAMS:
            codes = None  # a parameter this module does not know: the generic indexer
            break
        assert codes is not None
        codes.append((plan[1], plan[2]))
    if codes is not None:
        for record in probe_records():
            event = render(record)
            if _fast(event, codes) != ix.index_resource(event, registry):
                log.warning("AuditEvent fast index differs from the generic one: not used")
                codes = None
                break
    if len(_CHECKED) > 64:
        _CHECKED.clear()
    _CHECKED[id(registry)] = (registry, codes)
    return codes


def audit_index(event: dict[str, Any], registry: SearchParamRegistry) -> ix.IndexRows | None:
    """The index rows of ``event`` (rendered by ``hub.audit.events.render``), or None when
    this registry's AuditEvent parameters are not the ones checked (module docstring)."""
    codes = _codes(registry)
    return _fast(event, codes) if codes is not None else None


backlog.INDEXERS["AuditEvent"] = audit_index  # the backlog's catch-up indexes with it
