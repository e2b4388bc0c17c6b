"""The gate: consent decisions for everything that leaves the hub, and their audit records.

One ``Gate`` per interaction (``routes.dispatch`` makes it). Handlers never decide access
themselves; they ask the gate:

* ``restrict(types)`` — a SQL pre-filter of the rows a search may even consider: resources of
  directory types, resources the caller's organization wrote (author rule), and resources in
  the compartment of a patient whose consent may grant the caller anything (the coarse index
  ``idx_consent_grant``, a superset of the engine's permits — see ``hub.consent.grants``),
  plus patients the caller broke the glass for.
* ``check(items)`` — the precise decision for each resource, by the pure engine
  (``hub.consent.engine.decide``) over the patient's consents; every gated item is recorded
  (permit or deny, with the consent version and provision path that decided) for the audit.
* ``may_change_consent(verdict)`` / ``may_write_consent_for(pid)`` — who may change or record
  a Consent: only the organizations that keep the person's consents (the creator of the
  person's record, a consent's author, ``Consent.organization``, its CAREMGT permit's actors),
  never under break-glass; seeing a consent is not enough to change it.

Rules the gate adds around the engine (state them where privacy officers can read them):
directory data (types outside the Patient compartment) is gated by scopes only; AuditEvents
are readable by privacy officers only; the hub itself (CLI, ``HUB_AUTH=off``) is unrestricted.
A break-glass grant is used only by a token with the power (the client's flag and
``purpose_of_use=ETREAT``); an ETREAT token without the flag reads what consents name for
ETREAT and nothing more. ``restrict`` is never the last word: searches, history, chains and
conditional interactions page, count and match over ``check``'s verdicts
(``hub.resources.search.gated_page``), and a refused read answers 404 like an unknown id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, and_, bindparam, select, text

from hub.access.schema import break_glass
from hub.consent.codes import CONTACT_AGREEMENT_EXTENSION
from hub.consent.engine import AccessRequest, BreakGlass, Decision, decide
from hub.consent.keepers import consent_keepers
from hub.consent.model import ConsentRecord, parse_consent
from hub.fhir.indexing import compartment_params
from hub.fhir.searchparams import SUPPORTED_TYPES
from hub.resources.context import SystemContext
from hub.store import backlog
from hub.store import schema as s
from hub.store.records import StoredResource, now_micros
from hub.store.repository import Repository
from hub.store.search import RidRestriction
from hub.store.statements import raw_rows

log = logging.getLogger("hub.access")

#: Types in the FHIR R4 Patient compartment: a person's data, released only by consent.
GATED_TYPES = frozenset(
    {"Patient", *(t for t, p in compartment_params().items() if p and t in SUPPORTED_TYPES)}
)
DEFAULT_PURPOSE = "TREAT"
EMERGENCY = "ETREAT"
CONTACT_AGREEMENT = CONTACT_AGREEMENT_EXTENSION
_V2_RELATIONSHIP_CONTACT = ("http://terminology.hl7.org/CodeSystem/v2-0131", "C")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


#: a coarse grant of ``gate_c.patient_id`` that may permit the caller (``Gate.restrict``)
_PERMITTED = (
    "EXISTS (SELECT 1 FROM idx_consent_grant AS gate_g"
    " WHERE gate_g.patient_id = gate_c.patient_id AND gate_g.kind = 'permit'"
    " AND gate_g.actor IN :gate_actors AND gate_g.purpose IN :gate_purposes"
    " AND gate_g.low <= :gate_now AND gate_g.high >= :gate_now"
    " AND NOT EXISTS (SELECT 1 FROM idx_consent_grant AS gate_h"
    " WHERE gate_h.kind = 'head' AND gate_h.patient_id = gate_g.patient_id"
    " AND gate_h.policy = gate_g.policy AND gate_h.date > gate_g.date"
    " AND gate_h.low <= :gate_now AND gate_h.high >= :gate_now){per_row})"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one resource (``decision`` is the engine's, or the gate's rule)."""

    item: StoredResource
    permit: bool
    rule: str
    patients: tuple[str, ...] = ()
    consent: str | None = None
    provision: str | None = None
    custodian: str | None = None
    detail: str = ""
    break_glass_reason: str | None = None


