"""A compiled subset of FHIRPath, enough for every R4 search-parameter expression the hub indexes.

Implements the parts of FHIRPath N1 (http://hl7.org/fhirpath/N1/) used by the R4 search
parameters (http://hl7.org/fhir/R4/searchparameter-registry.html), with the FHIR-specific
rules of http://hl7.org/fhir/R4/fhirpath.html: choice elements (``Observation.value`` finds
``valueQuantity``, ``valueString``, … — R4 JSON names them ``value`` + TypeName, see
http://hl7.org/fhir/R4/formats.html#choice), ``resolve()`` and ``extension(url)``.

``compile_expression(text)`` parses once (a small recursive-descent parser) into a chain of
closures and returns ``(resource) -> list`` — the selected JSON values, flattened. Anything
outside the subset raises :class:`FhirPathError` at compile time, never a silent ``[]``.

There is no type model, so types come from the JSON: ``x as T``, ``x.as(T)``, ``x.ofType(T)``
and ``x is T`` on a member access ``x`` read the choice key ``x`` + ``T`` (``effective as
dateTime`` → ``effectiveDateTime``); on a non-choice key they check the JSON shape (primitives
by Python type and lexical form, resources by ``resourceType``, complex types: any object).
Elsewhere only primitive and resource type names are accepted. ``as`` is lenient: on several
items it filters like ``ofType`` (strict FHIRPath requires a singleton). ``resolve()`` is
supported only as ``resolve() is Type``: true when the reference's type part is ``Type``
(``Practitioner/1``, ``http://x/fhir/Practitioner/1``, ``#id`` of a contained resource).

The subset: paths, ``[n]``, literals (string, integer, decimal, boolean, ``{}``), ``$this``,
``%resource`` / ``%rootResource`` / ``%context``; operators ``|``, ``=``, ``!=``, ``and``,
``or``, ``xor``, ``implies``, ``is``, ``as``; functions where, select, exists, all, empty,
not, first, last, tail, skip, take, count, distinct, single, hasValue, ofType, as, is,
extension(url) and resolve(). No arithmetic, comparison, equivalence, membership, date
literals or other functions (no R4 search parameter the hub serves uses them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

__all__ = ["FhirPathError", "compile_expression", "evaluate", "split_reference"]


class FhirPathError(ValueError):
    """An expression outside the supported subset, a syntax error, or a runtime type error."""


#: A compiled node: (focus collection, root resource) -> collection.
Fn = Callable[[list[Any], dict[str, Any]], list[Any]]
Compiled = Callable[[dict[str, Any]], list[Any]]

# --- types (http://hl7.org/fhir/R4/datatypes.html) --------------------------------------------
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?", re.ASCII)
_DATETIME = re.compile(
    r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?", re.ASCII
)
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII)
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?", re.ASCII)


def _is_str(v: Any) -> bool:
    return type(v) is str


def _lexical(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda v: type(v) is str and pattern.fullmatch(v) is not None


_PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: type(v) is bool,
    "integer": lambda v: type(v) is int,
    "positiveInt": lambda v: type(v) is int and v > 0,
    "unsignedInt": lambda v: type(v) is int and v >= 0,
    "decimal": lambda v: type(v) in (int, float),
    "date": _lexical(_DATE),
    "dateTime": _lexical(_DATETIME),
    "instant": _lexical(_INSTANT),
    "time": _lexical(_TIME),
    **dict.fromkeys(
        "string code id markdown uri url canonical oid uuid base64Binary xhtml".split(),  # noqa: SIM905
        _is_str,
    ),
}
_SYSTEM_TYPES = {"Boolean": "boolean", "String": "string", "Integer": "integer"} | {
    "Decimal": "decimal", "Date": "date", "DateTime": "dateTime", "Time": "time"
}  # fmt: skip
_COMPLEX = frozenset(
    """Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count Distance
    Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData
    Signature Timing ContactDetail Contributor DataRequirement Expression ParameterDefinition
    RelatedArtifact TriggerDefinition UsageContext Dosage Meta Narrative Extension SimpleQuantity
    MoneyQuantity Element BackboneElement""".split()  # noqa: SIM905
)
#: the type suffixes a choice element ``name[x]`` can carry in R4 JSON
_CHOICE_SUFFIXES = tuple(t[0].upper() + t[1:] for t in (*_PRIMITIVES, *_COMPLEX))


def _type_check(type_name: str, lenient_complex: bool) -> Callable[[Any], bool]:
    """A JSON-shape test for ``type_name``; complex types only when ``lenient_complex``."""
    if type_name in _PRIMITIVES:
        return _PRIMITIVES[type_name]
    if type_name in _COMPLEX:
        if not lenient_complex:
            raise FhirPathError(f"cannot test complex type {type_name!r} on an untyped value")
        return lambda v: type(v) is dict and "resourceType" not in v
    if type_name in ("Resource", "DomainResource"):
        return lambda v: type(v) is dict and "resourceType" in v
    return lambda v: type(v) is dict and v.get("resourceType") == type_name


def _normalize_type(name: str) -> str:
    ns, _, local = name.rpartition(".")
    if ns == "System":
        local = _SYSTEM_TYPES.get(local, local)
    elif ns not in ("", "FHIR"):
        raise FhirPathError(f"unknown type namespace in {name!r}")
    if not local or (local[0].islower() and local not in _PRIMITIVES):
        raise FhirPathError(f"unknown type {name!r}")
    return local


@lru_cache(maxsize=8192)
def split_reference(ref: str) -> tuple[str, str] | None:
    """``(type, id)`` of a literal reference ``[base/]Type/id[/_history/vid]``, else None.

    http://hl7.org/fhir/R4/references.html#literal — the type is a capitalised resource name,
    the id matches ``[A-Za-z0-9\\-\\.]{1,64}``. Canonical ``|version`` suffixes are ignored.
    """
    parts = ref.split("|", 1)[0].split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2:
        return None
    rtype, rid = parts[-2], parts[-1]
    if not _RES_TYPE.fullmatch(rtype) or not _RES_ID.fullmatch(rid):
        return None
    return rtype, rid


_RES_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_RES_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _reference_type(item: Any, root: dict[str, Any]) -> str | None:
    """The resource type a Reference (or canonical string) points to, without fetching it."""
    ref = item.get("reference") if type(item) is dict else item
    if type(ref) is not str:
        return None
    if ref.startswith("#"):
        for contained in root.get("contained") or ():
            if type(contained) is dict and contained.get("id") == ref[1:]:
                found = contained.get("resourceType")
                return found if type(found) is str else None
        return None
    parts = split_reference(ref)
    return parts[0] if parts else None


# --- tokens and AST ------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""(?P<ws>\s+|//[^\n]*|/\*.*?\*/)
    |(?P<str>'(?:[^'\\]|\\.)*')
    |(?P<num>\d+(?:\.\d+)?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
    |(?P<var>[$%][A-Za-z_][A-Za-z0-9_\-]*)
    |(?P<op><=|>=|!=|!~|[.()\[\],|=~<>+\-*/&{}@])""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {"f": "\f", "n": "\n", "r": "\r", "t": "\t"}
#: valid FHIRPath operators outside the subset (no R4 search parameter of the hub uses them)
_UNSUPPORTED_OPS = frozenset("+ - * / & div mod ~ !~ < > <= >= in contains @".split())  # noqa: SIM905
_LEVELS = ({"implies"}, {"or", "xor"}, {"and"}, {"=", "!="}, {"|"})  # FHIRPath §6 precedence


@dataclass(frozen=True, slots=True)
class _Node:
    """AST node. ``kind``: lit (``value``), var, ident (``name``: first term of a path — a
    type name or a member of the focus), member / call (``base`` → ``name``, ``args``; a call
    without base applies to the focus), index (``value`` = (i,)), op (``name`` = operator,
    ``base`` = left, ``args`` = (right,)), is / as (``base``, ``name`` = the type)."""

    kind: str
    name: str = ""
    base: _Node | None = None
    args: tuple[_Node, ...] = ()
    value: tuple[Any, ...] = ()


class _Parser:
    """Recursive descent over the FHIRPath grammar (http://hl7.org/fhirpath/N1/grammar.html)."""

    def __init__(self, text: str) -> None:
        self.text, self.i = text, 0
        self.toks: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                self._fail(f"unexpected character {text[pos]!r}", pos)
            elif m.lastgroup != "ws":
                self.toks.append((m.lastgroup or "", m.group(), pos))
            pos = m.end() if m else pos
        self.toks.append(("eof", "", len(text)))

    def _fail(self, msg: str, pos: int | None = None) -> Any:
        at = self.toks[self.i][2] if pos is None else pos
        raise FhirPathError(f"{msg} at {at} in FHIRPath {self.text!r}")

    def _take(self, text: str | None = None) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        if text is not None and (tok[1] != text or tok[0] not in ("op", "ident")):
            self._fail(f"expected {text!r}, found {tok[1] or 'end'!r}")
        self.i += 1
        return tok

    def _op(self) -> str | None:
        kind, text, _ = self.toks[self.i]
        return text if kind in ("op", "ident") else None

    def _name(self, what: str) -> str:
        kind, name, _ = self._take()
        return name.strip("`") if kind == "ident" else self._fail(f"expected {what}")

    def parse(self) -> _Node:
        node = self._expr(0)
        if self.toks[self.i][0] != "eof":
            self._fail(f"unexpected {self.toks[self.i][1]!r}")
        return node

    def _expr(self, level: int) -> _Node:
        if level == len(_LEVELS):
            return self._type_expr()
        node = self._expr(level + 1)
        while (op := self._op()) in _LEVELS[level]:
            self._take()
            node = _Node("op", str(op), node, (self._expr(level + 1),))
        return node

    def _type_expr(self) -> _Node:
        node = self._postfix()
        while (op := self._op()) in ("is", "as") or op in _UNSUPPORTED_OPS:
            if op in _UNSUPPORTED_OPS:
                self._fail(f"operator {op!r} is not supported")
            self._take()
            name = self._name("a type name")
            if name in ("FHIR", "System") and self._op() == ".":
                self._take()
                name += "." + self._name("a type name")
            node = _Node(str(op), _normalize_type(name), node)
        return node

    def _postfix(self) -> _Node:
        node = self._term()
        while (op := self._op()) in (".", "["):
            self._take()
            if op == ".":
                node = self._invocation(node, self._name("a name after '.'"))
                continue
            kind, num, _ = self._take()
            if kind != "num" or "." in num:
                self._fail("only integer literal indexes are supported")
            self._take("]")
            node = _Node("index", base=node, value=(int(num),))
        return node

    def _invocation(self, base: _Node | None, name: str) -> _Node:
        if self._op() != "(":
            return _Node("member", name, base) if base is not None else _Node("ident", name)
        self._take("(")
        args: list[_Node] = []
        while self._op() != ")":
            if args:
                self._take(",")
            args.append(self._expr(0))
        self._take(")")
        return _Node("call", name, base, tuple(args))

    def _term(self) -> _Node:
        kind, text, pos = self._take()
        if kind == "str":
            return _Node("lit", value=(_ESCAPE.sub(_unescape, text[1:-1]),))
        if kind == "num":
            return _Node("lit", value=(float(text) if "." in text else int(text),))
        if kind == "var":
            return _Node("var", text)
        if text == "(" and kind == "op":
            node = self._expr(0)
            self._take(")")
            return node
        if text == "{" and kind == "op":
            self._take("}")
            return _Node("lit")
        if kind == "ident" and text in ("true", "false"):
            return _Node("lit", value=(text == "true",))
        if kind == "ident":
            return self._invocation(None, text.strip("`"))
        if text in _UNSUPPORTED_OPS:
            self._fail(f"{'date/time literal' if text == '@' else text!r} is not supported", pos)
        return self._fail(f"unexpected {text or 'end'!r}", pos)


def _unescape(m: re.Match[str]) -> str:
    esc = m.group(1)
    return chr(int(esc[1:], 16)) if len(esc) == 5 else _ESCAPES.get(esc, esc)


# --- evaluation helpers (FHIRPath §4.5 singleton evaluation, §6.1 equality) ----------------------
def _to_bool(coll: list[Any]) -> bool | None:
    """Singleton evaluation of a collection as a Boolean (empty → None)."""
    if not coll:
        return None
    if len(coll) == 1:
        v = coll[0]
        return v if type(v) is bool else True
    raise FhirPathError(f"expected a single boolean, got a collection of {len(coll)} items")


def _eq(a: Any, b: Any) -> bool:
    """FHIRPath equality of two items: different types are unequal (``1 = true`` is false)."""
    if (type(a) is bool) is not (type(b) is bool) or (type(a) is str) is not (type(b) is str):
        return False
    return bool(a == b)


def _distinct(items: list[Any]) -> list[Any]:
    """``items`` without repeats (FHIRPath §6.5 union / distinct()), first occurrence kept."""
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


def _singleton(coll: list[Any], what: str) -> Any:
    if len(coll) > 1:
        raise FhirPathError(f"{what} expects a single item, got {len(coll)}")
    return coll[0]


def _values(v: Any, out: list[Any]) -> None:
    if type(v) is list:
        out.extend(v if None not in v else [x for x in v if x is not None])
    elif v is not None:
        out.append(v)


def _member_step(name: str) -> Callable[[list[Any]], list[Any]]:
    """``.name``: the key ``name``, or the choice key ``name`` + TypeName (R4 JSON §choice)."""
    choice_keys = frozenset(name + suffix for suffix in _CHOICE_SUFFIXES)

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


def _typed_member_step(name: str, type_name: str) -> Callable[[list[Any]], list[Any]]:
    """``.name`` restricted to ``type_name``: the choice key ``nameType``, else by JSON shape."""
    key = name + type_name[0].upper() + type_name[1:]
    check = _type_check(type_name, lenient_complex=True)

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


def _focus(focus: list[Any], root: dict[str, Any]) -> list[Any]:
    return focus


# --- compiler ------------------------------------------------------------------------------------
def _compile(node: _Node | None) -> Fn:
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
        base, step = _compile(node.base), _member_step(node.name)
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
    step = _member_step(name)
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


def _member_parts(node: _Node | None) -> tuple[Fn, str] | None:
    """(base, name) when ``node`` is a member access (``x.name`` or a leading lower-case name)."""
    if node is not None and node.kind == "member":
        return _compile(node.base), node.name
    if node is not None and node.kind == "ident" and not node.name[0].isupper():
        return _focus, node.name
    return None


def _is_resolve(node: _Node | None) -> bool:
    return node is not None and node.kind == "call" and node.name == "resolve"


def _compile_as(left: _Node | None, type_name: str) -> Fn:
    """``as`` / ``as()`` / ``ofType()``: keep the items of ``type_name`` (lenient ``as``)."""
    if _is_resolve(left):
        raise FhirPathError("resolve() is only supported as `resolve() is Type`")
    member = _member_parts(left)
    if member is not None:
        base, step = member[0], _typed_member_step(member[1], type_name)
        return lambda f, r: step(base(f, r))
    src, check = _compile(left), _type_check(type_name, lenient_complex=False)
    return lambda f, r: [x for x in src(f, r) if check(x)]


def _compile_is(left: _Node | None, type_name: str) -> Fn:
    """``is`` / ``is()``: a singleton Boolean, empty on empty input."""
    if left is not None and _is_resolve(left):
        refs, any_resource = _compile(left.base), type_name in ("Resource", "DomainResource")

        def resolve_is(f: list[Any], r: dict[str, Any]) -> list[Any]:
            items = refs(f, r)
            if not items:
                return []
            found = _reference_type(_singleton(items, "resolve() is"), r)
            return [found == type_name or (any_resource and found is not None)]

        return resolve_is
    member = _member_parts(left)
    if member is not None:
        base, name = member
        typed, anytype = _typed_member_step(name, type_name), _member_step(name)

        def member_is(f: list[Any], r: dict[str, Any]) -> list[Any]:
            items = base(f, r)
            values = anytype(items)
            if not values:
                return []
            _singleton(values, "is")
            return [bool(typed(items))]

        return member_is
    src, check = _compile(left), _type_check(type_name, lenient_complex=False)

    def value_is(f: list[Any], r: dict[str, Any]) -> list[Any]:
        items = src(f, r)
        return [check(_singleton(items, "is"))] if items else []

    return value_is


def _compile_op(op: str, a: Fn, b: Fn) -> Fn:
    if op == "|":
        return lambda f, r: _distinct(a(f, r) + b(f, r))
    if op in ("=", "!="):
        negate = op == "!="

        def equality(f: list[Any], r: dict[str, Any]) -> list[Any]:
            x, y = a(f, r), b(f, r)
            if not x or not y:
                return []
            return [(len(x) == len(y) and all(map(_eq, x, y))) != negate]

        return equality

    def logic(f: list[Any], r: dict[str, Any]) -> list[Any]:
        """Three-valued logic, FHIRPath §6.5."""
        x = _to_bool(a(f, r))
        if (op == "and" and x is False) or (op in ("or", "implies") and x is (op == "or")):
            return [op != "and"]
        y = _to_bool(b(f, r))
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
    "distinct": _distinct,
    "single": lambda c: [_singleton(c, "single()")] if c else [],
    "not": lambda c: [] if (b := _to_bool(c)) is None else [not b],
    "hasValue": lambda c: [len(c) == 1 and type(c[0]) not in (dict, list)],
}


