"""FHIR R4 Consent → frozen values the engine decides on (http://hl7.org/fhir/R4/consent.html).

:func:`parse_consent` reads every Consent element the engine uses or reports — ``id``,
``meta.versionId``, ``status``, ``scope``, ``category``, ``patient``, ``dateTime``,
``performer``, ``organization``, ``sourceReference``, ``policy``, ``policyRule`` and the
``provision`` tree (``type``, ``period``, ``actor`` (role + reference), ``action``,
``securityLabel``, ``purpose``, ``class``, ``code``, ``dataPeriod``, ``data`` (meaning +
reference), nested ``provision``) — and raises ``ValueError("Consent.<element>: why")`` for a
consent the engine could not apply exactly. It is stricter than the base spec on purpose:

* ``patient`` is required and must be a relative ``Patient/<id>`` reference: a consent the
  hub cannot attach to a person can neither grant nor refuse anything.
* A CodeableConcept used as a match criterion (``action``, ``code``) needs at least one
  coding with a ``code``: free text cannot be matched, and guessing would widen or narrow the
  consent silently. Codings everywhere need a ``code``.
* Nested provisions need a ``type`` (R4: "required in all nested rules"). The root may carry
  one — R4's definition says it should not, but R4's own examples and most servers use it as
  the consent's base rule, and the hub follows that (see README.md).
* ``actor.role``/``actor.reference`` and ``data.meaning``/``data.reference`` are 1..1.

Dates become inclusive µs ranges (:func:`hub.fhir.indexing.date_range`); references lose a
``/_history/<v>`` suffix (the engine compares logical ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from hub.consent.codes import (
    CONSENT_SCOPE_SYSTEM,
    ConsentDataMeaning,
    ConsentScope,
    ConsentStatus,
    ProvisionType,
)
from hub.fhir.indexing import MAX_US, MIN_US, date_range

__all__ = [
    "DEFAULT_POLICY",
    "Actor",
    "Code",
    "ConsentRecord",
    "DataRef",
    "Provision",
    "Range",
    "parse_consent",
]

#: (system, code); system "" when the coding has none
Code = tuple[str, str]
#: inclusive µs range since the epoch (UTC)
Range = tuple[int, int]
#: the policy of a consent that names none (policyRule and policy absent)
DEFAULT_POLICY = "default"


@dataclass(frozen=True, slots=True)
class Actor:
    """``provision.actor``: who the rule is about. ``role`` is kept for the audit, not matched."""

    role: tuple[Code, ...]
    reference: str  # "Organization/o1", "PractitionerRole/r1", "CareTeam/t1", "Group/g1", …


@dataclass(frozen=True, slots=True)
class DataRef:
    """``provision.data``: a specific resource the rule is about."""

    meaning: ConsentDataMeaning
    reference: str


@dataclass(frozen=True, slots=True)
class Provision:
    """One rule of the provision tree. Empty tuples / None = the criterion is absent."""

    type: ProvisionType | None = None
    period: Range | None = None
    actors: tuple[Actor, ...] = ()
    actions: tuple[Code, ...] = ()  # all codings of all action concepts
    security_labels: tuple[Code, ...] = ()
    purposes: tuple[Code, ...] = ()
    classes: tuple[Code, ...] = ()
    codes: tuple[Code, ...] = ()  # all codings of all code concepts
    data_period: Range | None = None
    data: tuple[DataRef, ...] = ()
    provisions: tuple[Provision, ...] = ()

    @property
    def has_criteria(self) -> bool:
        """Does this rule name anything it is about (``period`` and ``type`` aside)?"""
        return bool(
            self.actors or self.actions or self.security_labels or self.purposes
            or self.classes or self.codes or self.data or self.data_period is not None
        )  # fmt: skip

    def at(self, path: tuple[int, ...]) -> Provision:
        """The provision at ``path`` (``()`` = self, ``(0, 2)`` = provision[0].provision[2])."""
        node = self
        for i in path:
            node = node.provisions[i]
        return node


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A parsed Consent: what the engine needs, plus what the audit reports."""

    id: str | None
    version: str | None
    status: ConsentStatus
    patient_id: str
    date_time: int | None  # start of Consent.dateTime, µs; None when absent
    scope: tuple[Code, ...] | None  # None = absent
    category: tuple[Code, ...] = ()
    performers: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    source_reference: str | None = None
    policy_uris: tuple[str, ...] = ()
    policy_rule: tuple[Code, ...] = ()
    policy_rule_text: str | None = None
    provision: Provision = Provision()

    @property
    def policy(self) -> str:
        """The policy this consent is given under, the key of replacement.

        The sorted ``system|code`` of ``policyRule``'s codings; else the sorted ``policy[].uri``;
        else ``text:`` + ``policyRule.text``; else :data:`DEFAULT_POLICY`.
        """
        if self.policy_rule:
            return ",".join(sorted(f"{s}|{c}" for s, c in self.policy_rule))
        if self.policy_uris:
            return ",".join(sorted(self.policy_uris))
        if self.policy_rule_text:
            return f"text:{self.policy_rule_text}"
        return DEFAULT_POLICY

    @property
    def patient_privacy(self) -> bool:
        """Scope absent, or a coding ``patient-privacy`` (system consentscope or none)."""
        return self.scope is None or any(
            c == ConsentScope.PATIENT_PRIVACY and s in ("", CONSENT_SCOPE_SYSTEM)
            for s, c in self.scope
        )

    @property
    def reference(self) -> str | None:
        """``Consent/<id>/_history/<v>`` (or without the version), for audit records."""
        if self.id is None:
            return None
        return f"Consent/{self.id}" + (f"/_history/{self.version}" if self.version else "")


