"""The consent decision: may this caller, for this purpose, see this piece of a person's data?

Pure: plain values in, a :class:`Decision` out — no Flask, no SQLAlchemy, no I/O, no clock
(``now`` is part of the request). Every decision names the rule that made it, and for consent
rules the consent (id, version) and the provision path that decided. The rules, in order:

1. **Base deny.** ``decide`` is called only for data in the Patient compartment; directory
   data is the caller's business (it logs :data:`NOT_GATED`). Nothing is permitted unless a
   rule below permits it.
2. **Author** — ``author_organization == organization`` (both set) → permit (``author``): an
   organization may always read what it wrote.
3. **Emergency contacts** — ``contact_agreed is False`` → deny (``contact-not-agreed``), even
   when a consent permits and even under break-glass: the registration form requires each
   listed contact's own agreement, and the person's consent cannot stand in for it.
4. **Which consents count** (:func:`applicable_consents`): ``status == active``; ``scope``
   absent or ``patient-privacy``; ``patient`` is the request's patient; the root
   ``provision.period`` (if any) contains ``now``. Replacement: of the counting consents with
   the same policy (:attr:`ConsentRecord.policy`), only the newest counts — greatest
   ``dateTime`` (from its first instant; absent = oldest), then greatest id, then greatest
   version (numeric ids and versions compare as numbers and sort below non-numeric ones);
   records equal on all three all count. A consent that does not count (a newer draft, an
   inactive one, one whose period has not begun) replaces nothing.
5. **Provision matching.** A provision matches when every criterion it has matches
   (absent = any): ``period`` contains now; ``actor`` — some ``actor.reference`` is one of
   ``actor_refs`` or ``organization`` (``role`` is kept, not matched); ``action`` — some coding
   has code ``request.action``; ``purpose`` — some coding has code ``request.purpose``;
   ``class`` — some coding has code ``resource_type``; (for these three a coding's system must
   be absent or the standard one: consentaction, v3-ActReason, resource-types) ``code`` — some
   coding is in ``request.codes`` (a coding without system matches by code alone);
   ``securityLabel`` — likewise against ``request.security_labels``; ``dataPeriod`` overlaps
   ``request.data_period`` (a request without a data period does NOT match a provision that
   has one — neither its permit nor its deny); ``data`` — some ``data.reference`` equals
   ``resource_ref``, whatever the meaning (``instance``, ``related``, ``dependents``,
   ``authoredby`` are all matched as that exact reference: the engine does not walk
   references, so a deny meant for a resource's dependents must list them or use class/code).
   If the root matches, descend: at each level the *first* matching nested provision in
   document order is entered; the provision where the descent stops decides by its ``type``.
   A root without ``type`` is a deny.
6. **Combining consents.** Each counting consent whose root matches gives one outcome:
   *permit*; *explicit deny* — a deny decided by a nested provision, or by a root that has
   ``type: deny`` and names at least one criterion other than ``period``; or *default deny* —
   the root decided and it has no ``type`` or no criteria (the "deny everything except the
   exceptions below" of an opt-in consent). An explicit deny wins over every permit (of any
   policy); otherwise any permit permits; otherwise the default deny stands. So an opt-in
   consent under one policy does not cancel what a consent under another policy grants, but
   a named refusal does. The decision reports the newest consent of the winning kind.
7. **Break-glass** (個人情報保護法 27条1項2号: disclosure to protect life when consent
   cannot be obtained) — when the result is a deny from rules 4–6 (including an explicit
   deny: the life-protection exception overrides the person's refusal) and ``break_glass`` is
   present: permit (``break-glass``) only if the client has the power (``allowed``), gave a
   non-empty reason, the grant names this request's patient (a grant without a patient never
   matches), ``now < expires`` and the purpose is ``ETREAT``. Otherwise the deny stands as
   ``break-glass-refused``, whose detail says why. The decision keeps the consent and path
   of the deny it overrode or left standing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from hub.consent.codes import (
    CONSENT_ACTION_SYSTEM,
    PURPOSE_OF_USE_SYSTEM,
    RESOURCE_TYPES_SYSTEM,
    ConsentStatus,
    DecisionRule,
    ProvisionType,
    PurposeOfUse,
)
from hub.consent.model import Code, ConsentRecord, Provision

__all__ = [
    "NOT_GATED",
    "AccessRequest",
    "BreakGlass",
    "Decision",
    "applicable_consents",
    "decide",
    "may_see_patient",
]


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """An emergency-access claim: the client has the power, gave a reason, for a patient, until."""

    allowed: bool
    reason: str
    patient_id: str | None
    expires: int  # µs since epoch, exclusive


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """Who asks, why, for what. All references are relative (``Type/id``)."""

    actor_refs: frozenset[str]  # every reference the caller *is* (org, roles, care teams, groups)
    organization: str | None  # the caller's organization reference
    purpose: str  # PurposeOfUse code, e.g. "TREAT"
    action: str  # ConsentAction code, normally "access" for reads
    resource_type: str
    resource_ref: str  # "Condition/123"
    patient_id: str | None  # whose data (compartment)
    codes: frozenset[Code] = frozenset()  # (system, code) of the resource's code/category
    security_labels: frozenset[Code] = frozenset()
    data_period: tuple[int, int] | None = None  # the resource's clinical time, inclusive µs
    author_organization: str | None = None  # who created the record (custodian)
    contact_agreed: bool | None = None  # RelatedPerson contacts: agreed? None = not a contact
    break_glass: BreakGlass | None = None
    now: int = 0  # µs since epoch


@dataclass(frozen=True, slots=True)
class Decision:
    """Permit or deny, and the rule (and consent provision) that decided."""

    permit: bool
    rule: DecisionRule
    consent_id: str | None = None
    consent_version: str | None = None
    provision_path: tuple[int, ...] = ()  # () = root; (0, 2) = root.provision[0].provision[2]
    detail: str = ""  # a short explanation, never patient data

    def to_json(self) -> dict[str, Any]:
        return {
            "permit": self.permit,
            "rule": str(self.rule),
            "consentId": self.consent_id,
            "consentVersion": self.consent_version,
            "provisionPath": list(self.provision_path),
            "detail": self.detail,
        }


#: the decision callers log for directory data (outside the Patient compartment)
NOT_GATED = Decision(True, DecisionRule.NOT_GATED, detail="directory data: gated by scopes only")


# --- which consents count ------------------------------------------------------------------------


def _within(period: tuple[int, int] | None, now: int) -> bool:
    return period is None or period[0] <= now <= period[1]


def _counts(c: ConsentRecord, patient_id: str, now: int) -> bool:
    return (
        c.status is ConsentStatus.ACTIVE
        and c.patient_id == patient_id
        and c.patient_privacy
        and _within(c.provision.period, now)
    )


def _id_key(s: str | None) -> tuple[int, int, str]:
    if s is None:
        return (-1, 0, "")
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def _rank(c: ConsentRecord) -> tuple[Any, ...]:
    """Recency: dateTime, then id, then version (greater = newer)."""
    return (c.date_time is not None, c.date_time or 0, _id_key(c.id), _id_key(c.version))


def applicable_consents(
    consents: Iterable[ConsentRecord], patient_id: str | None, now: int
) -> list[ConsentRecord]:
    """The consents that count for ``patient_id`` at ``now``, after replacement, newest first."""
    if patient_id is None:
        return []
    newest: dict[str, list[ConsentRecord]] = {}
    for c in consents:
        if not _counts(c, patient_id, now):
            continue
        kept = newest.get(c.policy)
        if kept is None or _rank(c) > _rank(kept[0]):
            newest[c.policy] = [c]
        elif _rank(c) == _rank(kept[0]):
            kept.append(c)
    return sorted((c for kept in newest.values() for c in kept), key=_rank, reverse=True)


# --- provision matching --------------------------------------------------------------------------


def _has_code(codings: tuple[Code, ...], code: str, system: str) -> bool:
    return any(c == code and s in ("", system) for s, c in codings)


def _any_in(codings: tuple[Code, ...], have: frozenset[Code]) -> bool:
    return any((s, c) in have or (not s and any(c == hc for _, hc in have)) for s, c in codings)


def _matches(p: Provision, req: AccessRequest, refs: frozenset[str]) -> bool:
    if not _within(p.period, req.now):
        return False
    if p.actors and not any(a.reference in refs for a in p.actors):
        return False
    if p.actions and not _has_code(p.actions, req.action, CONSENT_ACTION_SYSTEM):
        return False
    if p.purposes and not _has_code(p.purposes, req.purpose, PURPOSE_OF_USE_SYSTEM):
        return False
    if p.classes and not _has_code(p.classes, req.resource_type, RESOURCE_TYPES_SYSTEM):
        return False
    if p.codes and not _any_in(p.codes, req.codes):
        return False
    if p.security_labels and not _any_in(p.security_labels, req.security_labels):
        return False
    if p.data_period is not None:
        d = req.data_period
        if d is None or d[0] > p.data_period[1] or p.data_period[0] > d[1]:
            return False
    return not p.data or any(x.reference == req.resource_ref for x in p.data)


def _descend(root: Provision, req: AccessRequest, refs: frozenset[str]) -> tuple[int, ...] | None:
    """The path of the provision that decides, or None when the root does not match."""
    if not _matches(root, req, refs):
        return None
    node = root
    path: tuple[int, ...] = ()
    while True:
        for i, child in enumerate(node.provisions):
            if _matches(child, req, refs):
                node, path = child, (*path, i)
                break
        else:
            return path


class _Kind(Enum):
    EXPLICIT_DENY = 0
    PERMIT = 1
    DEFAULT_DENY = 2


def _kind(root: Provision, path: tuple[int, ...]) -> _Kind:
    node = root.at(path)
    if node.type is ProvisionType.PERMIT:
        return _Kind.PERMIT
    if not path and (node.type is None or not node.has_criteria):
        return _Kind.DEFAULT_DENY
    return _Kind.EXPLICIT_DENY


_RULES = {
    _Kind.EXPLICIT_DENY: DecisionRule.CONSENT_DENY,
    _Kind.PERMIT: DecisionRule.CONSENT_PERMIT,
    _Kind.DEFAULT_DENY: DecisionRule.CONSENT_DEFAULT_DENY,
}
_WHAT = {
    _Kind.EXPLICIT_DENY: "denies",
    _Kind.PERMIT: "permits",
    _Kind.DEFAULT_DENY: "denies by default",
}


def _path_text(path: tuple[int, ...]) -> str:
    return "provision" + "".join(f".provision[{i}]" for i in path)


def _by_consent(req: AccessRequest, consents: Sequence[ConsentRecord]) -> Decision:
    applicable = applicable_consents(consents, req.patient_id, req.now)
    if not applicable:
        return Decision(False, DecisionRule.NO_CONSENT, detail="no consent counts for the patient")
    refs = req.actor_refs | {req.organization} if req.organization else req.actor_refs
    outcomes: list[tuple[_Kind, ConsentRecord, tuple[int, ...]]] = []
    for c in applicable:
        path = _descend(c.provision, req, refs)
        if path is not None:
            outcomes.append((_kind(c.provision, path), c, path))
    if not outcomes:
        return Decision(
            False,
            DecisionRule.NO_MATCHING_CONSENT,
            detail=f"{len(applicable)} consent(s) count; none applies to this request",
        )
    kind = min((o[0] for o in outcomes), key=lambda k: k.value)
    winners = [o for o in outcomes if o[0] is kind]  # newest first, as ``applicable`` is
    newest = _rank(winners[0][1])
    _, c, path = min((o for o in winners if _rank(o[1]) == newest), key=lambda o: o[2])
    return Decision(
        kind is _Kind.PERMIT,
        _RULES[kind],
        c.id,
        c.version,
        path,
        f"{c.reference or 'Consent'} {_path_text(path)} {_WHAT[kind]}",
    )


# --- break-glass ---------------------------------------------------------------------------------


def _break_glass(
    bg: BreakGlass, patient_id: str | None, purpose: str, now: int, base: Decision
) -> Decision:
    why = ""
    if not bg.allowed:
        why = "the client has no break-glass power"
    elif not bg.reason.strip():
        why = "no reason given"
    elif patient_id is None or bg.patient_id != patient_id:
        why = "the grant is for another patient"
    elif now >= bg.expires:
        why = "the grant has expired"
    elif purpose != PurposeOfUse.ETREAT:
        why = "purpose of use is not ETREAT"
    if why:
        rule, permit, detail = DecisionRule.BREAK_GLASS_REFUSED, False, f"refused: {why}"
    else:
        rule, permit, detail = DecisionRule.BREAK_GLASS, True, "emergency access (ETREAT)"
    return Decision(
        permit,
        rule,
        base.consent_id,
        base.consent_version,
        base.provision_path,
        f"{detail}; underlying {base.rule}: {base.detail}",
    )


# --- the entry points ----------------------------------------------------------------------------


def decide(request: AccessRequest, consents: Sequence[ConsentRecord]) -> Decision:
    """Decide one request for data in the Patient compartment (see the module docstring)."""
    if request.organization is not None and request.author_organization == request.organization:
        return Decision(True, DecisionRule.AUTHOR, detail="the caller's organization wrote it")
    if request.contact_agreed is False:
        return Decision(
            False,
            DecisionRule.CONTACT_NOT_AGREED,
            detail="the emergency contact's own agreement is not recorded",
        )
    base = _by_consent(request, consents)
    if base.permit or request.break_glass is None:
        return base
    return _break_glass(request.break_glass, request.patient_id, request.purpose, request.now, base)


def _coarse_permit(
    node: Provision, refs: frozenset[str], purpose: str, now: int, path: tuple[int, ...]
) -> tuple[int, ...] | None:
    """The first permit provision (pre-order) whose path matches on period/actor/purpose."""
    if not _within(node.period, now):
        return None
    if node.actors and not any(a.reference in refs for a in node.actors):
        return None
    if node.purposes and not _has_code(node.purposes, purpose, PURPOSE_OF_USE_SYSTEM):
        return None
    if node.type is ProvisionType.PERMIT:
        return path
    for i, child in enumerate(node.provisions):
        found = _coarse_permit(child, refs, purpose, now, (*path, i))
        if found is not None:
            return found
    return None


def may_see_patient(
    actor_refs: frozenset[str],
    organization: str | None,
    purpose: str,
    now: int,
    consents: Sequence[ConsentRecord],
    *,
    patient_id: str | None = None,
    break_glass: BreakGlass | None = None,
) -> Decision:
    """Could *any* compartment resource of this patient be permitted by consent? (search filter)

    A coarse superset of :func:`decide`: only ``period``, ``actor`` and ``purpose`` of the
    provisions on a path are checked; ``action``, ``class``, ``code``, ``securityLabel``,
    ``dataPeriod``, ``data`` and every deny are ignored. So whenever ``decide`` permits a
    resource of the patient by consent (or by break-glass with the same grant), this permits
    the patient; ``decide`` then runs on each resource. The author rule is per resource: the
    caller must add "resources my organization wrote" to the filter itself. ``patient_id``
    defaults to the patient(s) the consents are about; pass it with ``break_glass``, which
    is checked against it (with no ``patient_id`` and not exactly one patient, it is refused).
    """
    refs = actor_refs | {organization} if organization else actor_refs
    patients = [patient_id] if patient_id else sorted({c.patient_id for c in consents})
    counted = 0
    for pid in patients:
        applicable = applicable_consents(consents, pid, now)
        counted += len(applicable)
        for c in applicable:
            path = _coarse_permit(c.provision, refs, purpose, now, ())
            if path is not None:
                return Decision(
                    True,
                    DecisionRule.CONSENT_PERMIT,
                    c.id,
                    c.version,
                    path,
                    f"{c.reference or 'Consent'} {_path_text(path)} may permit",
                )
    if counted:
        base = Decision(False, DecisionRule.NO_MATCHING_CONSENT, detail="no permit reachable")
    else:
        base = Decision(False, DecisionRule.NO_CONSENT, detail="no consent counts for the patient")
    if break_glass is None:
        return base
    target = patient_id or (patients[0] if len(patients) == 1 else None)
    return _break_glass(break_glass, target, purpose, now, base)