def _compile_call(node: _Node) -> Fn:
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
        ext = _member_step("extension")
        return lambda f, r: [e for e in ext(src(f, r)) if type(e) is dict and e.get("url") == const]
    crit = _compile(args[0])
    if name == "where":
        return lambda f, r: [x for x in src(f, r) if _to_bool(crit([x], r))]
    if name == "exists":
        return lambda f, r: [any(_to_bool(crit([x], r)) for x in src(f, r))]
    if name == "all":
        return lambda f, r: [all(_to_bool(crit([x], r)) for x in src(f, r))]
    return lambda f, r: [y for x in src(f, r) for y in crit([x], r)]  # select


def _type_arg(node: _Node) -> str:
    if node.kind == "ident":
        return _normalize_type(node.name)
    if node.kind == "member" and node.base is not None and node.base.kind == "ident":
        return _normalize_type(f"{node.base.name}.{node.name}")
    raise FhirPathError("expected a type name argument")


def _literal_arg(node: _Node, kind: type, fname: str) -> Any:
    if node.kind == "lit" and len(node.value) == 1 and type(node.value[0]) is kind:
        return node.value[0]
    raise FhirPathError(f"{fname}() needs a {kind.__name__} literal argument")


@cache
def compile_expression(expression: str) -> Compiled:
    """Compile a FHIRPath expression once; the result maps a resource to the selected values.

    The returned values are the resource's own JSON objects (not copies): do not mutate them.
    Raises :class:`FhirPathError` for syntax outside the supported subset.
    """
    node = _Parser(expression).parse()
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
