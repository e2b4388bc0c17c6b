"""hub.fhir.search.parse: query parameters → SearchQuery (http://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.fhir.codes import IssueSeverity, IssueType, SearchParamType
from hub.fhir.errors import FhirError
from hub.fhir.indexing import date_range, normalize_string
from hub.fhir.search import (
    Criterion,
    DateValue,
    Include,
    MissingValue,
    Modifier,
    Prefix,
    ReferenceValue,
    SearchQuery,
    SortKey,
    StringValue,
    SummaryMode,
    TokenValue,
    TotalMode,
    parse_search,
)
from hub.fhir.search.model import escape
from hub.fhir.search.parse import split_unescaped, unescape
from hub.fhir.searchparams import SearchParamRegistry, default_registry

REG: SearchParamRegistry = default_registry()
S, T, D, R = (
    SearchParamType.STRING,
    SearchParamType.TOKEN,
    SearchParamType.DATE,
    SearchParamType.REFERENCE,
)


def parse(rtype: str, *params: tuple[str, str], **kw: Any) -> SearchQuery:
    return parse_search(rtype, list(params), REG, **kw)


def only(q: SearchQuery) -> Criterion:
    assert len(q.criteria) == 1, q.criteria
    return q.criteria[0]


def sv(text: str) -> StringValue:
    return StringValue(text, normalize_string(text))


def dv(prefix: Prefix, text: str) -> DateValue:
    low, high = date_range(text)
    return DateValue(prefix, text, low, high)


# Criteria: one table row per form ------------------------------------------------------------

CRITERIA: list[tuple[str, tuple[str, str], Criterion]] = [
    # string (search.html#string)
    ("Patient", ("name", "やまだ"), Criterion("name", S, (sv("やまだ"),))),
    ("Patient", ("family", "ＹＡＭＡＤＡ"), Criterion("family", S, (sv("ＹＡＭＡＤＡ"),))),
    ("Patient", ("name:exact", "山田"), Criterion("name", S, (sv("山田"),), Modifier.EXACT)),
    ("Patient", ("name:contains", "まだ"), Criterion("name", S, (sv("まだ"),), Modifier.CONTAINS)),
    (
        "Patient",
        ("name:missing", "true"),
        Criterion("name", S, (MissingValue(True),), Modifier.MISSING),
    ),
    (
        "Patient",
        ("given:missing", "false"),
        Criterion("given", S, (MissingValue(False),), Modifier.MISSING),
    ),
    # OR and escaping (search.html#combining, #escaping)
    ("Patient", ("name", "a,b"), Criterion("name", S, (sv("a"), sv("b")))),
    ("Patient", ("name", r"a\,b"), Criterion("name", S, (sv("a,b"),))),
    ("Patient", ("name", r"a\|b\$c\\d"), Criterion("name", S, (sv("a|b$c\\d"),))),
    ("Patient", ("name", r"a\x"), Criterion("name", S, (sv(r"a\x"),))),
    ("Patient", ("name", "b,a,b,"), Criterion("name", S, (sv("a"), sv("b")))),
    # token (search.html#token)
    ("Patient", ("gender", "male"), Criterion("gender", T, (TokenValue(None, "male"),))),
    (
        "Patient",
        ("identifier", "urn:oid:1.2|123"),
        Criterion("identifier", T, (TokenValue("urn:oid:1.2", "123"),)),
    ),
    ("Patient", ("identifier", "|123"), Criterion("identifier", T, (TokenValue("", "123"),))),
    ("Patient", ("identifier", "sys|"), Criterion("identifier", T, (TokenValue("sys", None),))),
    ("Patient", ("identifier", r"s\|x|c"), Criterion("identifier", T, (TokenValue("s|x", "c"),))),
    ("Patient", ("identifier", "s|a|b"), Criterion("identifier", T, (TokenValue("s", "a|b"),))),
    (
        "Patient",
        ("gender:not", "male"),
        Criterion("gender", T, (TokenValue(None, "male"),), Modifier.NOT),
    ),
    (
        "Observation",
        ("code:text", "Heart Rate"),
        Criterion("code", T, (sv("Heart Rate"),), Modifier.TEXT),
    ),
    (
        "Patient",
        ("gender:missing", "true"),
        Criterion("gender", T, (MissingValue(True),), Modifier.MISSING),
    ),
    (
        "Patient",
        ("_id", "a,b"),
        Criterion("_id", T, (TokenValue(None, "a"), TokenValue(None, "b"))),
    ),
    ("Patient", ("_id:not", "a"), Criterion("_id", T, (TokenValue(None, "a"),), Modifier.NOT)),
    # date (search.html#date, #prefix)
    ("Patient", ("birthdate", "1980"), Criterion("birthdate", D, (dv(Prefix.EQ, "1980"),))),
    ("Patient", ("birthdate", "eq1980-05"), Criterion("birthdate", D, (dv(Prefix.EQ, "1980-05"),))),
    *[
        (
            "Patient",
            ("birthdate", f"{p}1980-05-10"),
            Criterion("birthdate", D, (dv(p, "1980-05-10"),)),
        )
        for p in Prefix
        if p is not Prefix.EQ
    ],
    (
        "Observation",
        ("date", "ge2024-03-15T10:00:00Z"),
        Criterion("date", D, (dv(Prefix.GE, "2024-03-15T10:00:00Z"),)),
    ),
    (
        "Patient",
        ("_lastUpdated", "gt2024-01-01T00:00:00+09:00"),
        Criterion("_lastUpdated", D, (dv(Prefix.GT, "2024-01-01T00:00:00+09:00"),)),
    ),
    (
        "Patient",
        ("birthdate:missing", "true"),
        Criterion("birthdate", D, (MissingValue(True),), Modifier.MISSING),
    ),
    # reference (search.html#reference)
    (
        "Observation",
        ("subject", "Patient/123"),
        Criterion("subject", R, (ReferenceValue("Patient", "123"),)),
    ),
    ("Observation", ("subject", "123"), Criterion("subject", R, (ReferenceValue(None, "123"),))),
    (
        "Observation",
        ("subject:Patient", "123"),
        Criterion("subject", R, (ReferenceValue("Patient", "123"),)),
    ),
    (
        "Observation",
        ("subject:Patient", "Patient/123"),
        Criterion("subject", R, (ReferenceValue("Patient", "123"),)),
    ),
    (
        "Observation",
        ("subject", "Patient/123/_history/4"),
        Criterion("subject", R, (ReferenceValue("Patient", "123"),)),
    ),
    (
        "Observation",
        ("subject", "https://other.example/fhir/Patient/9"),
        Criterion("subject", R, (ReferenceValue(url="https://other.example/fhir/Patient/9"),)),
    ),
    (
        "Observation",
        ("subject:missing", "true"),
        Criterion("subject", R, (MissingValue(True),), Modifier.MISSING),
    ),
    # chains, one level (search.html#chaining)
    (
        "Observation",
        ("subject:Patient.name", "山田"),
        Criterion(
            "subject", R, (), chain_type="Patient", chain=Criterion("name", S, (sv("山田"),))
        ),
    ),
    (
        "Observation",
        ("patient.name:exact", "山田"),
        Criterion(
            "patient",
            R,
            (),
            chain_type="Patient",
            chain=Criterion("name", S, (sv("山田"),), Modifier.EXACT),
        ),
    ),
    (
        "Encounter",  # subject → Group | Patient; only Patient has `name`
        ("subject.name", "山田"),
        Criterion(
            "subject", R, (), chain_type="Patient", chain=Criterion("name", S, (sv("山田"),))
        ),
    ),
    (
        "Observation",
        ("subject:Patient._id", "p1"),
        Criterion(
            "subject",
            R,
            (),
            chain_type="Patient",
            chain=Criterion("_id", T, (TokenValue(None, "p1"),)),
        ),
    ),
    (
        "Observation",
        ("subject:Patient.birthdate", "lt1980"),
        Criterion(
            "subject",
            R,
            (),
            chain_type="Patient",
            chain=Criterion("birthdate", D, (dv(Prefix.LT, "1980"),)),
        ),
    ),
]


@pytest.mark.parametrize(("rtype", "param", "expected"), CRITERIA, ids=lambda x: str(x)[:40])
def test_criterion(rtype: str, param: tuple[str, str], expected: Criterion) -> None:
    q = parse(rtype, param)
    assert only(q) == expected
    assert parse_search(rtype, q.to_params(), REG) == q


def test_repeated_parameters_are_anded_and_sorted() -> None:
    q = parse("Patient", ("name", "b"), ("gender", "male"), ("name", "a"))
    assert [c.key for c in q.criteria] == ["gender", "name", "name"]
    assert [c.values for c in q.criteria if c.code == "name"] == [(sv("a"),), (sv("b"),)]
    # order of the query string does not matter; exact duplicates collapse
    assert q == parse("Patient", ("name", "a"), ("gender", "male"), ("name", "b"), ("name", "a"))


def test_empty_values_are_ignored() -> None:
    q = parse("Patient", ("name", ""), ("gender", ","), ("_count", ""), ("_sort", ""))
    assert q.criteria == ()
    assert q.count == 20


def test_format_and_pretty_are_accepted_and_ignored() -> None:
    q = parse("Patient", ("_format", "json"), ("_pretty", "true"))
    assert q == SearchQuery("Patient")
    assert q.ignored == () and q.warnings == ()


def test_date_value_carries_the_range() -> None:
    value = only(parse("Patient", ("birthdate", "ge1980-05"))).values[0]
    assert isinstance(value, DateValue)
    assert (value.low, value.high) == date_range("1980-05")
    assert value.high - value.low + 1 == 31 * 86_400_000_000


# Result parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "attr", "expected"),
    [
        ([], "count", 20),
        ([("_count", "5")], "count", 5),
        ([("_count", "0")], "count", 0),
        ([("_count", "5000")], "count", 1000),  # capped at max_count
        ([], "offset", 0),
        ([("_offset", "40")], "offset", 40),
        ([("_summary", "count")], "summary", SummaryMode.COUNT),
        ([("_summary", "true")], "summary", SummaryMode.TRUE),
        ([("_summary", "text")], "summary", SummaryMode.TEXT),
        ([("_summary", "data")], "summary", SummaryMode.DATA),
        ([("_summary", "false")], "summary", SummaryMode.FALSE),
        ([("_total", "none")], "total", TotalMode.NONE),
        ([("_total", "estimate")], "total", TotalMode.ESTIMATE),
        ([("_total", "accurate")], "total", TotalMode.ACCURATE),
        ([], "total", None),
        (
            [("_elements", "name,id"), ("_elements", "birthDate,name")],
            "elements",
            ("birthDate", "id", "name"),
        ),
        (
            [("_sort", "-birthdate,_id,name")],
            "sort",
            (SortKey("birthdate", D, True), SortKey("_id", T), SortKey("name", S)),
        ),
        (
            [("_sort", "_lastUpdated,-gender,_lastUpdated")],
            "sort",
            (SortKey("_lastUpdated", D), SortKey("gender", T, True)),
        ),
        ([("_include", "Patient:organization")], "includes", (Include("Patient", "organization"),)),
        (
            [("_include", "Patient:general-practitioner:Practitioner")],
            "includes",
            (Include("Patient", "general-practitioner", "Practitioner"),),
        ),
        (
            [("_include:iterate", "Observation:performer"), ("_include", "Patient:organization")],
            "includes",
            (Include("Patient", "organization"), Include("Observation", "performer", iterate=True)),
        ),
        (
            [("_include:recurse", "Organization:partof")],
            "includes",
            (Include("Organization", "partof", iterate=True),),
        ),
        (
            [("_revinclude", "Observation:subject")],
            "revincludes",
            (Include("Observation", "subject", reverse=True),),
        ),
        (
            [("_revinclude", "Observation:subject:Patient")],
            "revincludes",
            (Include("Observation", "subject", "Patient", reverse=True),),
        ),
        (
            [("_revinclude:iterate", "Observation:has-member")],
            "revincludes",
            (Include("Observation", "has-member", iterate=True, reverse=True),),
        ),
    ],
)
def test_result_parameters(params: list[tuple[str, str]], attr: str, expected: object) -> None:
    q = parse_search("Patient", params, REG)
    assert getattr(q, attr) == expected
    assert parse_search("Patient", q.to_params(), REG) == q


def test_count_limits_are_configurable() -> None:
    assert parse("Patient", default_count=7).count == 7
    assert parse("Patient", ("_count", "60"), max_count=50).count == 50


def test_to_params_is_canonical() -> None:
    q = parse(
        "Observation",
        ("_count", "10"),
        ("subject:Patient", "p1"),
        ("_revinclude", "Provenance:target"),
        ("code", "http://loinc.org|8867-4,x"),
        ("date", "eq2024"),
        ("_offset", "10"),
        ("_sort", "-date"),
        ("_total", "none"),
        ("_summary", "data"),
        ("_elements", "status,code"),
        ("_include", "Observation:subject"),
        ("patient.name", "山田"),
        ("_format", "json"),
    )
    assert q.to_params() == [
        ("code", "http://loinc.org|8867-4,x"),
        ("date", "2024"),
        ("patient:Patient.name", "山田"),
        ("subject", "Patient/p1"),
        ("_include", "Observation:subject"),
        ("_revinclude", "Provenance:target"),
        ("_sort", "-date"),
        ("_summary", "data"),
        ("_elements", "code,status"),
        ("_total", "none"),
        ("_count", "10"),
        ("_offset", "10"),
    ]
    assert q.with_offset(20).to_params()[-1] == ("_offset", "20")
    assert ("_offset", "0") not in q.with_offset(-5).to_params()


def test_query_is_hashable() -> None:
    q1 = parse("Patient", ("name", "a"), ("_include", "Patient:organization"))
    q2 = parse("Patient", ("_include", "Patient:organization"), ("name", "a"))
    assert hash(q1) == hash(q2)
    assert len({q1, q2}) == 1
    assert parse("Patient", ("_summary", "count")).count_only


# Refusals --------------------------------------------------------------------------------------

ERRORS: list[tuple[str, list[tuple[str, str]], IssueType, str]] = [
    ("Patient", [("foo", "x")], IssueType.NOT_SUPPORTED, "foo"),
    ("Patient", [("name:bogus", "x")], IssueType.NOT_SUPPORTED, "name:bogus"),
    ("Patient", [("name:not", "x")], IssueType.NOT_SUPPORTED, "name:not"),
    ("Patient", [("gender:exact", "x")], IssueType.NOT_SUPPORTED, "gender:exact"),
    ("Patient", [("gender:in", "http://vs")], IssueType.NOT_SUPPORTED, "gender:in"),
    ("Patient", [("birthdate:exact", "2000")], IssueType.NOT_SUPPORTED, "birthdate:exact"),
    ("Patient", [("_id:text", "x")], IssueType.NOT_SUPPORTED, "_id:text"),
    ("Patient", [("_profile:above", "http://p")], IssueType.NOT_SUPPORTED, "_profile:above"),
    ("Patient", [("_text", "x")], IssueType.NOT_SUPPORTED, "_text"),
    (
        "Patient",
        [("_has:Observation:subject:code", "x")],
        IssueType.NOT_SUPPORTED,
        "_has:Observation:subject:code",
    ),
    ("Observation", [("subject:identifier", "s|1")], IssueType.NOT_SUPPORTED, "subject:identifier"),
    ("Observation", [("value-quantity", "5")], IssueType.NOT_SUPPORTED, "value-quantity"),
    (
        "Observation",
        [("subject:Patient.organization.name", "x")],
        IssueType.NOT_SUPPORTED,
        "subject:Patient.organization.name",
    ),
    ("Observation", [("subject:Patient.foo", "x")], IssueType.NOT_SUPPORTED, "subject:Patient.foo"),
    ("Observation", [("patient.nothing", "x")], IssueType.NOT_SUPPORTED, "patient.nothing"),
    ("Observation", [("subject.name", "x")], IssueType.INVALID, "subject.name"),  # ambiguous
    (
        "Observation",
        [("subject:Practitioner.name", "x")],
        IssueType.INVALID,
        "subject:Practitioner.name",
    ),
    ("Observation", [("code.name", "x")], IssueType.INVALID, "code.name"),
    ("Patient", [("_include", "*")], IssueType.NOT_SUPPORTED, "_include"),
    ("Patient", [("_include", "Patient:*")], IssueType.NOT_SUPPORTED, "_include"),
    (
        "Patient",
        [("_include:deep", "Patient:organization")],
        IssueType.NOT_SUPPORTED,
        "_include:deep",
    ),
    ("Patient", [("_sort", "foo")], IssueType.NOT_SUPPORTED, "_sort"),
    ("Patient", [("_sort", "organization")], IssueType.NOT_SUPPORTED, "_sort"),
    # malformed values: refused even when lenient
    ("Patient", [("birthdate", "1980-13")], IssueType.INVALID, "birthdate"),
    ("Patient", [("birthdate", "xx1980")], IssueType.INVALID, "birthdate"),
    ("Patient", [("birthdate", "yesterday")], IssueType.INVALID, "birthdate"),
    ("Patient", [("_lastUpdated", "gt2020-02-30")], IssueType.INVALID, "_lastUpdated"),
    ("Patient", [("name:missing", "yes")], IssueType.INVALID, "name:missing"),
    ("Patient", [("_id", "a|b")], IssueType.INVALID, "_id"),
    ("Patient", [("_count", "-1")], IssueType.INVALID, "_count"),
    ("Patient", [("_count", "abc")], IssueType.INVALID, "_count"),
    ("Patient", [("_count", "1.5")], IssueType.INVALID, "_count"),
    ("Patient", [("_count", "1"), ("_count", "2")], IssueType.INVALID, "_count"),
    ("Patient", [("_offset", "-3")], IssueType.INVALID, "_offset"),
    ("Patient", [("_summary", "some")], IssueType.INVALID, "_summary"),
    ("Patient", [("_total", "all")], IssueType.INVALID, "_total"),
    ("Patient", [("_elements", "name,1x")], IssueType.INVALID, "_elements"),
    ("Patient", [("_sort", "-")], IssueType.INVALID, "_sort"),
    ("Observation", [("subject", "Practitioner/1")], IssueType.INVALID, "subject"),
    ("Observation", [("subject:Patient", "Group/1")], IssueType.INVALID, "subject:Patient"),
    ("Observation", [("subject", "a/b/c")], IssueType.INVALID, "subject"),
    ("Observation", [("subject", "#contained")], IssueType.INVALID, "subject"),
    ("Patient", [("_include", "Patient")], IssueType.INVALID, "_include"),
    ("Patient", [("_include", "Nope:subject")], IssueType.INVALID, "_include"),
    ("Patient", [("_include", "Patient:name")], IssueType.INVALID, "_include"),
    ("Patient", [("_include", "Patient:organization:Patient")], IssueType.INVALID, "_include"),
    ("Patient", [("_include", "Observation:subject")], IssueType.INVALID, "_include"),
    ("Patient", [("_revinclude", "Observation:encounter")], IssueType.INVALID, "_revinclude"),
    ("Patient", [("_revinclude", "Observation:subject:Group")], IssueType.INVALID, "_revinclude"),
]


@pytest.mark.parametrize(
    ("rtype", "params", "code", "expression"), ERRORS, ids=lambda x: str(x)[:40]
)
def test_refusals(
    rtype: str, params: list[tuple[str, str]], code: IssueType, expression: str
) -> None:
    with pytest.raises(FhirError) as info:
        parse_search(rtype, params, REG)
    err = info.value
    assert err.status == 400
    assert [(i.code, i.expression) for i in err.issues] == [(code, (expression,))]
    assert err.outcome["issue"][0]["expression"] == [expression]
    if code is IssueType.INVALID:  # a bad value stays an error under handling=lenient
        with pytest.raises(FhirError):
            parse_search(rtype, params, REG, lenient=True)
    else:  # an unknown or unsupported parameter is dropped with a warning
        q = parse_search(rtype, params, REG, lenient=True)
        assert q.criteria == () and q.sort == () and q.includes == ()
        assert q.ignored == (expression,)
        assert [(i.severity, i.code, i.expression) for i in q.warnings] == [
            (IssueSeverity.WARNING, IssueType.NOT_SUPPORTED, (expression,))
        ]


def test_lenient_keeps_the_rest_and_ignored_does_not_affect_equality() -> None:
    q = parse("Patient", ("foo", "1"), ("name", "a"), ("_sort", "bar,-name"), lenient=True)
    assert q.criteria == (Criterion("name", S, (sv("a"),)),)
    assert q.sort == (SortKey("name", S, True),)
    assert q.ignored == ("foo", "_sort")
    assert [i.expression for i in q.warnings] == [("foo",), ("_sort",)]
    assert "bar" in q.warnings[1].diagnostics
    assert q == parse("Patient", ("name", "a"), ("_sort", "-name"))
    assert parse_search("Patient", q.to_params(), REG) == q


def test_ambiguous_chain_asks_for_a_type_modifier() -> None:
    with pytest.raises(FhirError) as info:
        parse("Observation", ("subject.name", "山田"))
    assert "subject:Patient.name" in info.value.issues[0].diagnostics


# Escaping helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("a,b", ["a", "b"]),
        (r"a\,b", [r"a\,b"]),
        (r"a\\,b", ["a\\\\", "b"]),
        ("a,", ["a", ""]),
        ("\\", ["\\"]),
    ],
)
def test_split_unescaped(text: str, pieces: list[str]) -> None:
    assert split_unescaped(text, ",") == pieces


@given(st.text())
def test_escape_round_trips(text: str) -> None:
    assert split_unescaped(escape(text), ",") == [escape(text)]
    assert unescape(escape(text)) == text


# Round trip: parse(q.to_params()) == q ---------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("ab ,|$\\やヤ山ＡＢ-:/")), min_size=1, max_size=8)
_DATES = st.sampled_from(
    ["1980", "1980-05", "1980-05-10", "2024-03-15T10:00:00Z", "2024-03-15T10:00:00.5+09:00"]
)
_PREFIX = st.sampled_from(["", *[str(p) for p in Prefix]])


def _raw_values(item: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(item, min_size=1, max_size=3).map(",".join)


_PARAM = st.one_of(
    st.tuples(
        st.sampled_from(["name", "name:exact", "name:contains", "family", "given"]),
        _raw_values(_TEXT.map(escape)),
    ),
    st.tuples(st.sampled_from(["name", "family"]), _TEXT),  # unescaped text parses too
    st.tuples(
        st.sampled_from(["identifier", "gender", "gender:not"]),
        _raw_values(
            st.tuples(st.one_of(st.none(), _TEXT), _TEXT).map(
                lambda sc: escape(sc[1]) if sc[0] is None else f"{escape(sc[0])}|{escape(sc[1])}"
            )
        ),
    ),
    st.tuples(
        st.sampled_from(["_id", "_id:not"]),
        _raw_values(st.from_regex(r"[A-Za-z0-9.\-]{1,10}", fullmatch=True)),
    ),
    st.tuples(
        st.sampled_from(["birthdate", "_lastUpdated", "death-date"]),
        _raw_values(st.tuples(_PREFIX, _DATES).map("".join)),
    ),
    st.tuples(
        st.sampled_from(["name:missing", "birthdate:missing", "organization:missing"]),
        st.sampled_from(["true", "false", "true,false"]),
    ),
    st.tuples(
        st.sampled_from(["organization", "organization:Organization", "general-practitioner"]),
        _raw_values(
            st.sampled_from(
                [
                    "o1",
                    "Organization/o2",
                    "https://x.example/Organization/3",
                    "urn:uuid:1234",
                    "Organization/o2/_history/1",
                ]
            )
        ),
    ),
    st.tuples(
        st.sampled_from(
            [
                "organization.name",
                "organization:Organization.name:exact",
                "general-practitioner:Practitioner.family",
            ]
        ),
        _raw_values(_TEXT.map(escape)),
    ),
    st.tuples(st.just("_count"), st.integers(0, 1500).map(str)),
    st.tuples(st.just("_offset"), st.integers(0, 10**6).map(str)),
    st.tuples(
        st.just("_sort"),
        st.lists(
            st.sampled_from(
                ["name", "-name", "birthdate", "-birthdate", "_id", "-_lastUpdated", "gender"]
            ),
            min_size=1,
            max_size=3,
        ).map(",".join),
    ),
    st.tuples(st.just("_summary"), st.sampled_from([str(m) for m in SummaryMode])),
    st.tuples(st.just("_total"), st.sampled_from([str(m) for m in TotalMode])),
    st.tuples(st.just("_elements"), st.sampled_from(["name", "id,name", "birthDate"])),
    st.tuples(
        st.sampled_from(["_include", "_include:iterate"]),
        st.sampled_from(["Patient:organization", "Patient:general-practitioner:Practitioner"]),
    ),
    st.tuples(
        st.sampled_from(["_revinclude", "_revinclude:iterate"]),
        st.sampled_from(["Observation:subject", "Observation:patient:Patient"]),
    ),
    st.tuples(st.sampled_from(["bogus", "name:bogus", "_format"]), st.just("x")),
)
_SINGLE = {"_count", "_offset", "_sort", "_summary", "_total"}


def _well_formed(params: list[tuple[str, str]]) -> bool:
    names = [n for n, _ in params if n in _SINGLE]
    return len(names) == len(set(names))


@settings(max_examples=300, deadline=None)
@given(st.lists(_PARAM, max_size=8).filter(_well_formed))
def test_to_params_round_trips(params: list[tuple[str, str]]) -> None:
    q = parse_search("Patient", params, REG, lenient=True)
    again = parse_search("Patient", q.to_params(), REG)  # strict: nothing unknown remains
    assert again == q
    assert hash(again) == hash(q)
    assert again.to_params() == q.to_params()