@dataclass
class Gate:
    conn: Connection
    context: Any
    #: False only with ``HUB_CONSENT_GATE=off`` (benchmarks): then every caller is unrestricted
    enforced: bool = True
    now: int = field(default_factory=now_micros)
    verdicts: list[Verdict] = field(default_factory=list)
    _consents: dict[str, list[ConsentRecord]] = field(default_factory=dict)
    _glass: dict[str, tuple[str, int]] | None = None

    # -- who is asking -------------------------------------------------------------------

    @property
    def unrestricted(self) -> bool:
        return not self.enforced or isinstance(self.context, SystemContext)

    @property
    def organization(self) -> str | None:
        org = getattr(self.context, "organization", None)
        return org if isinstance(org, str) and org else None

    @property
    def purpose(self) -> str:
        p = getattr(self.context, "purpose_of_use", None)
        return p if isinstance(p, str) and p else DEFAULT_PURPOSE

    @property
    def privacy_officer(self) -> bool:
        return bool(getattr(self.context, "privacy_officer", False))

    @property
    def client_id(self) -> str | None:
        c = getattr(self.context, "client_id", None)
        return c if isinstance(c, str) else None

    @property
    def break_glass_power(self) -> bool:
        """The client's break-glass flag *and* an ETREAT token (``SmartContext.break_glass``)."""
        return getattr(self.context, "break_glass", False) is True

    # -- break-glass ---------------------------------------------------------------------

    def glass(self) -> dict[str, tuple[str, int]]:
        """Active break-glass grants of this client: patient id → (reason, expires).

        A grant is used only with a token that carries the power (an ETREAT token of a client
        with the flag): the emergency purpose is asserted on every access made under it, so
        the same client's TREAT token does not reach the patient through an old grant.
        """
        if self._glass is None:
            self._glass = {}
            if self.client_id and self.break_glass_power:
                rows = self.conn.execute(
                    select(break_glass.c.patient_id, break_glass.c.reason, break_glass.c.expires)
                    .where(
                        break_glass.c.client_id == self.client_id, break_glass.c.expires > self.now
                    )
                    .order_by(break_glass.c.expires)
                )
                self._glass = {r[0]: (r[1], r[2]) for r in rows}
        return self._glass

    # -- the search pre-filter -----------------------------------------------------------

    def restrict(self, types: Iterable[str]) -> RidRestriction | None:
        """The rows a search over ``types`` may consider, or None for no restriction.

        A condition correlated to the candidate row (``hub.store.search.RidRestriction``):
        the row is of a type open to the caller, or the caller organization's own (author
        rule), or in the compartment of a patient (not as an AuditEvent) with a current coarse
        grant (``idx_consent_grant``) that may permit the caller — a permit row for its
        organization (or any actor) and purpose (or any), within its period, whose Consent is
        not replaced by a newer one of the same policy — or for whom it holds a break-glass
        grant. Each alternative is an index lookup for that one row (``ix_compartment_rid``,
        ``ix_grant_patient``), never a list of every permitted rid. The SQL is fixed text with
        bound values (built per request in microseconds; the same statement every time).
        """
        wanted = set(types)
        if self.unrestricted or not wanted & GATED_TYPES:
            return None
        org = self.organization
        glass = sorted(self.glass())
        open_types = sorted(wanted - GATED_TYPES)
        if self.privacy_officer and "AuditEvent" in wanted:
            open_types.append("AuditEvent")
        values: dict[str, Any] = {
            "gate_now": self.now,
            "gate_actors": ["*", *([org] if org else [])],
            "gate_purposes": ["*", self.purpose],
        }
        # PostgreSQL: ``OFFSET 0`` keeps each EXISTS a per-row index lookup. Without it the
        # planner may turn one into a hashed subplan or a join driven from the grants — every
        # permitted patient's rows listed first (13–75 ms instead of ~2 on the bench store
        # before its first ANALYZE, when the planner believes the tables hold a row each)
        per_row = " OFFSET 0" if self.conn.dialect.name == "postgresql" else ""
        by_patient = _PERMITTED.format(per_row=per_row)
        if glass:
            by_patient = f"({by_patient} OR gate_c.patient_id IN :gate_glass)"
            values["gate_glass"] = glass
        head = []
        if open_types:
            head.append("{row}.res_type IN :gate_open")
            values["gate_open"] = open_types
        if org:
            values["gate_org"] = org

        def condition(row: FromClause) -> ColumnElement[bool]:
            name = getattr(row, "name", "")
            if not name.isidentifier():  # an anonymous alias has no name to correlate with
                raise ValueError(f"Gate.restrict needs a named table or alias, not {row!r}")
            alternatives = [x.format(row=name) for x in head]
            if org:
                alternatives.append(
                    f"{name}.author = :gate_org"
                    if "author" in row.c
                    else "EXISTS (SELECT 1 FROM resource AS gate_r"
                    f" WHERE gate_r.rid = {name}.rid AND gate_r.author = :gate_org)"
                )
            alternatives.append(
                "EXISTS (SELECT 1 FROM idx_compartment AS gate_c"
                f" WHERE gate_c.rid = {name}.rid AND gate_c.res_type != 'AuditEvent'"
                f" AND {by_patient}{per_row})"
            )
            sql = text("(" + " OR ".join(alternatives) + ")")
            return sql.bindparams(  # type: ignore[return-value]
                *(
                    bindparam(k, v, expanding=isinstance(v, list))
                    for k, v in values.items()
                    if ":" + k in sql.text
                )
            )

        return RidRestriction(condition)

    # -- precise decisions ---------------------------------------------------------------

    def _consents_for(self, patient_id: str) -> list[ConsentRecord]:
        if patient_id not in self._consents:
            self._load_consents([patient_id])
        return self._consents[patient_id]

    def _load_consents(self, patient_ids: Iterable[str]) -> None:
        """Fetch and parse the Consents of every patient not yet cached, in one query."""
        wanted = sorted({p for p in patient_ids if p not in self._consents})
        if not wanted:
            return
        found: dict[str, list[ConsentRecord]] = {p: [] for p in wanted}
        rows = raw_rows(
            self.conn,
            "SELECT x.target_id, r.content FROM resource AS r"
            " JOIN idx_reference AS x ON x.rid = r.rid"
            " WHERE r.res_type = 'Consent' AND r.deleted = ? AND x.res_type = 'Consent'"
            " AND x.code = 'patient' AND x.target_type = 'Patient'"
            f" AND x.target_id IN ({_marks(wanted)}) ORDER BY r.rid",
            [False, *wanted],
        )
        for pid, content in rows:
            try:
                found[pid].append(_parsed_consent(bytes(content)))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("unusable Consent for a patient skipped: %s", exc)
        self._consents.update(found)

    def _facts(self, rids: list[int]) -> tuple[dict[int, list[str]], dict[int, str | None]]:
        """Each resource's author and the patients whose compartment holds it (one query)."""
        comp: dict[int, list[str]] = {}
        authors: dict[int, str | None] = {}
        if rids:
            unique = sorted(set(rids))
            for rid, author, pid in raw_rows(
                self.conn,
                "SELECT r.rid, r.author, c.patient_id FROM resource AS r"
                " LEFT JOIN idx_compartment AS c ON c.rid = r.rid"
                f" WHERE r.rid IN ({_marks(unique)})",
                unique,
            ):
                authors[rid] = author
                if pid is not None:
                    comp.setdefault(rid, []).append(pid)
        return comp, authors

    def _request(
        self, item: StoredResource, body: dict[str, Any], pid: str, author: str | None
    ) -> AccessRequest:
        codes: set[tuple[str, str]] = set()
        for key in ("code", "category", "type"):
            value = body.get(key)
            for concept in value if isinstance(value, list) else [value]:
                if isinstance(concept, dict):
                    for coding in concept.get("coding", []):
                        codes.add((coding.get("system", ""), coding.get("code", "")))
        labels = {
            (x.get("system", ""), x.get("code", ""))
            for x in (body.get("meta") or {}).get("security", [])
        }
        contact: bool | None = None
        if item.res_type == "RelatedPerson":
            rel = {
                (c.get("system"), c.get("code"))
                for r in body.get("relationship", [])
                for c in r.get("coding", [])
            }
            if _V2_RELATIONSHIP_CONTACT in rel:
                contact = any(
                    e.get("url") == CONTACT_AGREEMENT and e.get("valueBoolean") is True
                    for e in body.get("extension", [])
                )
        glass = self.glass().get(pid)
        bg = (
            BreakGlass(
                allowed=self.break_glass_power, reason=glass[0], patient_id=pid, expires=glass[1]
            )
            if glass
            else None
        )
        refs = frozenset([self.organization] if self.organization else [])
        return AccessRequest(
            actor_refs=refs,
            organization=self.organization,
            purpose=self.purpose,
            action="access",
            resource_type=item.res_type,
            resource_ref=item.reference,
            patient_id=pid,
            codes=frozenset(codes),
            security_labels=frozenset(labels),
            author_organization=author,
            contact_agreed=contact,
            break_glass=bg,
            now=self.now,
        )

    def check(self, items: Sequence[StoredResource], *, record: bool = True) -> list[Verdict]:
        """Decide each item; record every decision about a person's data (``record=False``:
        decide only — a search that counts or pages records just what it returns, ``note``)."""
        out: list[Verdict] = []
        gated = [i for i in items if i.res_type in GATED_TYPES]
        if self.privacy_officer:  # the persons an AuditEvent names are in its index rows
            backlog.ensure(self.conn, {i.res_type for i in gated})
        comp, authors = self._facts([i.rid for i in gated]) if not self.unrestricted else ({}, {})
        if not self.unrestricted:
            self._load_consents(
                pid for i in gated if i.res_type != "AuditEvent" for pid in comp.get(i.rid, ())
            )
        for item in items:
            if item.res_type not in GATED_TYPES:
                out.append(Verdict(item, True, "not-gated"))
                continue
            pids = tuple(sorted(set(comp.get(item.rid, []))))
            if self.unrestricted:
                v = Verdict(item, True, "system", pids)
            elif item.res_type == "AuditEvent":
                v = Verdict(
                    item,
                    self.privacy_officer,
                    "privacy-officer" if self.privacy_officer else "audit-restricted",
                    pids,
                )
            else:
                v = self._decide(item, pids, authors.get(item.rid))
            if record:
                self.verdicts.append(v)
            out.append(v)
        return out

    def note(self, verdicts: Iterable[Verdict]) -> None:
        """Record decisions made with ``check(record=False)`` for the audit."""
        self.verdicts.extend(v for v in verdicts if v.item.res_type in GATED_TYPES)

    def _decide(self, item: StoredResource, pids: tuple[str, ...], author: str | None) -> Verdict:
        body = json.loads(item.content) if item.content else {}
        decisions: list[tuple[str | None, Decision]] = []
        for pid in pids or (None,):
            req = self._request(item, body, pid or "", author)
            if pid is None:
                req = AccessRequest(**{**_fields(req), "patient_id": None})
            decisions.append((pid, decide(req, self._consents_for(pid) if pid else [])))
        # every patient whose data this is must permit; report the first refusal, else the first
        deciding = next((d for d in decisions if not d[1].permit), decisions[0])
        d = deciding[1]
        consent = (
            f"Consent/{d.consent_id}/_history/{d.consent_version}"
            if d.consent_id and d.consent_version
            else (f"Consent/{d.consent_id}" if d.consent_id else None)
        )
        provision = ".".join(str(i) for i in d.provision_path) if d.consent_id else None
        glass = self.glass().get(deciding[0] or "")
        return Verdict(
            item,
            d.permit,
            str(d.rule),
            pids,
            consent,
            provision,
            author,
            d.detail,
            glass[0] if glass and str(d.rule) == "break-glass" else None,
        )

    def may_change_consent(self, verdict: Verdict) -> bool:
        """Whether the caller may change or delete the Consent of ``verdict`` (which it may
        see): only its keepers — the organization that wrote it, ``Consent.organization``, or an
        actor of its care-management (CAREMGT) permit — and never under break-glass, which
        opens *read* access in an emergency (``$break-glass``)."""
        if self.unrestricted:
            return True
        org = self.organization
        if not verdict.permit or verdict.rule == "break-glass" or org is None:
            return False
        body = json.loads(verdict.item.content) if verdict.item.content else {}
        return org == verdict.custodian or org in consent_keepers(body)

    def may_write_consent_for(self, pid: str, exclude_rid: int | None = None) -> bool:
        """Whether the caller may record a Consent for Patient ``pid``: the organization that
        created the person's record, or a keeper (``may_change_consent``) of one of the
        person's other stored Consents — so nobody can grant themselves access by writing a
        consent for someone else's person (``exclude_rid``: the Consent being written)."""
        if self.unrestricted:
            return True
        org = self.organization
        if org is None:
            return False
        patient = self.conn.execute(
            select(s.resource.c.author).where(
                s.resource.c.res_type == "Patient",
                s.resource.c.res_id == pid,
                s.resource.c.deleted.is_(False),
            )
        ).first()
        if patient is None:
            return False
        if patient[0] == org:
            return True
        rids = [
            r
            for (r,) in self.conn.execute(
                select(s.idx_compartment.c.rid).where(
                    s.idx_compartment.c.patient_id == pid,
                    s.idx_compartment.c.res_type == "Consent",
                )
            )
            if r != exclude_rid
        ]
        stored = [x for x in Repository(self.conn).read_rids(rids) if not x.deleted]
        return any(self.may_change_consent(v) for v in self.check(stored, record=False))

    def visible(self, items: Sequence[StoredResource]) -> list[StoredResource]:
        return [v.item for v in self.check(items) if v.permit]


def visible_to(gate: Gate | None, stored: StoredResource) -> bool:
    """Whether ``gate`` lets its caller see ``stored`` (no gate: the hub itself)."""
    return gate is None or bool(gate.visible([stored]))


@lru_cache(maxsize=4096)
def _parsed_consent(content: bytes) -> ConsentRecord:
    """A stored Consent version, parsed (``ConsentRecord`` is immutable, and so are the stored
    bytes of a version — so the parse is kept, keyed by those bytes, across requests)."""
    return parse_consent(json.loads(content))


def _fields(req: AccessRequest) -> dict[str, Any]:
    return {f: getattr(req, f) for f in req.__dataclass_fields__}


__all__ = ["GATED_TYPES", "Gate", "Verdict", "and_"]
