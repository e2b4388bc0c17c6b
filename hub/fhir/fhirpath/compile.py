"""Compiling a parsed FHIRPath tree into closures: ``compile_expression`` and ``evaluate``.

``compile_expression(text)`` parses once into a chain of closures and returns
``(resource) -> list`` — the selected JSON values, flattened. Anything outside the subset
raises :class:`FhirPathError` at compile time, never a silent ``[]``.

Variables: ``$this``, ``%resource`` / ``%rootResource`` / ``%context``. Functions (FHIRPath
§5, FHIR-specific ones from http://hl7.org/fhir/R4/fhirpath.html): where, select, exists,
all, empty, not, first, last, tail, skip, take, count, distinct, single, hasValue, ofType,
as, is, extension(url) and resolve() (only as ``resolve() is Type``, see
:mod:`hub.fhir.fhirpath.references`). ``as`` is lenient: on several items it filters like
``ofType`` (strict FHIRPath requires a singleton).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hub.fhir.fhirpath.datatypes import normalize_type, type_check
from hub.fhir.fhirpath.errors import FhirPathError
from hub.fhir.fhirpath.parse import Node, Parser
from hub.fhir.fhirpath.references import reference_type
from hub.fhir.fhirpath.values import (
    distinct,
    eq,
    member_step,
    singleton,
    to_bool,
    typed_member_step,
)

#: A compiled node: (focus collection, root resource) -> collection.
Fn = Callable[[list[Any], dict[str, Any]], list[Any]]
Compiled = Callable[[dict[str, Any]], list[Any]]


def _focus(focus: list[Any], root: dict[str, Any]) -> list[Any]:
    return focus


def _compile(node: Node | None) -> Fn:
    """The closure for ``node`` (None: the focus itself)."""
    if node is None:
        return _focus
    kind = node.kind
    if kind == "lit":
        values = list(node.value)
        return lambda f, r: values
    if kind == "var":
        if node.name == "$this":
            return _focus
        if node.name in ("%resource", "%rootResource", "%context"):
            return lambda f, r: [r]
        raise FhirPathError(f"variable {node.name!r} is not supported")
    if kind == "ident":
        return _compile_ident(node.name)
    if kind == "member":
        base, step = _compile(node.base), member_step(node.name)
        return lambda f, r: step(base(f, r))
    if kind == "index":
        src, i = _compile(node.base), node.value[0]
        return lambda f, r: src(f, r)[i : i + 1]
    if kind == "is":
        return _compile_is(node.base, node.name)
    if kind == "as":
        return _compile_as(node.base, node.name)
    if kind == "op":
        return _compile_op(node.name, _compile(node.base), _compile(node.args[0]))
    return _compile_call(node)


def _compile_ident(name: str) -> Fn:
    step = member_step(name)
    if not name[0].isupper():
        return lambda f, r: step(f)
    any_resource = name in ("Resource", "DomainResource")

    def type_or_member(focus: list[Any], root: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for item in focus:
            if type(item) is dict and (
                item.get("resourceType") == name or (any_resource and "resourceType" in item)
            ):
                out.append(item)
            else:
                out.extend(step([item]))
        return out

    return type_or_member


def _member_parts(node: Node | None) -> tuple[Fn, str] | None:
    """(base, name) when ``node`` is a member access (``x.name`` or a leading lower-case name)."""
    if node is not None and node.kind == "member":
        return _compile(node.base), node.name
    if node is not None and node.kind == "ident" and not node.name[0].isupper():
        return _focus, node.name
    return None


def _is_resolve(node: Node | None) -> bool:
    return node is not None and node.kind == "call" and node.name == "resolve"


def _compile_as(left: Node | None, type_name: str) -> Fn:
    """``as`` / ``as()`` / ``ofType()``: keep the items of ``type_name`` (lenient ``as``)."""
    if _is_resolve(left):
        raise FhirPathError("resolve() is only supported as `resolve() is Type`")
    member = _member_parts(left)
    if member is not None:
        base, step = member[0], typed_member_step(member[1], type_name)
        return lambda f, r: step(base(f, r))
    src, check = _compile(left), type_check(type_name, lenient_complex=False)
    return lambda f, r: [x for x in src(f, r) if check(x)]


def _compile_is(left: Node | None, type_name: str) -> Fn:
    """``is`` / ``is()``: a singleton Boolean, empty on empty input."""
    if left is not None and _is_resolve(left):
        refs, any_resource = _compile(left.base), type_name in ("Resource", "DomainResource")

        def resolve_is(f: list[Any], r: dict[str, Any]) -> list[Any]:
            items = refs(f, r)
            if not items:
                return []
            found = reference_type(singleton(items, "resolve() is"), r)
            return [found == type_name or (any_resource and found is not None)]

        return resolve_is
    member = _member_parts(left)
    if member is not None:
        base, name = member
        typed, anytype = typed_member_step(name, type_name), member_step(name)

        def member_is(f: list[Any], r: dict[str, Any]) -> list[Any]:
            items = base(f, r)
            values = anytype(items)
            if not values:
                return []
            singleton(values, "is")
            return [bool(typed(items))]

        return member_is
    src, check = _compile(left), type_check(type_name, lenient_complex=False)

    def value_is(f: list[Any], r: dict[str, Any]) -> list[Any]:
        items = src(f, r)
        return [check(singleton(items, "is"))] if items else []

    return value_is


def _compile_op(op: str, a: Fn, b: Fn) -> Fn:
    if op == "|":
        return lambda f, r: distinct(a(f, r) + b(f, r))
    if op in ("=", "!="):
        negate = op == "!="

        def equality(f: list[Any], r: dict[str, Any]) -> list[Any]:
            x, y = a(f, r), b(f, r)
            if not x or not y:
                return []
            return [(len(x) == len(y) and all(map(eq, x, y))) != negate]

        return equality

    def logic(f: list[Any], r: dict[str, Any]) -> list[Any]:
        """Three-valued logic, FHIRPath §6.5."""
        x = to_bool(a(f, r))
        if (op == "and" and x is False) or (op in ("or", "implies") and x is (op == "or")):
            return [op != "and"]
        y = to_bool(b(f, r))
        if op == "and" and y is False:
            return [False]
        if op in ("or", "implies") and y is True:
            return [True]
        if x is None or y is None:
            return []
        return [x != y] if op == "xor" else [op == "and"]

    return logic


_ARITY = {"where": 1, "select": 1, "all": 1, "extension": 1, "skip": 1, "take": 1} | {
    "ofType": 1, "as": 1, "is": 1, "exists": (0, 1), "resolve": 0
}  # fmt: skip
_SIMPLE: dict[str, Callable[[list[Any]], list[Any]]] = {
    "empty": lambda c: [not c],
    "exists": lambda c: [bool(c)],
    "first": lambda c: c[:1],
    "last": lambda c: c[-1:],
    "tail": lambda c: c[1:],
    "count": lambda c: [len(c)],
    "distinct": distinct,
    "single": lambda c: [singleton(c, "single()")] if c else [],
    "not": lambda c: [] if (b := to_bool(c)) is None else [not b],
    "hasValue": lambda c: [len(c) == 1 and type(c[0]) not in (dict, list)],
}


def _compile_call(node: Node) -> Fn:
    name, args = node.name, node.args
    arity = _ARITY.get(name, 0 if name in _SIMPLE else None)
    if arity is None:
        raise FhirPathError(f"function {name}() is not supported")
    if len(args) not in (arity if isinstance(arity, tuple) else (arity,)):
        raise FhirPathError(f"wrong number of arguments to {name}()")
    if name in ("ofType", "as", "is"):
        compile_type_op = _compile_is if name == "is" else _compile_as
        return compile_type_op(node.base, _type_arg(args[0]))
    if name == "resolve":
        raise FhirPathError("resolve() is only supported as `resolve() is Type`")
    src = _compile(node.base)
    if not args:
        simple = _SIMPLE[name]
        return lambda f, r: simple(src(f, r))
    if name in ("skip", "take", "extension"):
        const = _literal_arg(args[0], str if name == "extension" else int, name)
        if name == "skip":
            return lambda f, r: src(f, r)[const:]
        if name == "take":
            return lambda f, r: src(f, r)[:const]
        ext = member_step("extension")
        return lambda f, r: [e for e in ext(src(f, r)) if type(e) is dict and e.get("url") == const]
    crit = _compile(args[0])
    if name == "where":
        return lambda f, r: [x for x in src(f, r) if to_bool(crit([x], r))]
    if name == "exists":
        return lambda f, r: [any(to_bool(crit([x], r)) for x in src(f, r))]
    if name == "all":
        return lambda f, r: [all(to_bool(crit([x], r)) for x in src(f, r))]
    return lambda f, r: [y for x in src(f, r) for y in crit([x], r)]  # select


def _type_arg(node: Node) -> str:
    if node.kind == "ident":
        return normalize_type(node.name)
    if node.kind == "member" and node.base is not None and node.base.kind == "ident":
        return normalize_type(f"{node.base.name}.{node.name}")
    raise FhirPathError("expected a type name argument")


def _literal_arg(node: Node, kind: type, fname: str) -> Any:
    if node.kind == "lit" and len(node.value) == 1 and type(node.value[0]) is kind:
        return node.value[0]
    raise FhirPathError(f"{fname}() needs a {kind.__name__} literal argument")


@cache
def compile_expression(expression: str) -> Compiled:
    """Compile a FHIRPath expression once; the result maps a resource to the selected values.

    The returned values are the resource's own JSON objects (not copies): do not mutate them.
    Raises :class:`FhirPathError` for syntax outside the supported subset.
    """
    node = Parser(expression).parse()
    try:
        fn = _compile(node)
    except FhirPathError as exc:
        raise FhirPathError(f"{exc} in FHIRPath {expression!r}") from None

    def run(resource: dict[str, Any]) -> list[Any]:
        return fn([resource], resource)

    return run


def evaluate(resource: dict[str, Any], expression: str) -> list[Any]:
    """Evaluate ``expression`` against ``resource`` (compiled once and cached)."""
    return compile_expression(expression)(resource)
