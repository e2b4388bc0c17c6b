"""Completed forms (QuestionnaireResponse) checked against their Questionnaire and flattened.

Checks follow http://hl7.org/fhir/R4/questionnaireresponse.html#link (each response item
answers the Questionnaire item with the same ``linkId``, nested the same way) and the item
types of http://hl7.org/fhir/R4/valueset-item-type.html (``date`` → ``valueDate``, ``string``
/ ``text`` → ``valueString``, ``boolean`` → ``valueBoolean``, ``choice`` → ``valueCoding``,
``open-choice`` → ``valueCoding`` or ``valueString``); ``required`` items must be answered
when the group holding them is; choices from the hub's own CodeSystems must be codes of them.
Every problem becomes one OperationOutcome issue (422) whose expression names the item:
``QuestionnaireResponse.item.where(linkId='…')`` and the exact nested FHIRPath.

:class:`FormAnswers` is the flat view the extraction reads: leaf ``linkId`` → answers, and
repeating groups (``household.member``) → one flat view per repetition. :meth:`overlay`
applies a change notice (変更届) on top of the registration: each item the notice answers
replaces the earlier answers of that item; a repeating group the notice carries replaces the
whole group; items the notice leaves out keep their earlier answers — except that a section the
notice declares changed (``change.items``, CodeSystem registration-change-item) and leaves
wholly unanswered is removed when the registration form does not require it (certificates,
wanted services, emergency contact 2, household): ``contact-2`` declared with no ``contact.2``
answers means the second emergency contact is gone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hub.fhir.codes import IssueType
from hub.fhir.errors import FhirError, Issue
from hub.workflows.conformance import JP_HUB_DIR, read_resources

#: change-notice sections (CodeSystem registration-change-item) that the registration form
#: does not require, → its items: a notice may remove them
REMOVABLE_SECTIONS = {
    "certificates": "certificates",
    "wanted-services": "emergency.wanted-services",
    "contact-2": "contact.2",
    "household": "household",
}

_VALUE_KEYS = {
    "date": ("valueDate",),
    "dateTime": ("valueDateTime",),
    "string": ("valueString",),
    "text": ("valueString",),
    "boolean": ("valueBoolean",),
    "integer": ("valueInteger",),
    "choice": ("valueCoding",),
    "open-choice": ("valueCoding", "valueString"),
    "reference": ("valueReference",),
}
#: a FHIR ``date``: YYYY, YYYY-MM or YYYY-MM-DD (http://hl7.org/fhir/R4/datatypes.html#date)
_DATE = re.compile(r"[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?")


def item_expression(path: list[str]) -> tuple[str, ...]:
    """The expressions naming a form item: the short form, then the exact nested FHIRPath."""
    short = f"QuestionnaireResponse.item.where(linkId='{path[-1]}')"
    full = "QuestionnaireResponse" + "".join(f".item.where(linkId='{p}')" for p in path)
    return (short,) if short == full else (short, full)


def form_error(status: int, problems: list[tuple[list[str], str]]) -> FhirError:
    """One issue per (item path, message)."""
    return FhirError(
        status,
        [
            Issue(
                IssueType.INVALID if status == 400 else IssueType.PROCESSING,
                msg,
                expression=item_expression(path) if path else ("QuestionnaireResponse",),
            )
            for path, msg in problems
        ],
    )


@cache
def _resources() -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in read_resources(JP_HUB_DIR) if isinstance(r.get("url"), str)}


def questionnaire(url: str) -> dict[str, Any] | None:
    """A hub form by canonical url (``|version`` ignored), read from ``profiles/jp-hub``."""
    q = _resources().get(url.split("|", 1)[0])
    return q if q is not None and q.get("resourceType") == "Questionnaire" else None


@cache
def _codes_by_system() -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for r in _resources().values():
        if r.get("resourceType") == "CodeSystem":
            codes: set[str] = set()
            stack = list(r.get("concept", []))
            while stack:
                c = stack.pop()
                codes.add(c["code"])
                stack.extend(c.get("concept", []))
            out[r["url"]] = frozenset(codes)
    return out


@dataclass
class _Checker:
    problems: list[tuple[list[str], str]] = field(default_factory=list)

    def items(self, q_items: list[dict[str, Any]], r_items: Any, path: list[str]) -> None:
        if not isinstance(r_items, list):
            self.problems.append((path, "item must be a list"))
            return
        by_link = {q["linkId"]: q for q in q_items}
        seen: dict[str, int] = {}
        for r in r_items:
            link = r.get("linkId") if isinstance(r, dict) else None
            if not isinstance(link, str) or link not in by_link:
                where = [*path, str(link)] if isinstance(link, str) else path
                self.problems.append((where, f"{link!r} is not an item of the form here"))
                continue
            seen[link] = seen.get(link, 0) + 1
            q = by_link[link]
            if seen[link] == 2 and not q.get("repeats"):
                self.problems.append(([*path, link], "the item does not repeat"))
            self.item(q, r, [*path, link])
        for q in q_items:
            if q.get("required") and q.get("type") != "display" and q["linkId"] not in seen:
                self.problems.append(
                    ([*path, q["linkId"]], f"「{q.get('text', q['linkId'])}」 is required")
                )

    def item(self, q: dict[str, Any], r: dict[str, Any], path: list[str]) -> None:
        qtype = q.get("type")
        if qtype == "display":
            return
        if qtype == "group":
            if r.get("answer"):
                self.problems.append((path, "a group has no answer"))
            self.items(q.get("item", []), r.get("item", []), path)
            return
        answers = r.get("answer") or []
        if not isinstance(answers, list) or not answers:
            if q.get("required"):
                self.problems.append((path, f"「{q.get('text', q['linkId'])}」 needs an answer"))
            return
        if len(answers) > 1 and not q.get("repeats"):
            self.problems.append((path, "only one answer is allowed"))
        for a in answers:
            self.answer(q, a, path)

    def answer(self, q: dict[str, Any], a: Any, path: list[str]) -> None:
        keys = _VALUE_KEYS.get(str(q.get("type")), ())
        values = [k for k in (a if isinstance(a, dict) else {}) if k.startswith("value")]
        if len(values) != 1 or values[0] not in keys:
            self.problems.append((path, f"the answer must be one of {', '.join(keys)}"))
            return
        key = values[0]
        value = a[key]
        if key == "valueDate" and not (isinstance(value, str) and _DATE.fullmatch(value)):
            problem = f"{value!r} is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)"
            self.problems.append((path, problem))
        elif key == "valueString" and not (isinstance(value, str) and value.strip()):
            self.problems.append((path, "the answer is empty"))
        elif key == "valueBoolean" and not isinstance(value, bool):
            self.problems.append((path, "the answer must be true or false"))
        elif key == "valueCoding":
            self.coding(value, path)

    def coding(self, value: Any, path: list[str]) -> None:
        if not isinstance(value, dict) or not isinstance(value.get("code"), str):
            self.problems.append((path, "the coding needs a code"))
            return
        known = _codes_by_system().get(str(value.get("system")))
        if known is not None and value["code"] not in known:
            self.problems.append((path, f"{value['code']!r} is not a code of {value['system']}"))


def check_response(qr: Any, q: dict[str, Any]) -> None:
    """Raise 422 naming every item of ``qr`` that does not answer ``q`` correctly."""
    checker = _Checker()
    checker.items(q.get("item", []), qr.get("item", []), [])
    if checker.problems:
        raise form_error(422, checker.problems)


# -- the flat view ------------------------------------------------------------------------------


@dataclass
class FormAnswers:
    """Leaf answers by linkId; repeating groups by linkId, one ``FormAnswers`` each."""

    values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, list[FormAnswers]] = field(default_factory=dict)

    @classmethod
    def of(cls, items: list[dict[str, Any]], q_items: list[dict[str, Any]]) -> FormAnswers:
        out = cls()
        out._add(items, {q["linkId"]: q for q in _walk(q_items)})
        return out

    def _add(self, items: list[dict[str, Any]], qs: dict[str, dict[str, Any]]) -> None:
        for it in items:
            q = qs.get(it["linkId"], {})
            if q.get("type") == "group" and q.get("repeats"):
                member = FormAnswers()
                member._add(it.get("item", []), qs)
                self.groups.setdefault(it["linkId"], []).append(member)
            elif it.get("item"):
                self._add(it["item"], qs)
            if it.get("answer"):
                self.values[it["linkId"]] = list(it["answer"])

    def overlay(self, notice: FormAnswers) -> FormAnswers:
        """This form's answers changed by ``notice`` (see the module docstring)."""
        cleared = [
            prefix
            for code in notice.codes("change.items")
            if (prefix := REMOVABLE_SECTIONS.get(code)) and not notice.answers_under(prefix)
        ]

        def kept(link: str) -> bool:
            return not any(link == p or link.startswith(p + ".") for p in cleared)

        values = {k: v for k, v in self.values.items() if kept(k)}
        groups = {k: v for k, v in self.groups.items() if kept(k)}
        return FormAnswers({**values, **notice.values}, {**groups, **notice.groups})

    def answers_under(self, prefix: str) -> bool:
        """Whether any item ``prefix`` or below it is answered."""
        return any(
            link == prefix or link.startswith(prefix + ".") for link in (*self.values, *self.groups)
        )

    # typed access --------------------------------------------------------------------------

    def _first(self, link: str, key: str) -> Any:
        for a in self.values.get(link, []):
            if key in a:
                return a[key]
        return None

    def string(self, link: str) -> str | None:
        v = self._first(link, "valueString")
        return v.strip() if isinstance(v, str) and v.strip() else None

    def strings(self, link: str) -> list[str]:
        return [
            a["valueString"].strip()
            for a in self.values.get(link, [])
            if isinstance(a.get("valueString"), str) and a["valueString"].strip()
        ]

    def date(self, link: str) -> str | None:
        v = self._first(link, "valueDate")
        return v if isinstance(v, str) else None

    def boolean(self, link: str) -> bool | None:
        v = self._first(link, "valueBoolean")
        return v if isinstance(v, bool) else None

    def coding(self, link: str) -> dict[str, Any] | None:
        v = self._first(link, "valueCoding")
        return dict(v) if isinstance(v, dict) else None

    def codings(self, link: str) -> list[dict[str, Any]]:
        return [dict(a["valueCoding"]) for a in self.values.get(link, []) if "valueCoding" in a]

    def codes(self, link: str) -> list[str]:
        return [str(c.get("code")) for c in self.codings(link)]


def _walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for it in items:
        out.append(it)
        out.extend(_walk(it.get("item", [])))
    return out
