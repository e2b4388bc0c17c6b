"""Tokenizer and recursive-descent parser for the FHIRPath subset (http://hl7.org/fhirpath/N1/).

The grammar is http://hl7.org/fhirpath/N1/grammar.html; operator precedence is FHIRPath §6.
Accepted: paths, ``[n]``, literals (string, integer, decimal, boolean, ``{}``), variables
(``$this``, ``%name``), function calls and the operators ``|``, ``=``, ``!=``, ``and``, ``or``,
``xor``, ``implies``, ``is``, ``as``. Arithmetic, comparison, equivalence, membership and date
literals are valid FHIRPath but raise :class:`FhirPathError` here, as does any syntax error.
Which variables and functions are supported is decided when the tree is compiled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.fhir.fhirpath.datatypes import normalize_type
from hub.fhir.fhirpath.errors import FhirPathError

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
class Node:
    """AST node. ``kind``: lit (``value``), var, ident (``name``: first term of a path — a
    type name or a member of the focus), member / call (``base`` → ``name``, ``args``; a call
    without base applies to the focus), index (``value`` = (i,)), op (``name`` = operator,
    ``base`` = left, ``args`` = (right,)), is / as (``base``, ``name`` = the type)."""

    kind: str
    name: str = ""
    base: Node | None = None
    args: tuple[Node, ...] = ()
    value: tuple[Any, ...] = ()


class Parser:
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

    def parse(self) -> Node:
        node = self._expr(0)
        if self.toks[self.i][0] != "eof":
            self._fail(f"unexpected {self.toks[self.i][1]!r}")
        return node

    def _expr(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self._type_expr()
        node = self._expr(level + 1)
        while (op := self._op()) in _LEVELS[level]:
            self._take()
            node = Node("op", str(op), node, (self._expr(level + 1),))
        return node

    def _type_expr(self) -> Node:
        node = self._postfix()
        while (op := self._op()) in ("is", "as") or op in _UNSUPPORTED_OPS:
            if op in _UNSUPPORTED_OPS:
                self._fail(f"operator {op!r} is not supported")
            self._take()
            name = self._name("a type name")
            if name in ("FHIR", "System") and self._op() == ".":
                self._take()
                name += "." + self._name("a type name")
            node = Node(str(op), normalize_type(name), node)
        return node

    def _postfix(self) -> Node:
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
            node = Node("index", base=node, value=(int(num),))
        return node

    def _invocation(self, base: Node | None, name: str) -> Node:
        if self._op() != "(":
            return Node("member", name, base) if base is not None else Node("ident", name)
        self._take("(")
        args: list[Node] = []
        while self._op() != ")":
            if args:
                self._take(",")
            args.append(self._expr(0))
        self._take(")")
        return Node("call", name, base, tuple(args))

    def _term(self) -> Node:
        kind, text, pos = self._take()
        if kind == "str":
            return Node("lit", value=(_ESCAPE.sub(_unescape, text[1:-1]),))
        if kind == "num":
            return Node("lit", value=(float(text) if "." in text else int(text),))
        if kind == "var":
            return Node("var", text)
        if text == "(" and kind == "op":
            node = self._expr(0)
            self._take(")")
            return node
        if text == "{" and kind == "op":
            self._take("}")
            return Node("lit")
        if kind == "ident" and text in ("true", "false"):
            return Node("lit", value=(text == "true",))
        if kind == "ident":
            return self._invocation(None, text.strip("`"))
        if text in _UNSUPPORTED_OPS:
            self._fail(f"{'date/time literal' if text == '@' else text!r} is not supported", pos)
        return self._fail(f"unexpected {text or 'end'!r}", pos)


def _unescape(m: re.Match[str]) -> str:
    esc = m.group(1)
    return chr(int(esc[1:], 16)) if len(esc) == 5 else _ESCAPES.get(esc, esc)
