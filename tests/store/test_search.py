"""hub.store.search over a real database (SQLite, and PostgreSQL when configured).

One small dataset per backend: Japanese patients with kanji and kana names, observations
pointing at them, an organization, a practitioner and a deleted patient.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, Select, select

from hub.fhir.search import SearchQuery, parse_search
from hub.fhir.searchparams import default_registry
from hub.store.records import micros_to_instant
from hub.store.schema import idx_compartment, resource
from hub.store.search import SearchPage, count_search, match_rids, run_search

HOUR = 3_600_000_000
T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
JP_MRN = "urn:oid:1.2.392.100495.20.3.51.1"
LOINC = "http://loinc.org"

PATIENTS: list[tuple[dict[str, Any], int]] = [
    (
        {
            "resourceType": "Patient",
            "id": "yamada-taro",
            "name": [
                {"use": "official", "family": "山田", "given": ["太郎"]},
                {"use": "usual", "family": "ヤマダ", "given": ["タロウ"]},
            ],
            "gender": "male",
            "birthDate": "1980-05-10",
            "identifier": [{"system": JP_MRN, "value": "12345"}],
            "managingOrganization": {"reference": "Organization/org1"},
        },
        T0 + 1 * HOUR,
    ),
    (
        {
            "resourceType": "Patient",
            "id": "yamada-hanako",
            "name": [
                {"family": "山田", "given": ["花子"]},
                {"family": "ヤマダ", "given": ["ハナコ"]},
            ],
            "gender": "female",
            "birthDate": "1990",
            "identifier": [{"system": JP_MRN, "value": "67890"}],
        },
        T0 + 2 * HOUR,
    ),
    (
        {
            "resourceType": "Patient",
            "id": "suzuki",
            "name": [
                {"family": "鈴木", "given": ["一郎"]},
                {"family": "スズキ", "given": ["イチロウ"]},
            ],
            "gender": "male",
            "birthDate": "1975-12-31",
            "generalPractitioner": [{"reference": "Practitioner/pr1"}],
        },
        T0 + 3 * HOUR,
    ),
    (
        {
            "resourceType": "Patient",
            "id": "smith",
            "name": [{"family": "Smith", "given": ["John"]}],
            "gender": "other",
            "birthDate": "2001-02",
            "identifier": [{"value": "local-1"}],
        },
        T0 + 3 * HOUR,  # same instant as suzuki: rid breaks the tie
    ),
    (
        {"resourceType": "Patient", "id": "ono", "name": [{"family": "Ōno", "given": ["ＫＥＮ"]}]},
        T0 + 4 * HOUR,
    ),
]
OTHERS: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "org1", "name": "地域生活支援拠点 さくら"},
    {"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "田中", "given": ["進"]}]},
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": "Patient/yamada-taro"},
        "effectiveDateTime": "2024-03-15T10:00:00Z",
        "performer": [{"reference": "Practitioner/pr1"}],
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "preliminary",
        "code": {"coding": [{"system": LOINC, "code": "8310-5", "display": "Body temperature"}]},
        "subject": {"reference": "Patient/yamada-hanako"},
        "effectivePeriod": {"start": "2024-03-01", "end": "2024-03-31"},
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "code": {"coding": [{"system": "http://hub.example/cs", "code": "abc", "display": "体温"}]},
        "subject": {"reference": "Patient/suzuki"},
        "effectiveDateTime": "2023",
    },
    {
        "resourceType": "Observation",
        "id": "o4",
        "status": "final",
        "code": {"coding": [{"code": "x"}]},
        "subject": {"reference": "Patient/yamada-taro"},
        "hasMember": [{"reference": "Observation/o1"}],
        "effectiveDateTime": "2024-04-01",
    },
    {
        "resourceType": "Observation",
        "id": "o5",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": "https://other.example/fhir/Patient/ext1"},
    },
    {"resourceType": "Observation", "id": "o6", "status": "registered", "code": {"text": "メモ"}},
    {
        "resourceType": "Observation",
        "id": "o7",
        "status": "final",
        "code": {"text": "deleted patient's"},
        "subject": {"reference": "Patient/ghost"},
    },
]
GHOST = {"resourceType": "Patient", "id": "ghost", "name": [{"family": "山田", "given": ["幽"]}]}


@pytest.fixture(scope="module")
def db(engine: Engine, store_resource: Any) -> Engine:
    with engine.begin() as conn:
        for res, updated in PATIENTS:
            store_resource(conn, res, last_updated=updated)
        store_resource(conn, GHOST, last_updated=T0 + 5 * HOUR, deleted=True)
        for i, res in enumerate(OTHERS):
            store_resource(conn, res, last_updated=T0 + (10 + i) * HOUR)
    return engine


def query(rtype: str, *params: tuple[str, str]) -> SearchQuery:
    return parse_search(rtype, list(params), default_registry())


def search(
    db: Engine, rtype: str, *params: tuple[str, str], restrict: Select[Any] | None = None
) -> SearchPage:
    with db.connect() as conn:
        return run_search(conn, query(rtype, *params), restrict_rids=restrict)


def ids(db: Engine, rtype: str, *params: tuple[str, str], **kw: Any) -> list[str]:
    return [r.res_id for r in search(db, rtype, *params, **kw).matches]


def id_set(db: Engine, rtype: str, *params: tuple[str, str], **kw: Any) -> set[str]:
    return set(ids(db, rtype, *params, **kw))


def included(page: SearchPage) -> list[str]:
    return [r.reference for r in page.included]


def visible_except(*res_ids: str) -> Select[Any]:
    return select(resource.c.rid).where(resource.c.res_id.not_in(res_ids))


TARO, HANAKO, SUZUKI, SMITH, ONO = "yamada-taro", "yamada-hanako", "suzuki", "smith", "ono"
YAMADAS = {TARO, HANAKO}

# String (search.html#string) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("name", "やまだ")], YAMADAS),  # hiragana finds the katakana name
        ([("name", "ヤマダ")], YAMADAS),
        ([("name", "ﾔﾏﾀﾞ")], YAMADAS),  # half-width kana
        ([("name", "山田")], YAMADAS),  # the deleted 山田 is not found
        ([("name", "山田太")], {TARO}),  # the whole name, without spaces
        ([("name", "山田 太郎")], {TARO}),  # … and with
        ([("name", "たろう")], {TARO}),
        ([("family", "ono")], {ONO}),  # accent-insensitive
        ([("given", "ken")], {ONO}),  # width- and case-insensitive
        ([("family", "SMI")], {SMITH}),
        ([("name", "やまだ,すずき")], YAMADAS | {SUZUKI}),  # OR
        ([("name", "やまだ"), ("given", "はなこ")], {HANAKO}),  # AND
        ([("name", "まだ")], set()),  # starts-with, not contains
        ([("name:exact", "山田")], YAMADAS),
        ([("name:exact", "やまだ")], set()),
        ([("family:exact", "Smith")], {SMITH}),
        ([("family:exact", "smith")], set()),
        ([("family:exact", "Ōno")], {ONO}),
        ([("name:contains", "まだ")], YAMADAS),
        ([("given:contains", "ロウ")], {TARO, SUZUKI}),
        ([("name:contains", "MIT")], {SMITH}),
        ([("name:contains", "%")], set()),  # LIKE wildcards are escaped
        ([("name", "_")], set()),
        ([("family:missing", "false")], {TARO, HANAKO, SUZUKI, SMITH, ONO}),
        ([("birthdate:missing", "true")], {ONO}),
        ([("birthdate:missing", "false")], {TARO, HANAKO, SUZUKI, SMITH}),
    ],
)
def test_string(db: Engine, params: list[tuple[str, str]], expected: set[str]) -> None:
    assert id_set(db, "Patient", *params) == expected


# Token (search.html#token) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "params", "expected"),
    [
        ("Patient", [("gender", "male")], {TARO, SUZUKI}),
        ("Patient", [("gender", "male,female")], {TARO, SUZUKI, HANAKO}),
        ("Patient", [("gender:not", "male")], {HANAKO, SMITH, ONO}),  # incl. no gender
        ("Patient", [("gender:not", "male,female")], {SMITH, ONO}),
        ("Patient", [("gender:missing", "true")], {ONO}),
        ("Patient", [("identifier", f"{JP_MRN}|12345")], {TARO}),
        ("Patient", [("identifier", "12345")], {TARO}),
        ("Patient", [("identifier", "|12345")], set()),
        ("Patient", [("identifier", "|local-1")], {SMITH}),
        ("Patient", [("identifier", f"{JP_MRN}|")], {TARO, HANAKO}),
        ("Patient", [("identifier", "http://other|12345")], set()),
        ("Patient", [("_id", f"{TARO},{SUZUKI}")], {TARO, SUZUKI}),
        ("Patient", [("_id:not", TARO)], {HANAKO, SUZUKI, SMITH, ONO}),
        ("Patient", [("_id", "ghost")], set()),
        ("Observation", [("code", f"{LOINC}|8867-4")], {"o1", "o5"}),
        ("Observation", [("code", "8867-4")], {"o1", "o5"}),
        ("Observation", [("code", "|x")], {"o4"}),
        ("Observation", [("code", f"{LOINC}|")], {"o1", "o2", "o5"}),
        ("Observation", [("code:text", "heart")], {"o1", "o5"}),
        ("Observation", [("code:text", "RATE")], {"o1", "o5"}),
        ("Observation", [("code:text", "体温")], {"o3"}),
        ("Observation", [("code:text", "めも")], {"o6"}),
        ("Observation", [("status:not", "final")], {"o2", "o6"}),
    ],
)
def test_token(db: Engine, rtype: str, params: list[tuple[str, str]], expected: set[str]) -> None:
    assert id_set(db, rtype, *params) == expected


# Date (search.html#date, #prefix) ---------------------------------------------------------------
# birthDate: taro 1980-05-10, hanako 1990 (the whole year), suzuki 1975-12-31, smith 2001-02


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1980", {TARO}),
        ("eq1980-05", {TARO}),
        ("1980-05-10", {TARO}),
        ("1990", {HANAKO}),
        ("1990-06", set()),  # June does not contain the whole of 1990
        ("ne1980", {HANAKO, SUZUKI, SMITH}),
        ("ne1990-06", {TARO, HANAKO, SUZUKI, SMITH}),
        ("lt1980", {SUZUKI}),
        ("lt1990-06", {TARO, SUZUKI, HANAKO}),  # 1990 starts before June
        ("gt1990", {SMITH}),
        ("gt1990-06", {HANAKO, SMITH}),  # 1990 ends after June
        ("ge1990", {HANAKO, SMITH}),
        ("ge1990-06", {HANAKO, SMITH}),
        ("le1980-05-10", {TARO, SUZUKI}),
        ("le1990-06", {TARO, SUZUKI, HANAKO}),
        ("sa1990-06", {SMITH}),  # 1990 overlaps June: not strictly after
        ("sa1980", {HANAKO, SMITH}),
        ("eb1980", {SUZUKI}),
        ("eb1990-06", {TARO, SUZUKI}),
        ("ap1980-05", {TARO}),
        ("1976-01-01", set()),
        ("ap1976-01-01", {SUZUKI}),  # ±2.4 h reaches 1975-12-31
        ("1980,2001", {TARO, SMITH}),
        ("ge1980-01-01T00:00:00+09:00", {TARO, HANAKO, SMITH}),
    ],
)
def test_birthdate(db: Engine, value: str, expected: set[str]) -> None:
    assert id_set(db, "Patient", ("birthdate", value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # o1 2024-03-15T10:00:00Z, o2 Period 2024-03-01..2024-03-31, o3 2023, o4 2024-04-01
        ("2024-03", {"o1", "o2"}),
        ("2024-03-15", {"o1"}),
        ("ge2024-03-15", {"o1", "o2", "o4"}),
        ("gt2024-03-15", {"o2", "o4"}),
        ("lt2024-03-15", {"o2", "o3"}),
        ("le2024-03-15", {"o1", "o2", "o3"}),
        ("sa2023", {"o1", "o2", "o4"}),
        ("eb2024", {"o3"}),
        ("ne2024-03", {"o3", "o4"}),
        ("2024-03-15T19:00:00+09:00", {"o1"}),
        ("2024-03-15T10:00:01Z", set()),
    ],
)
def test_observation_date(db: Engine, value: str, expected: set[str]) -> None:
    assert id_set(db, "Observation", ("date", value)) == expected


def test_date_range_parameters_are_anded(db: Engine) -> None:
    params = [("birthdate", "ge1976"), ("birthdate", "lt2000")]
    assert id_set(db, "Patient", *params) == {TARO, HANAKO}


def test_last_updated(db: Engine) -> None:
    at = micros_to_instant(T0 + 3 * HOUR)
    assert id_set(db, "Patient", ("_lastUpdated", at)) == {SUZUKI, SMITH}
    assert id_set(db, "Patient", ("_lastUpdated", "ge" + at)) == {SUZUKI, SMITH, ONO}
    assert id_set(db, "Patient", ("_lastUpdated", "lt" + at)) == YAMADAS
    assert id_set(db, "Patient", ("_lastUpdated", "gt2099")) == set()
    assert len(id_set(db, "Patient", ("_lastUpdated", "2023"))) == 5


# Reference (search.html#reference) and chains (#chaining) ----------------------------------------


@pytest.mark.parametrize(
    ("rtype", "params", "expected"),
    [
        ("Observation", [("subject", f"Patient/{TARO}")], {"o1", "o4"}),
        ("Observation", [("subject", TARO)], {"o1", "o4"}),
        ("Observation", [("subject:Patient", TARO)], {"o1", "o4"}),
        ("Observation", [("subject", f"Patient/{TARO}/_history/3")], {"o1", "o4"}),
        ("Observation", [("subject", f"Patient/{TARO},Patient/{SUZUKI}")], {"o1", "o3", "o4"}),
        ("Observation", [("subject:Group", TARO)], set()),
        ("Observation", [("patient", f"Patient/{HANAKO}")], {"o2"}),
        ("Observation", [("subject", "https://other.example/fhir/Patient/ext1")], {"o5"}),
        ("Observation", [("subject:missing", "true")], {"o6"}),
        ("Observation", [("performer:missing", "false")], {"o1"}),
        ("Observation", [("has-member", "Observation/o1")], {"o4"}),
        ("Patient", [("organization", "Organization/org1")], {TARO}),
        ("Patient", [("general-practitioner", "pr1")], {SUZUKI}),
        # chains: the target must match (and exist, not deleted)
        ("Observation", [("patient.name", "やまだ")], {"o1", "o2", "o4"}),
        ("Observation", [("subject:Patient.name", "鈴木")], {"o3"}),
        ("Observation", [("subject:Patient.name", "山田")], {"o1", "o2", "o4"}),  # not o7
        ("Observation", [("subject:Patient.name:exact", "ヤマダ")], {"o1", "o2", "o4"}),
        ("Observation", [("subject:Patient.birthdate", "lt1980")], {"o3"}),
        ("Observation", [("subject:Patient.gender", "female")], {"o2"}),
        ("Observation", [("subject:Patient._id", SUZUKI)], {"o3"}),
        ("Observation", [("subject:Patient.name", "やまだ"), ("code", "8867-4")], {"o1"}),
        ("Patient", [("organization.name", "地域")], {TARO}),
        ("Patient", [("general-practitioner:Practitioner.name", "田中")], {SUZUKI}),
    ],
)
def test_reference(
    db: Engine, rtype: str, params: list[tuple[str, str]], expected: set[str]
) -> None:
    assert id_set(db, rtype, *params) == expected


# Ordering and paging (search.html#sort, http.html#paging) ---------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, [ONO, SUZUKI, SMITH, HANAKO, TARO]),  # _lastUpdated desc, then rid
        ("_lastUpdated", [TARO, HANAKO, SUZUKI, SMITH, ONO]),
        ("-_lastUpdated", [ONO, SUZUKI, SMITH, HANAKO, TARO]),
        ("_id", sorted([TARO, HANAKO, SUZUKI, SMITH, ONO])),
        ("-_id", sorted([TARO, HANAKO, SUZUKI, SMITH, ONO], reverse=True)),
        ("birthdate", [SUZUKI, TARO, HANAKO, SMITH, ONO]),  # no value: last
        ("-birthdate", [SMITH, HANAKO, TARO, SUZUKI, ONO]),  # … also descending
        ("gender", [HANAKO, TARO, SUZUKI, SMITH, ONO]),  # male tie → rid
        ("-gender", [SMITH, TARO, SUZUKI, HANAKO, ONO]),
        ("gender,birthdate", [HANAKO, SUZUKI, TARO, SMITH, ONO]),
        ("gender,-_id", [HANAKO, TARO, SUZUKI, SMITH, ONO]),
        ("family", [ONO, SMITH, SUZUKI, TARO, HANAKO]),  # least value: スズキ < ヤマダ
    ],
)
def test_sort(db: Engine, sort: str | None, expected: list[str]) -> None:
    params = [("_sort", sort)] if sort else []
    assert ids(db, "Patient", *params) == expected


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("sort", [None, "gender", "-birthdate"])
def test_paging_has_no_gaps_or_duplicates(db: Engine, count: int, sort: str | None) -> None:
    base = [("_sort", sort)] if sort else []
    everything = ids(db, "Patient", *base)
    q = query("Patient", *base, ("_count", str(count)))
    seen: list[str] = []
    with db.connect() as conn:
        while True:
            page = run_search(conn, q)
            assert page.offset == q.offset and page.count == count and page.total == 5
            assert len(page.matches) <= count
            seen += [r.res_id for r in page.matches]
            if not page.has_next:
                break
            q = parse_search(
                "Patient", q.with_offset(q.offset + count).to_params(), default_registry()
            )
    assert seen == everything


def test_count_zero_and_offset_past_the_end(db: Engine) -> None:
    page = search(db, "Patient", ("_count", "0"))
    assert (page.matches, page.total, page.has_next) == ([], 5, False)
    page = search(db, "Patient", ("_offset", "100"))
    assert (page.matches, page.total, page.has_next) == ([], 5, False)


def test_summary_count_and_total(db: Engine) -> None:
    page = search(
        db,
        "Patient",
        ("name", "やまだ"),
        ("_summary", "count"),
        ("_include", "Patient:organization"),
    )
    assert (page.matches, page.included, page.total) == ([], [], 2)
    assert search(db, "Patient", ("name", "やまだ")).total == 2
    assert search(db, "Patient", ("name", "やまだ"), ("_total", "accurate")).total == 2
    assert search(db, "Patient", ("name", "やまだ"), ("_total", "estimate")).total == 2
    page = search(db, "Patient", ("name", "やまだ"), ("_total", "none"))
    assert page.total is None and len(page.matches) == 2
    with db.connect() as conn:
        assert count_search(conn, query("Patient")) == 5
        assert count_search(conn, query("Observation", ("status", "final"))) == 5
        assert count_search(conn, query("Patient"), restrict_rids=visible_except(SMITH)) == 4
        rids = conn.execute(match_rids(conn, query("Patient", ("gender", "male")))).scalars()
        assert len(list(rids)) == 2


def test_matches_are_stored_resources(db: Engine) -> None:
    (match,) = search(db, "Patient", ("_id", TARO)).matches
    assert match.reference == f"Patient/{TARO}"
    assert match.version_id == 1 and not match.deleted
    assert match.last_updated == T0 + HOUR
    assert match.content is not None and "山田".encode() in match.content


# _include / _revinclude (search.html#include, #revinclude) ---------------------------------------


@pytest.mark.parametrize(
    ("rtype", "params", "matches", "expected"),
    [
        (
            "Observation",
            [("_id", "o1"), ("_include", "Observation:subject")],
            ["o1"],
            [f"Patient/{TARO}"],
        ),
        (
            "Observation",
            [("_id", "o1"), ("_include", "Observation:performer:Practitioner")],
            ["o1"],
            ["Practitioner/pr1"],
        ),
        (
            "Observation",
            [("_id", "o1"), ("_include", "Observation:performer:Organization")],
            ["o1"],
            [],
        ),
        (  # the patient of two matches is included once
            "Observation",
            [("subject", f"Patient/{TARO}"), ("_include", "Observation:subject"), ("_sort", "_id")],
            ["o1", "o4"],
            [f"Patient/{TARO}"],
        ),
        (  # a target that is also a match is not repeated
            "Observation",
            [("_id", "o1,o4"), ("_include", "Observation:has-member"), ("_sort", "_id")],
            ["o1", "o4"],
            [],
        ),
        (
            "Observation",
            [("_id", "o7"), ("_include", "Observation:subject")],
            ["o7"],
            [],
        ),  # deleted
        (
            "Patient",
            [("_id", TARO), ("_revinclude", "Observation:subject")],
            [TARO],
            ["Observation/o1", "Observation/o4"],
        ),
        (
            "Patient",
            [("_id", TARO), ("_revinclude", "Observation:subject:Patient")],
            [TARO],
            ["Observation/o1", "Observation/o4"],
        ),
        (
            "Observation",
            [("_id", "o1"), ("_revinclude:iterate", "Observation:has-member")],
            ["o1"],
            ["Observation/o4"],
        ),
        (  # :iterate goes one level further, over what was included
            "Observation",
            [
                ("_id", "o1"),
                ("_include", "Observation:subject"),
                ("_include:iterate", "Patient:organization"),
            ],
            ["o1"],
            [f"Patient/{TARO}", "Organization/org1"],
        ),
        (
            "Patient",
            [
                ("_id", TARO),
                ("_revinclude", "Observation:subject"),
                ("_include:iterate", "Observation:performer"),
            ],
            [TARO],
            ["Observation/o1", "Observation/o4", "Practitioner/pr1"],
        ),
        (  # without :iterate, nothing is included from included resources
            "Patient",
            [
                ("_id", TARO),
                ("_revinclude", "Observation:subject"),
                ("_include", "Patient:organization"),
            ],
            [TARO],
            ["Organization/org1", "Observation/o1", "Observation/o4"],
        ),
    ],
)
def test_include(
    db: Engine,
    rtype: str,
    params: list[tuple[str, str]],
    matches: list[str],
    expected: list[str],
) -> None:
    page = search(db, rtype, *params)
    assert [r.res_id for r in page.matches] == matches
    assert sorted(included(page)) == sorted(expected)


def test_includes_follow_the_page(db: Engine) -> None:
    params = [("subject", f"Patient/{TARO}"), ("_sort", "_id"), ("_count", "1")]
    params.append(("_include", "Observation:performer"))
    first = search(db, "Observation", *params)
    assert ([r.res_id for r in first.matches], included(first)) == (["o1"], ["Practitioner/pr1"])
    second = search(db, "Observation", *params, ("_offset", "1"))
    assert ([r.res_id for r in second.matches], included(second)) == (["o4"], [])


# restrict_rids: the consent gate's hook ----------------------------------------------------------


def test_restrict_rids_bounds_matches_and_total(db: Engine) -> None:
    page = search(db, "Patient", ("name", "やまだ"), restrict=visible_except(HANAKO))
    assert [r.res_id for r in page.matches] == [TARO]
    assert page.total == 1


def test_restrict_rids_hides_chained_targets(db: Engine) -> None:
    chained = ("subject:Patient.name", "鈴木")
    assert ids(db, "Observation", chained) == ["o3"]
    # o3 itself is visible, but matching it would reveal that 鈴木's record exists
    assert ids(db, "Observation", chained, restrict=visible_except(SUZUKI)) == []
    assert ids(
        db, "Observation", ("subject", f"Patient/{SUZUKI}"), restrict=visible_except(SUZUKI)
    ) == ["o3"]


def test_restrict_rids_bounds_includes(db: Engine) -> None:
    page = search(
        db,
        "Observation",
        ("_id", "o3"),
        ("_include", "Observation:subject"),
        restrict=visible_except(SUZUKI),
    )
    assert ([r.res_id for r in page.matches], page.included) == (["o3"], [])
    page = search(
        db,
        "Patient",
        ("_id", TARO),
        ("_revinclude", "Observation:subject"),
        restrict=visible_except("o4"),
    )
    assert included(page) == ["Observation/o1"]
    page = search(
        db,
        "Observation",
        ("_id", "o1"),
        ("_include", "Observation:subject"),
        ("_include:iterate", "Patient:organization"),
        restrict=visible_except("org1"),
    )
    assert included(page) == [f"Patient/{TARO}"]


def test_restrict_rids_may_join_other_tables(db: Engine) -> None:
    """A gate's SELECT that joins ``resource`` is used as is, never correlated into the query."""
    joined = (
        select(resource.c.rid)
        .select_from(resource.join(idx_compartment, idx_compartment.c.rid == resource.c.rid))
        .where(idx_compartment.c.patient_id == TARO)
    )
    # FROM resource, idx_compartment: SQLAlchemy would auto-correlate this one if embedded as is
    implicit = select(resource.c.rid).where(
        idx_compartment.c.rid == resource.c.rid, idx_compartment.c.patient_id == TARO
    )
    for taro_only in (joined, implicit):
        _check_taro_only(db, taro_only)


def _check_taro_only(db: Engine, taro_only: Select[Any]) -> None:
    assert id_set(db, "Observation", restrict=taro_only) == {"o1", "o4"}
    assert id_set(db, "Patient", restrict=taro_only) == {TARO}
    assert id_set(db, "Observation", ("patient.name", "やまだ"), restrict=taro_only) == {"o1", "o4"}
    assert id_set(db, "Observation", ("patient.name", "すずき"), restrict=taro_only) == set()
    page = search(
        db,
        "Patient",
        ("_id", TARO),
        ("_revinclude", "Observation:subject"),
        ("_include", "Patient:organization"),
        restrict=taro_only,
    )
    assert sorted(included(page)) == ["Observation/o1", "Observation/o4"]
    with db.connect() as conn:
        assert count_search(conn, query("Observation"), restrict_rids=taro_only) == 2
