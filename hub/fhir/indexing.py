"""Resource → search index rows and Patient-compartment membership.

Implements the value extraction of http://hl7.org/fhir/R4/search.html for the parameter types
the hub indexes (string, token, date, reference), one row per matchable value:

* string — http://hl7.org/fhir/R4/search.html#string: primitives as they are; HumanName by
  family, given, prefix, suffix, text and the whole name (family + given, with and without
  spaces, so ``山田 太郎`` and ``山田太郎`` both match); Address by line, city, district, state,
  postalCode, country and text; other types by their string primitives. ``value`` is
  :func:`normalize_string` (case-, accent-, width- and kana-insensitive), ``exact`` as written.
* token — http://hl7.org/fhir/R4/search.html#token: Coding (system, code, display),
  CodeableConcept (each coding, ``text`` = the concept's text or else the display; a differing
  display gets its own row; text alone → a row with empty system and code), Identifier
  (system, value, type.text), ContactPoint (value only), code/string/boolean primitives.
* date — http://hl7.org/fhir/R4/search.html#date: every value is an inclusive µs range (UTC)
  by its precision; Period (open ends → :data:`MIN_US` / :data:`MAX_US`); Timing (events and
  repeat.boundsPeriod). Unparseable values are skipped (the validator rejects them on write).
* reference — http://hl7.org/fhir/R4/search.html#reference: ``Type/id`` (``/_history/n``
  dropped) → (Type, id, ""); absolute ``…/Type/id`` → (Type, id, url); canonical/uri values →
  ("", "", url) with Type and id filled when the URL ends in ``/Type/id`` (a ``|version``
  suffix gives a second row without it). Skipped: ``#contained``, ``urn:`` references,
  references with only ``identifier`` or ``display`` (nothing to join on), whole resources.
* uri — http://hl7.org/fhir/R4/search.html#uri: the value as written, in the string index
  (``exact``; the search compares it exactly, or by prefix for ``:below``).
* compartments — http://hl7.org/fhir/R4/compartmentdefinition-patient.html: the Patient ids
  whose compartment holds the resource (a Patient is always in its own). Only relative
  references count: an absolute URL names a resource on some server, not necessarily this one.

``_id`` and ``_lastUpdated`` are not indexed here: the store keeps them as columns.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from hub.fhir.codes import SearchParamType
from hub.fhir.fhirpath import FhirPathError, compile_expression, split_reference
from hub.fhir.searchparams import PROFILES_DIR, SearchParam, SearchParamRegistry, default_registry

__all__ = [
    "MAX_US",
    "MIN_US",
    "DateRow",
    "IndexRows",
    "ReferenceRow",
    "StringRow",
    "TokenRow",
    "compartment_params",
    "date_range",
    "index_resource",
    "normalize_string",
]

log = logging.getLogger(__name__)

#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in µs since the epoch: open Period ends
MIN_US = -62_135_596_800_000_000
MAX_US = 253_402_300_799_999_999

_SKIP_CODES = frozenset({"_id", "_lastUpdated"})
# column sizes of hub.store.schema
_STR_LEN, _SYS_LEN, _TOK_LEN, _TEXT_LEN = 512, 256, 256, 512
_TYPE_LEN, _ID_LEN, _URL_LEN = 64, 256, 1024


@dataclass(frozen=True, slots=True)
class StringRow:
    code: str
    value: str  # normalize_string(exact)
    exact: str  # as written


@dataclass(frozen=True, slots=True)
class TokenRow:
    code: str
    system: str  # "" = no system
    value: str
    text: str  # normalised display / text, for :text


@dataclass(frozen=True, slots=True)
class DateRow:
    code: str
    low: int  # µs since epoch UTC, inclusive
    high: int  # µs since epoch UTC, inclusive


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    code: str
    target_type: str
    target_id: str
    url: str  # absolute or canonical URL, "" for a relative reference


@dataclass(slots=True)
class IndexRows:
    strings: list[StringRow] = field(default_factory=list)
    tokens: list[TokenRow] = field(default_factory=list)
    dates: list[DateRow] = field(default_factory=list)
    references: list[ReferenceRow] = field(default_factory=list)
    compartments: list[str] = field(default_factory=list)  # Patient ids, deduplicated


# --- strings -------------------------------------------------------------------------------------
_HIRAGANA_TO_KATAKANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)} | {
    0x309D: 0x30FD, 0x309E: 0x30FE
}  # fmt: skip
_HIRAGANA = re.compile("[\u3041-\u3096\u309d\u309e]")
_DIACRITICS = re.compile("[\u0300-\u036f]")  # combining marks of Latin/Greek/Cyrillic accents
#: characters (of NFKC text) whose decomposition carries such a mark: é, Å, ё, ά, ṩ, …
_ACCENTED = re.compile(
    "[\u0300-\u036f"
    + "".join(
        chr(cp)
        for cp in range(0xC0, 0x3000)
        if _DIACRITICS.search(unicodedata.normalize("NFKD", chr(cp)))
    )
    + "]"
)


def normalize_string(s: str) -> str:
    """Fold ``s`` for string search (http://hl7.org/fhir/R4/search.html#string).

    The spec asks for case- and accent-insensitive matching; for Japanese we also fold width
    (NFKC: ``ｶﾅ`` → ``カナ``, ``ＡＢＣ`` → ``abc``) and hiragana to katakana (``やまだ`` →
    ``ヤマダ``). Steps: NFKC, casefold, strip Latin/Greek/Cyrillic accents (U+0300–U+036F only,
    so kana voicing marks survive), hiragana → katakana, whitespace runs (incl. U+3000) → one
    space, strip.
    """
    if s.isascii():
        return " ".join(s.lower().split())
    t = unicodedata.normalize("NFKC", s).casefold()
    if _ACCENTED.search(t):
        t = unicodedata.normalize("NFKC", _DIACRITICS.sub("", unicodedata.normalize("NFKD", t)))
    if _HIRAGANA.search(t):
        t = t.translate(_HIRAGANA_TO_KATAKANA)
    return " ".join(t.split())


_NAME_KEYS = frozenset({"family", "given", "prefix", "suffix"})
_ADDRESS_KEYS = ("line", "city", "district", "state", "postalCode", "country", "text")
_GENERIC_SKIP = frozenset({"extension", "modifierExtension", "id", "use"})


def _add_strings(v: Any, out: list[str]) -> None:
    if type(v) is str:
        out.append(v)
    elif type(v) is list:
        out.extend(x for x in v if type(x) is str)


def _strings(v: Any) -> list[str]:
    """The strings a string parameter matches in ``v`` (a string, HumanName, Address, …)."""
    if type(v) is str:
        return [v]
    out: list[str] = []
    if type(v) is not dict:
        return out
    if not _NAME_KEYS.isdisjoint(v):  # HumanName
        family = v.get("family")
        whole = [family] if type(family) is str else []
        _add_strings(v.get("given"), whole)
        out.extend(whole)
        for key in ("prefix", "suffix", "text"):
            _add_strings(v.get(key), out)
        if len(whole) > 1:
            out += (" ".join(whole), "".join(whole))
    elif any(k in v for k in _ADDRESS_KEYS[:-1]):  # Address ("text" alone is not enough)
        for key in _ADDRESS_KEYS:
            _add_strings(v.get(key), out)
    else:
        for key, x in v.items():
            if key not in _GENERIC_SKIP:
                for item in x if type(x) is list else (x,):
                    out.extend(_strings(item))
    return out


def _listed(v: Any) -> list[Any]:
    return v if type(v) is list else [v]


# --- tokens --------------------------------------------------------------------------------------
def _text_of(v: Any, norm: Callable[[str], str]) -> str:
    return norm(v) if type(v) is str else ""


def _str_of(v: Any) -> str:
    return v if type(v) is str else ""


def _tokens(v: Any, norm: Callable[[str], str]) -> Iterator[tuple[str, str, str]]:
    t = type(v)
    if t is bool:
        yield "", "true" if v else "false", ""
    elif t is str:
        yield "", v, ""
    elif t is int or t is float:
        yield "", str(v), ""
    elif t is not dict:
        return
    elif "coding" in v or set(v) <= {"text", "id", "extension"}:  # CodeableConcept
        cc_text = _text_of(v.get("text"), norm)
        codings = [c for c in _listed(v.get("coding")) if type(c) is dict]
        for c in codings:
            system, code, display = (
                _str_of(c.get("system")),
                _str_of(c.get("code")),
                c.get("display"),
            )
            disp = _text_of(display, norm)
            yield system, code, cc_text or disp
            if cc_text and disp and disp != cc_text:
                yield system, code, disp
        if not codings and cc_text:
            yield "", "", cc_text
    elif "value" in v and "code" not in v:
        system = _str_of(v.get("system"))
        if not system or ":" in system:  # Identifier (its system is a URI)
            ident_type = v.get("type")
            text = _text_of(ident_type.get("text"), norm) if type(ident_type) is dict else ""
            yield system, _str_of(v.get("value")), text
        else:  # ContactPoint (system is phone | email | …): matched on value only
            yield "", _str_of(v.get("value")), ""
    else:  # Coding (or anything with system/code)
        yield _str_of(v.get("system")), _str_of(v.get("code")), _text_of(v.get("display"), norm)


# --- dates ---------------------------------------------------------------------------------------
_DATE_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?",
    re.ASCII,  # no full-width or other non-ASCII digits
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND = 1_000_000
_DAY = 86_400 * _SECOND


def date_range(value: str) -> tuple[int, int]:
    """The inclusive µs range (UTC) a FHIR date, dateTime or instant denotes.

    http://hl7.org/fhir/R4/search.html#date: a value stands for the whole interval of its
    precision (``2020`` → the year, ``2020-02`` → the month, ``2020-02-29`` → the day,
    ``…T10:00`` → the minute, ``…:30`` → the second, ``.1`` → 100 ms, ``.123456`` → 1 µs).
    The offset is applied; a value without one is taken as UTC. Raises ValueError.
    """
    m = _DATE_RE.fullmatch(value)
    if m is None:
        raise ValueError(f"not a FHIR date, dateTime or instant: {value!r}")
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    year = int(y)
    if year < 1:
        raise ValueError(f"year 0000 is not allowed: {value!r}")
    if mo is None:
        low = (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY
        return low, low + (366 if calendar.isleap(year) else 365) * _DAY - 1
    month = int(mo)
    if d is None:
        low = (date(year, month, 1).toordinal() - _EPOCH_ORDINAL) * _DAY
        return low, low + calendar.monthrange(year, month)[1] * _DAY - 1
    low = (date(year, month, int(d)).toordinal() - _EPOCH_ORDINAL) * _DAY
    if hh is None:
        return low, low + _DAY - 1
    hour, minute, second = int(hh), int(mi), int(ss or 0)
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(f"time out of range: {value!r}")
    low += (hour * 3600 + minute * 60 + min(second, 59)) * _SECOND
    if ss is None:
        span = 60 * _SECOND
    elif frac is None:
        span = _SECOND
    else:
        low += int(frac[:6].ljust(6, "0"))
        span = 10 ** (6 - min(len(frac), 6))
    if tz and tz != "Z":
        tz_h, tz_m = int(tz[1:3]), int(tz[4:6])
        if tz_h > 14 or tz_m > 59:
            raise ValueError(f"timezone offset out of range: {value!r}")
        low -= (1 if tz[0] == "+" else -1) * (tz_h * 3600 + tz_m * 60) * _SECOND
    return low, low + span - 1


def _period(v: dict[str, Any]) -> tuple[int, int]:
    start, end = v.get("start"), v.get("end")
    low = date_range(start)[0] if type(start) is str else MIN_US
    high = date_range(end)[1] if type(end) is str else MAX_US
    return low, high


def _dates(v: Any) -> Iterator[tuple[int, int]]:
    try:
        if type(v) is str:
            yield date_range(v)
        elif type(v) is dict and ("start" in v or "end" in v):
            yield _period(v)
        elif type(v) is dict:  # Timing
            for event in _listed(v.get("event")):
                if type(event) is str:
                    yield date_range(event)
            repeat = v.get("repeat")
            bounds = repeat.get("boundsPeriod") if type(repeat) is dict else None
            if type(bounds) is dict and ("start" in bounds or "end" in bounds):
                yield _period(bounds)
    except ValueError:
        log.debug("skipping unparseable date value %r", v)


# --- references ----------------------------------------------------------------------------------
def _references(v: Any) -> Iterator[tuple[str, str, str]]:
    if type(v) is str:  # canonical / uri
        url = v.split("|", 1)[0]
        parts = split_reference(url) or ("", "")
        yield parts[0], parts[1], url
        if url != v:
            yield parts[0], parts[1], v
        return
    if type(v) is not dict or "resourceType" in v:
        return
    ref = v.get("reference")
    if type(ref) is not str or ref.startswith(("#", "urn:")):
        return
    literal = split_reference(ref)
    if "://" in ref:
        rtype, rid = literal or ("", "")
        yield rtype, rid, ref
    elif literal is not None:
        yield literal[0], literal[1], ""


# --- compartments --------------------------------------------------------------------------------
@cache
def compartment_params() -> dict[str, tuple[str, ...]]:
    """Resource type → the search parameters that place it in a Patient compartment."""
    path = PROFILES_DIR / "fhir-r4" / "compartmentdefinition-patient.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {r["code"]: tuple(r.get("param", ())) for r in data.get("resource", [])}


# --- index_resource ------------------------------------------------------------------------------
_STRING, _TOKEN, _DATE, _REFERENCE = range(4)
#: uri parameters are indexed like strings (``idx_string``; search compares ``exact``)
_KINDS = {SearchParamType.STRING: _STRING, SearchParamType.TOKEN: _TOKEN} | {
    SearchParamType.DATE: _DATE, SearchParamType.REFERENCE: _REFERENCE,
    SearchParamType.URI: _STRING,
}  # fmt: skip
_Plan = tuple[SearchParam, str, int, Callable[[dict[str, Any]], list[Any]]]
_RefKey = tuple[str, str, str, str]
#: id(params of one type) → (those params, their values when planned, the indexed ones' plans);
#: checked by identity and contents, so a registry may change or come and go
_TYPE_PLANS: dict[int, tuple[dict[str, SearchParam], tuple[SearchParam, ...], list[_Plan]]] = {}


def _plan(param: SearchParam) -> _Plan | None:
    kind = _KINDS.get(param.type, -1)
    if kind < 0 or not param.expression or param.code in _SKIP_CODES:
        return None
    return param, param.code, kind, compile_expression(param.expression)


def _plans(params: dict[str, SearchParam]) -> list[_Plan]:
    if not params:
        return []
    current = tuple(params.values())
    entry = _TYPE_PLANS.get(id(params))
    if entry is None or entry[0] is not params or entry[1] != current:
        if len(_TYPE_PLANS) > 10_000:
            _TYPE_PLANS.clear()
        plans = [plan for plan in map(_plan, current) if plan is not None]
        entry = _TYPE_PLANS[id(params)] = (params, current, plans)
    return entry[2]


def _run(plan: _Plan, resource: dict[str, Any]) -> list[Any]:
    try:
        return plan[3](resource)
    except FhirPathError as exc:  # data the expression cannot handle (e.g. a non-singleton)
        log.warning("not indexing %s.%s: %s", plan[0].resource_type, plan[1], exc)
        return []


def _reference_keys(plan: _Plan, resource: dict[str, Any]) -> list[_RefKey]:
    code = plan[1]
    return [
        (code, t[:_TYPE_LEN], i[:_ID_LEN], u[:_URL_LEN])
        for v in _run(plan, resource)
        for t, i, u in _references(v)
    ]


def index_resource(
    resource: dict[str, Any], registry: SearchParamRegistry | None = None
) -> IndexRows:
    """All search index rows of ``resource`` (see the module docstring), deduplicated, in
    registry order. Raises FhirPathError only for a parameter expression that does not compile.
    """
    reg = registry if registry is not None else default_registry()
    rtype = resource.get("resourceType", "")
    normalized: dict[str, str] = {}  # the same name feeds name, phonetic, family and given

    def norm(s: str) -> str:
        if (folded := normalized.get(s)) is None:
            folded = normalized[s] = normalize_string(s)
        return folded

    strings: dict[tuple[str, str, str], None] = {}
    tokens: dict[tuple[str, str, str, str], None] = {}
    dates: dict[tuple[str, int, int], None] = {}
    references: dict[_RefKey, None] = {}
    refs_by_code: dict[str, list[_RefKey]] = {}
    for plan in _plans(reg.for_type(rtype)):
        _, code, kind, _ = plan
        if kind == _REFERENCE:
            refs_by_code[code] = keys = _reference_keys(plan, resource)
            references.update(dict.fromkeys(keys))
        elif kind == _STRING:
            for v in _run(plan, resource):
                for s in _strings(v):
                    exact = s[:_STR_LEN]
                    if folded := norm(exact)[:_STR_LEN]:
                        strings[code, folded, exact] = None
        elif kind == _TOKEN:
            for v in _run(plan, resource):
                for system, value, text in _tokens(v, norm):
                    if system or value or text:
                        tokens[code, system[:_SYS_LEN], value[:_TOK_LEN], text[:_TEXT_LEN]] = None
        else:
            for v in _run(plan, resource):
                dates.update(dict.fromkeys((code, lo, hi) for lo, hi in _dates(v)))
    return IndexRows(
        strings=[StringRow(*k) for k in strings],
        tokens=[TokenRow(*k) for k in tokens],
        dates=[DateRow(*k) for k in dates],
        references=[ReferenceRow(*k) for k in references],
        compartments=_compartments(resource, rtype, reg, refs_by_code),
    )


def _compartments(
    resource: dict[str, Any],
    rtype: str,
    reg: SearchParamRegistry,
    refs_by_code: dict[str, list[_RefKey]],
) -> list[str]:
    ids: dict[str, None] = {}
    own_id = resource.get("id")
    if rtype == "Patient" and type(own_id) is str and own_id:
        ids[own_id] = None
    for code in compartment_params().get(rtype, ()):
        keys = refs_by_code.get(code)
        if keys is None:  # not in this registry: compartments follow the R4 definition anyway
            param = reg.get(rtype, code) or default_registry().get(rtype, code)
            plan = _plan(param) if param is not None else None
            keys = _reference_keys(plan, resource) if plan is not None else []
        for _, target_type, target_id, url in keys:
            if target_type == "Patient" and target_id and not url:
                ids[target_id] = None
    return list(ids)
