"""FHIRPath collection semantics used by the compiled closures.

Singleton evaluation (FHIRPath §4.5), equality (§6.1), union / ``distinct()`` without repeats,
and member navigation over R4 JSON, where a choice element ``name[x]`` is stored as ``name`` +
TypeName (http://hl7.org/fhir/R4/formats.html#choice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.fhir.fhirpath.datatypes import CHOICE_SUFFIXES, type_check
from hub.fhir.fhirpath.errors import FhirPathError


def to_bool(coll: list[Any]) -> bool | None:
    """Singleton evaluation of a collection as a Boolean (empty → None)."""
    if not coll:
        return None
    if len(coll) == 1:
        v = coll[0]
        return v if type(v) is bool else True
    raise FhirPathError(f"expected a single boolean, got a collection of {len(coll)} items")


def eq(a: Any, b: Any) -> bool:
    """FHIRPath equality of two items: different types are unequal (``1 = true`` is false)."""
    if (type(a) is bool) is not (type(b) is bool) or (type(a) is str) is not (type(b) is str):
        return False
    return bool(a == b)


def distinct(items: list[Any]) -> list[Any]:
    """``items`` without repeats (FHIRPath §6.4.1 union, §5.1 distinct()), first occurrence kept."""
    if len(items) < 2:
        return items
    out: list[Any] = []
    seen: set[tuple[bool, Any]] = set()
    objects: list[Any] = []
    for x in items:
        if type(x) is dict or type(x) is list:
            if any(x is y or x == y for y in objects):
                continue
            objects.append(x)
        else:
            key = (type(x) is bool, x)  # booleans apart from numbers; 1 and 1.0 are equal
            if key in seen:
                continue
            seen.add(key)
        out.append(x)
    return out


def singleton(coll: list[Any], what: str) -> Any:
    if len(coll) > 1:
        raise FhirPathError(f"{what} expects a single item, got {len(coll)}")
    return coll[0]


def _values(v: Any, out: list[Any]) -> None:
    if type(v) is list:
        out.extend(v if None not in v else [x for x in v if x is not None])
    elif v is not None:
        out.append(v)


def member_step(name: str) -> Callable[[list[Any]], list[Any]]:
    """``.name``: the key ``name``, or the choice key ``name`` + TypeName (R4 JSON §choice)."""
    choice_keys = frozenset(name + suffix for suffix in CHOICE_SUFFIXES)

    def step(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if type(item) is dict:
                v = item.get(name)
                if v is None:
                    for k in item:
                        if k in choice_keys:
                            v = item[k]
                            break
                _values(v, out)
        return out

    return step


def typed_member_step(name: str, type_name: str) -> Callable[[list[Any]], list[Any]]:
    """``.name`` restricted to ``type_name``: the choice key ``nameType``, else by JSON shape."""
    key = name + type_name[0].upper() + type_name[1:]
    check = type_check(type_name, lenient_complex=True)

    def step(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if type(item) is dict:
                v = item.get(key)
                if v is not None:
                    _values(v, out)
                elif (plain := item.get(name)) is not None:
                    found: list[Any] = []
                    _values(plain, found)
                    out.extend(x for x in found if check(x))
        return out

    return step