# --- parsing -------------------------------------------------------------------------------------


def _fail(path: str, why: str) -> ValueError:
    return ValueError(f"{path}: {why}")


def _obj(v: Any, path: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _fail(path, "expected an object")
    return v


def _items(v: Any, path: str) -> list[tuple[str, Any]]:
    """``(path[i], item)`` for a JSON array (absent = empty)."""
    if v is None:
        return []
    if not isinstance(v, list):
        raise _fail(path, "expected an array")
    return [(f"{path}[{i}]", x) for i, x in enumerate(v)]


def _opt_str(v: Any, path: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise _fail(path, "expected a non-empty string")
    return v


_E = TypeVar("_E", bound=StrEnum)


def _code(v: Any, path: str, enum: type[_E]) -> _E:
    if not isinstance(v, str) or v not in enum._value2member_map_:
        raise _fail(path, f"expected {' | '.join(enum)}, got {v!r}")
    return enum(v)


def _coding(v: Any, path: str) -> Code:
    d = _obj(v, path)
    code = _opt_str(d.get("code"), f"{path}.code")
    if code is None:
        raise _fail(f"{path}.code", "required")
    return _opt_str(d.get("system"), f"{path}.system") or "", code


def _codings(v: Any, path: str) -> tuple[Code, ...]:
    return tuple(_coding(x, p) for p, x in _items(v, path))


def _concept(v: Any, path: str, *, matchable: bool = False) -> tuple[tuple[Code, ...], str | None]:
    d = _obj(v, path)
    codings = _codings(d.get("coding"), f"{path}.coding")
    text = _opt_str(d.get("text"), f"{path}.text")
    if matchable and not codings:
        raise _fail(f"{path}.coding", "a coding is required: text alone cannot be matched")
    return codings, text


def _concepts(v: Any, path: str, *, matchable: bool = False) -> tuple[Code, ...]:
    return tuple(c for p, x in _items(v, path) for c in _concept(x, p, matchable=matchable)[0])


def _logical(ref: str) -> str:
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        return "/".join(parts[:-2])
    return ref


def _reference(v: Any, path: str) -> str:
    if v is None:
        raise _fail(path, "required")
    ref = _opt_str(_obj(v, path).get("reference"), f"{path}.reference")
    if ref is None:
        raise _fail(f"{path}.reference", "required (a literal reference)")
    return _logical(ref)


def _instant(v: Any, path: str) -> Range:
    if not isinstance(v, str):
        raise _fail(path, "expected a date/dateTime string")
    try:
        return date_range(v)
    except ValueError as exc:
        raise _fail(path, str(exc)) from None


def _period(v: Any, path: str) -> Range | None:
    if v is None:
        return None
    d = _obj(v, path)
    low = _instant(d["start"], f"{path}.start")[0] if d.get("start") is not None else MIN_US
    high = _instant(d["end"], f"{path}.end")[1] if d.get("end") is not None else MAX_US
    if low > high:
        raise _fail(path, "start is after end")
    return low, high


def _patient(v: Any, path: str) -> str:
    if v is None:
        raise _fail(path, "required: a consent must name the person it is about")
    ref = _reference(v, path)
    kind, _, pid = ref.partition("/")
    if kind != "Patient" or not pid or "/" in pid:
        raise _fail(f"{path}.reference", f"expected Patient/<id>, got {ref!r}")
    return pid


def _provision(v: Any, path: str, *, root: bool) -> Provision:
    d = _obj(v, path)
    if d.get("type") is None and not root:
        raise _fail(f"{path}.type", "required in nested provisions")
    ptype = None if d.get("type") is None else _code(d["type"], f"{path}.type", ProvisionType)
    actors = []
    for p, a in _items(d.get("actor"), f"{path}.actor"):
        a = _obj(a, p)
        if a.get("role") is None:
            raise _fail(f"{p}.role", "required")
        role = _concept(a["role"], f"{p}.role")[0]
        actors.append(Actor(role, _reference(a.get("reference"), f"{p}.reference")))
    data = []
    for p, x in _items(d.get("data"), f"{path}.data"):
        x = _obj(x, p)
        meaning = _code(x.get("meaning"), f"{p}.meaning", ConsentDataMeaning)
        data.append(DataRef(meaning, _reference(x.get("reference"), f"{p}.reference")))
    return Provision(
        type=ptype,
        period=_period(d.get("period"), f"{path}.period"),
        actors=tuple(actors),
        actions=_concepts(d.get("action"), f"{path}.action", matchable=True),
        security_labels=_codings(d.get("securityLabel"), f"{path}.securityLabel"),
        purposes=_codings(d.get("purpose"), f"{path}.purpose"),
        classes=_codings(d.get("class"), f"{path}.class"),
        codes=_concepts(d.get("code"), f"{path}.code", matchable=True),
        data_period=_period(d.get("dataPeriod"), f"{path}.dataPeriod"),
        data=tuple(data),
        provisions=tuple(
            _provision(x, p, root=False) for p, x in _items(d.get("provision"), f"{path}.provision")
        ),
    )  # fmt: skip


def parse_consent(resource: dict[str, Any]) -> ConsentRecord:
    """Parse a FHIR R4 Consent (JSON as a dict). Raises ``ValueError("Consent.<element>: …")``."""
    r = _obj(resource, "Consent")
    if r.get("resourceType") != "Consent":
        raise _fail("Consent.resourceType", f"expected Consent, got {r.get('resourceType')!r}")
    status = _code(r.get("status"), "Consent.status", ConsentStatus)
    meta = _obj(r.get("meta") or {}, "Consent.meta")
    scope = r.get("scope")
    rule_codings: tuple[Code, ...] = ()
    rule_text = None
    if r.get("policyRule") is not None:
        rule_codings, rule_text = _concept(r["policyRule"], "Consent.policyRule")
    policy_uris = []
    for p, x in _items(r.get("policy"), "Consent.policy"):
        x = _obj(x, p)
        uri = _opt_str(x.get("uri"), f"{p}.uri")
        _opt_str(x.get("authority"), f"{p}.authority")
        if uri:
            policy_uris.append(uri)
    dt = r.get("dateTime")
    return ConsentRecord(
        id=_opt_str(r.get("id"), "Consent.id"),
        version=_opt_str(meta.get("versionId"), "Consent.meta.versionId"),
        status=status,
        patient_id=_patient(r.get("patient"), "Consent.patient"),
        date_time=None if dt is None else _instant(dt, "Consent.dateTime")[0],
        scope=None if scope is None else _concept(scope, "Consent.scope")[0],
        category=_concepts(r.get("category"), "Consent.category"),
        performers=tuple(
            _reference(x, p) for p, x in _items(r.get("performer"), "Consent.performer")
        ),
        organizations=tuple(
            _reference(x, p) for p, x in _items(r.get("organization"), "Consent.organization")
        ),
        source_reference=(
            None if r.get("sourceReference") is None
            else _reference(r["sourceReference"], "Consent.sourceReference")
        ),
        policy_uris=tuple(policy_uris),
        policy_rule=rule_codings,
        policy_rule_text=rule_text,
        provision=(
            Provision() if r.get("provision") is None
            else _provision(r["provision"], "Consent.provision", root=True)
        ),
    )  # fmt: skip
