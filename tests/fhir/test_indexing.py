"""hub.fhir.indexing: normalisation, date ranges, rows per datatype, Patient compartments."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.fhir.codes import SearchParamType
from hub.fhir.indexing import (
    MAX_US,
    MIN_US,
    DateRow,
    IndexRows,
    ReferenceRow,
    StringRow,
    TokenRow,
    compartment_params,
    date_range,
    index_resource,
    normalize_string,
)
from hub.fhir.searchparams import SearchParam, SearchParamRegistry, default_registry

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
IDE_URL = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
S, T, D, R = (
    SearchParamType.STRING,
    SearchParamType.TOKEN,
    SearchParamType.DATE,
    SearchParamType.REFERENCE,
)


def us(iso: str) -> int:
    """µs since the epoch of an ISO 8601 instant (independent oracle: datetime)."""
    return (datetime.fromisoformat(iso) - EPOCH) // timedelta(microseconds=1)


def registry(rtype: str, **params: tuple[SearchParamType, str]) -> SearchParamRegistry:
    """A registry with just ``params`` (code=(type, expression)) for ``rtype``."""
    reg = SearchParamRegistry()
    reg.by_type[rtype] = {
        code.replace("_", "-"): SearchParam(code.replace("_", "-"), t, rtype, expr)
        for code, (t, expr) in params.items()
    }
    return reg


# --- normalize_string ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("山田 太郎", "山田 太郎"),
        ("山田　太郎", "山田 太郎"),  # ideographic space U+3000
        ("  山田\u3000\u3000太郎\t\n", "山田 太郎"),
        ("やまだ たろう", "ヤマダ タロウ"),  # hiragana → katakana
        ("ヤマダ タロウ", "ヤマダ タロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),  # half-width kana, voiced mark recomposed
        ("ｶﾞｷﾞ", "ガギ"),
        ("がぎぐ", "ガギグ"),  # voicing kept: ガ ≠ カ
        ("ぱぴぷ", "パピプ"),
        ("ゔぁ", "ヴァ"),
        ("ゝゞ", "ヽヾ"),
        ("ＹＡＭＡＤＡ Ｔａｒｏ", "yamada taro"),  # full-width ASCII
        ("ＡＢＣ１２３", "abc123"),
        ("YAMADA", "yamada"),
        ("Straße", "strasse"),  # casefold
        ("José Ñúñez", "jose nunez"),  # accents (R4 search: accent-insensitive)
        ("ÅNGSTRÖM", "angstrom"),
        ("①㈱", "1(株)"),  # NFKC compatibility forms
        ("", ""),
        ("   ", ""),
        ("a\u00a0b", "a b"),  # no-break space
    ],
)
def test_normalize_string(raw: str, expected: str) -> None:
    assert normalize_string(raw) == expected


def test_normalize_string_distinguishes_voicing() -> None:
    assert normalize_string("カ") != normalize_string("ガ")
    assert normalize_string("はし") == normalize_string("ハシ") != normalize_string("バシ")


def slow_normalize(s: str) -> str:
    """normalize_string without its fast paths: every step applied unconditionally."""
    t = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", s).casefold())
    t = unicodedata.normalize("NFKC", re.sub("[\u0300-\u036f]", "", t))
    kana = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)} | {0x309D: 0x30FD, 0x309E: 0x30FE}
    return " ".join(t.translate(kana).split())


def test_normalize_string_fast_paths_are_exact() -> None:
    # every BMP character, alone and after a kana (which defeats the ASCII fast path)
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        assert normalize_string(ch) == slow_normalize(ch), hex(cp)
        assert normalize_string("か" + ch) == slow_normalize("か" + ch), hex(cp)


@given(st.text())
def test_normalize_string_matches_the_slow_definition(s: str) -> None:
    assert normalize_string(s) == slow_normalize(s)


@given(st.text())
def test_normalize_string_is_idempotent(s: str) -> None:
    once = normalize_string(s)
    assert normalize_string(once) == once
    assert once == once.strip() and "  " not in once


# --- date_range ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("2020", "2020-01-01T00:00:00+00:00", "2021-01-01T00:00:00+00:00"),
        ("2024-02", "2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"),  # leap
        ("2023-02", "2023-02-01T00:00:00+00:00", "2023-03-01T00:00:00+00:00"),
        ("1900-02", "1900-02-01T00:00:00+00:00", "1900-03-01T00:00:00+00:00"),  # not leap
        ("2000-02-29", "2000-02-29T00:00:00+00:00", "2000-03-01T00:00:00+00:00"),  # leap
        ("2023-12-31", "2023-12-31T00:00:00+00:00", "2024-01-01T00:00:00+00:00"),
        ("2024-04-01T10:30", "2024-04-01T10:30:00+00:00", "2024-04-01T10:31:00+00:00"),
        ("2024-04-01T10:30+09:00", "2024-04-01T01:30:00+00:00", "2024-04-01T01:31:00+00:00"),
        ("2024-04-01T10:30:15Z", "2024-04-01T10:30:15+00:00", "2024-04-01T10:30:16+00:00"),
        ("2024-04-01T10:30:15", "2024-04-01T10:30:15+00:00", "2024-04-01T10:30:16+00:00"),
        ("2024-04-01T00:30:15+09:00", "2024-03-31T15:30:15+00:00", "2024-03-31T15:30:16+00:00"),
        ("2024-04-01T10:30:15-05:30", "2024-04-01T16:00:15+00:00", "2024-04-01T16:00:16+00:00"),
        (
            "2024-04-01T10:30:15.1Z",
            "2024-04-01T10:30:15.100000+00:00",
            "2024-04-01T10:30:15.200000+00:00",
        ),
        (
            "2024-04-01T10:30:15.123Z",
            "2024-04-01T10:30:15.123000+00:00",
            "2024-04-01T10:30:15.124000+00:00",
        ),
        (
            "2024-04-01T10:30:15.123456Z",
            "2024-04-01T10:30:15.123456+00:00",
            "2024-04-01T10:30:15.123457+00:00",
        ),
        (
            "2024-04-01T10:30:15.123456789Z",
            "2024-04-01T10:30:15.123456+00:00",
            "2024-04-01T10:30:15.123457+00:00",
        ),
        (
            "2024-04-01T10:30:15.1234567890123Z",
            "2024-04-01T10:30:15.123456+00:00",
            "2024-04-01T10:30:15.123457+00:00",
        ),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59+00:00", "1970-01-01T00:00:00+00:00"),
        ("2024-12-31T23:59:59-14:00", "2025-01-01T13:59:59+00:00", "2025-01-01T14:00:00+00:00"),
    ],
)
def test_date_range(value: str, low: str, high: str) -> None:
    assert date_range(value) == (us(low), us(high) - 1)


def test_date_range_extremes() -> None:
    assert date_range("0001")[0] == MIN_US
    assert date_range("9999")[1] == MAX_US
    assert date_range("1970-01-01T00:00:00Z") == (0, 999_999)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "20",
        "20201",
        "2020-1",
        "2020-13",
        "2020-00",
        "2020-1-01",
        "2023-02-29",
        "2020-04-31",
        "2020-01-00",
        "0000",
        "2020-01-01T10",
        "2020-01-01T25:00:00Z",
        "2020-01-01T10:60:00Z",
        "2020-01-01T10:00:61Z",
        "2020-01-01T10:00:00+15:00",
        "2020-01-01T10:00:00+09:60",
        "2020-01-01T10:00:00ZZ",
        "2020-01-01 10:00:00",
        " 2020",
        "2020-01-01T10:00:00.Z",
        "abc",
        "10:00:00",
        "２０２０",  # full-width digits
        "٢٠٢٠-٠١",  # Arabic-Indic digits
    ],
)
def test_date_range_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        date_range(value)


@st.composite
def fhir_datetimes(draw: st.DrawFn) -> tuple[str, int]:
    """A FHIR dateTime string of random precision and offset, and its offset in minutes."""
    d = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    text = d.strftime("%Y-%m-%dT%H:%M").rjust(16, "0")
    precision = draw(st.sampled_from(["minute", "second", "fraction"]))
    if precision != "minute":
        text += f":{d.second:02d}"
    if precision == "fraction":
        text += "." + f"{d.microsecond:06d}"[: draw(st.integers(1, 6))]
    offset = draw(st.sampled_from([None, 0, 540, -300, 330, 840, -720]))
    if offset is None:
        return text, 0
    if offset == 0 and draw(st.booleans()):
        return text + "Z", 0
    sign = "+" if offset >= 0 else "-"
    return text + f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}", offset


@given(fhir_datetimes())
def test_date_range_properties(sample: tuple[str, int]) -> None:
    value, offset_min = sample
    low, high = date_range(value)
    assert low <= high
    day_low, day_high = date_range(value[:10])
    shift = offset_min * 60_000_000  # the day is UTC; the dateTime's local day starts earlier
    assert day_low - shift <= low <= high <= day_high - shift
    if offset_min == 0:
        assert day_low <= low <= high <= day_high
    # independent oracle for the lower bound
    iso = value if value[-6] in "+-" or value.endswith("Z") else value + "+00:00"
    assert low == us(iso.replace("Z", "+00:00"))


# --- strings ------------------------------------------------------------------------------------
def jp_patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"lastUpdated": "2024-04-01T00:00:00Z", "tag": [{"system": "s", "code": "c"}]},
        "name": [
            {
                "extension": [{"url": IDE_URL, "valueCode": "IDE"}],
                "use": "official",
                "text": "山田 太郎",
                "family": "山田",
                "given": ["太郎"],
            },
            {
                "extension": [{"url": IDE_URL, "valueCode": "SYL"}],
                "use": "official",
                "text": "やまだ たろう",
                "family": "ヤマダ",
                "given": ["タロウ"],
            },
        ],
        "address": [
            {"use": "home", "line": ["新宿1-1"], "city": "新宿区", "postalCode": "160-0022"}
        ],
        "birthDate": "1970-01-01",
    }


def strings(rows: IndexRows, code: str) -> list[str]:
    return [r.value for r in rows.strings if r.code == code]


def test_jp_core_names_are_indexed_in_kanji_and_kana() -> None:
    rows = index_resource(jp_patient())
    exact = [
        "山田",
        "太郎",
        "山田 太郎",
        "山田太郎",
        "ヤマダ",
        "タロウ",
        "やまだ たろう",
        "ヤマダ タロウ",
        "ヤマダタロウ",
    ]
    for code in ("name", "phonetic"):
        assert [r.exact for r in rows.strings if r.code == code] == exact
        assert strings(rows, code) == [normalize_string(x) for x in exact]
    assert strings(rows, "family") == ["山田", "ヤマダ"]
    assert strings(rows, "given") == ["太郎", "タロウ"]
    # "やまだ たろう" (the kana text as written) normalises onto the katakana rows, but keeps
    # its own exact spelling for :exact
    assert StringRow("name", "ヤマダ タロウ", "やまだ たろう") in rows.strings
    assert StringRow("name", "ヤマダ タロウ", "ヤマダ タロウ") in rows.strings
    assert strings(rows, "address") == ["新宿1-1", "新宿区", "160-0022"]
    assert strings(rows, "address-city") == ["新宿区"]
    assert "official" not in strings(rows, "name")


def test_string_primitive_truncation_and_generic_complex() -> None:
    reg = registry("List", title=(S, "List.title"), notes=(S, "List.note"))
    long = "あ" * 600
    rows = index_resource(
        {"resourceType": "List", "title": long, "note": [{"authorString": "佐藤", "text": "メモ"}]},
        reg,
    )
    assert rows.strings[0] == StringRow("title", "ア" * 512, "あ" * 512)
    assert rows.strings[1:] == [
        StringRow("notes", "佐藤", "佐藤"),
        StringRow("notes", "メモ", "メモ"),
    ]


def test_western_name() -> None:
    reg = registry("Patient", name=(S, "Patient.name"))
    name = {
        "use": "official",
        "family": "Smith",
        "given": ["John", "Q"],
        "prefix": ["Mr."],
        "suffix": ["Jr"],
    }
    rows = index_resource({"resourceType": "Patient", "name": [name]}, reg)
    assert [r.exact for r in rows.strings] == [
        "Smith",
        "John",
        "Q",
        "Mr.",
        "Jr",
        "Smith John Q",
        "SmithJohnQ",
    ]
    assert rows.strings[0].value == "smith"


# --- tokens -------------------------------------------------------------------------------------
def token_rows(value: Any, expression: str = "Observation.code") -> list[tuple[str, str, str]]:
    reg = registry("Observation", x=(T, expression))
    res = {"resourceType": "Observation", **value}
    return [(t.system, t.value, t.text) for t in index_resource(res, reg).tokens]


def test_token_coding_and_codeable_concept() -> None:
    cc = {
        "coding": [
            {"system": "http://loinc.org", "code": "29463-7", "display": "Body Weight"},
            {"system": "http://jp.example/cs", "code": "W", "display": "体重"},
        ],
        "text": "たいじゅう",
    }
    assert token_rows({"code": cc}) == [
        ("http://loinc.org", "29463-7", "タイジュウ"),
        ("http://loinc.org", "29463-7", "body weight"),
        ("http://jp.example/cs", "W", "タイジュウ"),
        ("http://jp.example/cs", "W", "体重"),
    ]
    assert token_rows({"code": {"coding": [{"code": "a", "display": "A"}]}}) == [("", "a", "a")]
    assert token_rows({"code": {"text": "自由記述"}}) == [("", "", "自由記述")]
    assert token_rows({"code": {}}) == []
    coding = {"meta": {"tag": [{"system": "http://t", "code": "pilot", "display": "Pilot"}]}}
    assert token_rows(coding, "Observation.meta.tag") == [("http://t", "pilot", "pilot")]


def test_token_identifier_contactpoint_primitives() -> None:
    ident = {
        "identifier": [
            {"system": "urn:oid:1.2.3", "value": "0001", "type": {"text": "保険者番号"}},
            {"value": "X"},
        ]
    }
    assert token_rows(ident, "Observation.identifier") == [
        ("urn:oid:1.2.3", "0001", "保険者番号"),
        ("", "X", ""),
    ]
    telecom = {
        "telecom": [
            {"system": "phone", "value": "03-1234-5678", "use": "home"},
            {"system": "email", "value": "a@b.jp"},
        ]
    }
    assert token_rows(telecom, "Observation.telecom") == [
        ("", "03-1234-5678", ""),
        ("", "a@b.jp", ""),
    ]
    assert token_rows({"status": "final"}, "Observation.status") == [("", "final", "")]
    assert token_rows({"active": True}, "Observation.active") == [("", "true", "")]
    assert token_rows({"active": False}, "Observation.active") == [("", "false", "")]
    long = {"identifier": [{"system": "urn:" + "s" * 300, "value": "v" * 300}]}
    ((system, value, _),) = token_rows(long, "Observation.identifier")
    assert len(system) == 256 and len(value) == 256


def test_token_deceased_and_meta_params() -> None:
    rows = index_resource(jp_patient())
    assert TokenRow("deceased", "", "false", "") in rows.tokens
    assert TokenRow("_tag", "s", "c", "") in rows.tokens
    assert not [t for t in rows.tokens if t.code == "_id"]
    assert not [d for d in rows.dates if d.code == "_lastUpdated"]
    dead = index_resource({"resourceType": "Patient", "id": "x", "deceasedDateTime": "2020-01-01"})
    assert TokenRow("deceased", "", "true", "") in dead.tokens
    assert DateRow("death-date", *date_range("2020-01-01")) in dead.dates


# --- dates --------------------------------------------------------------------------------------
def date_rows(value: dict[str, Any], expression: str) -> list[tuple[int, int]]:
    reg = registry("CarePlan", x=(D, expression))
    return [
        (d.low, d.high) for d in index_resource({"resourceType": "CarePlan", **value}, reg).dates
    ]


def test_dates_primitives_period_timing() -> None:
    assert date_rows({"created": "2024-04"}, "CarePlan.created") == [date_range("2024-04")]
    assert date_rows(
        {"period": {"start": "2024-04-01", "end": "2024-04-30"}}, "CarePlan.period"
    ) == [(us("2024-04-01T00:00:00+00:00"), us("2024-05-01T00:00:00+00:00") - 1)]
    assert date_rows({"period": {"start": "2024-04-01T09:00:00+09:00"}}, "CarePlan.period") == [
        (us("2024-04-01T00:00:00+00:00"), MAX_US)
    ]
    assert date_rows({"period": {"end": "2024"}}, "CarePlan.period") == [
        (MIN_US, date_range("2024")[1])
    ]
    assert date_rows({"period": {}}, "CarePlan.period") == []
    timing = {
        "event": ["2024-04-05T10:00:00+09:00", "2024-04-12"],
        "repeat": {"boundsPeriod": {"start": "2024-04-01", "end": "2024-06-30"}, "frequency": 1},
    }
    assert date_rows(
        {"activity": [{"detail": {"scheduledTiming": timing}}]},
        "CarePlan.activity.detail.scheduled",
    ) == [
        date_range("2024-04-05T10:00:00+09:00"),
        date_range("2024-04-12"),
        (date_range("2024-04-01")[0], date_range("2024-06-30")[1]),
    ]


def test_unparseable_dates_are_skipped() -> None:
    detail = [
        {"detail": {"scheduledString": "毎週月曜"}},
        {"detail": {"scheduledPeriod": {"start": "bad"}}},
    ]
    assert date_rows({"activity": detail}, "CarePlan.activity.detail.scheduled") == []
    assert date_rows({"created": "2024-02-30"}, "CarePlan.created") == []


def test_observation_dates() -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2024-01", "end": "2024-03-31"},
        "valueDateTime": "2024-02-29T12:00:00Z",
    }
    rows = index_resource(obs)
    assert DateRow("date", date_range("2024-01")[0], date_range("2024-03-31")[1]) in rows.dates
    assert DateRow("value-date", *date_range("2024-02-29T12:00:00Z")) in rows.dates


# --- references ---------------------------------------------------------------------------------
def ref_rows(
    value: dict[str, Any], expression: str = "Observation.subject"
) -> list[tuple[str, str, str]]:
    reg = registry("Observation", x=(R, expression))
    res = {"resourceType": "Observation", **value}
    return [(r.target_type, r.target_id, r.url) for r in index_resource(res, reg).references]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"reference": "Patient/123"}, [("Patient", "123", "")]),
        ({"reference": "Patient/123/_history/2"}, [("Patient", "123", "")]),
        (
            {"reference": "http://x/fhir/Patient/123"},
            [("Patient", "123", "http://x/fhir/Patient/123")],
        ),
        ({"reference": "http://x/fhir/metadata"}, [("", "", "http://x/fhir/metadata")]),
        ({"reference": "urn:uuid:0c3e5a2c-1f0b-4c4e-9a8b-3b0b9c1f2d10"}, []),
        ({"reference": "#contained"}, []),
        ({"identifier": {"system": "urn:x", "value": "1"}}, []),
        ({"display": "山田"}, []),
        ({"reference": "not a reference"}, []),
    ],
)
def test_reference_rows(reference: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert ref_rows({"subject": reference}) == expected


def test_canonical_references() -> None:
    reg = registry(
        "QuestionnaireResponse", questionnaire=(R, "QuestionnaireResponse.questionnaire")
    )
    qr = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://h/fhir/Questionnaire/q1|1.0",
    }
    assert index_resource(qr, reg).references == [
        ReferenceRow("questionnaire", "Questionnaire", "q1", "http://h/fhir/Questionnaire/q1"),
        ReferenceRow("questionnaire", "Questionnaire", "q1", "http://h/fhir/Questionnaire/q1|1.0"),
    ]
    qr["questionnaire"] = "urn:oid:1.2.3"
    assert index_resource(qr, reg).references == [
        ReferenceRow("questionnaire", "", "", "urn:oid:1.2.3")
    ]


def test_bundle_first_resource_is_not_a_reference() -> None:
    bundle = {
        "resourceType": "Bundle",
        "id": "b",
        "type": "document",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c"}}],
    }
    rows = index_resource(bundle)
    assert rows.references == []
    assert TokenRow("type", "", "document", "") in rows.tokens


def test_resolve_is_type_params() -> None:
    enc = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"code": "HH"},
        "subject": {"reference": "Patient/p1"},
        "participant": [
            {"individual": {"reference": "Practitioner/dr1"}},
            {"individual": {"reference": "RelatedPerson/rp1"}},
        ],
    }
    refs = index_resource(enc).references
    assert [(r.code, r.target_type, r.target_id) for r in refs] == [
        ("patient", "Patient", "p1"),
        ("participant", "Practitioner", "dr1"),
        ("participant", "RelatedPerson", "rp1"),
        ("practitioner", "Practitioner", "dr1"),
        ("subject", "Patient", "p1"),
    ]


# --- compartments -------------------------------------------------------------------------------
def test_compartment_definition_loaded() -> None:
    params = compartment_params()
    assert params["Observation"] == ("subject", "performer")
    assert params["Patient"] == ("link",)
    assert params["Practitioner"] == ()


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Observation", "subject": {"reference": "Patient/1"}}, ["1"]),
        (
            {
                "resourceType": "Observation",
                "subject": {"reference": "Patient/1"},
                "performer": [
                    {"reference": "Patient/2"},
                    {"reference": "Patient/1"},
                    {"reference": "Practitioner/1"},
                ],
            },
            ["1", "2"],
        ),
        (
            {
                "resourceType": "Observation",
                "subject": {"reference": "http://elsewhere/fhir/Patient/1"},
            },
            [],
        ),
        ({"resourceType": "Patient", "id": "p1"}, ["p1"]),
        (
            {
                "resourceType": "Patient",
                "id": "p1",
                "link": [
                    {"other": {"reference": "Patient/p0"}},
                    {"other": {"reference": "RelatedPerson/r"}},
                ],
            },
            ["p1", "p0"],
        ),
        ({"resourceType": "Encounter", "subject": {"reference": "Group/g1"}}, []),
        (
            {
                "resourceType": "Group",
                "member": [
                    {"entity": {"reference": "Patient/a"}},
                    {"entity": {"reference": "Patient/b"}},
                ],
            },
            ["a", "b"],
        ),
        (
            {
                "resourceType": "Consent",
                "patient": {"reference": "Patient/1"},
                "provision": {"actor": [{"reference": {"reference": "Patient/2"}}]},
            },
            ["1"],
        ),
        (
            {
                "resourceType": "CarePlan",
                "subject": {"reference": "Patient/1"},
                "activity": [{"detail": {"performer": [{"reference": "Patient/3"}]}}],
            },
            ["1", "3"],
        ),
        (
            {
                "resourceType": "Task",
                "for": {"reference": "Patient/1"},
                "focus": {"reference": "Patient/4"},
            },
            ["1", "4"],
        ),
        ({"resourceType": "RelatedPerson", "patient": {"reference": "Patient/1"}}, ["1"]),
        ({"resourceType": "Practitioner", "id": "dr1"}, []),
        ({"resourceType": "Organization", "id": "o"}, []),
    ],
)
def test_compartments(resource: dict[str, Any], expected: list[str]) -> None:
    assert index_resource(resource).compartments == expected


def test_compartments_do_not_depend_on_a_custom_registry() -> None:
    reg = registry("Observation", code=(T, "Observation.code"))
    rows = index_resource(
        {"resourceType": "Observation", "subject": {"reference": "Patient/1"}}, reg
    )
    assert rows.references == [] and rows.compartments == ["1"]


# --- whole resources ----------------------------------------------------------------------------
def test_rows_are_deterministic_and_unique() -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [{"coding": [{"system": "c", "code": "vital-signs"}]}] * 2,
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}}],
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-04-01T10:30:00+09:00",
        "valueQuantity": {"value": 60.5, "unit": "kg"},
    }
    a, b = index_resource(obs), index_resource(obs)
    assert a == b
    for rows in (a.strings, a.tokens, a.dates, a.references):
        assert len(rows) == len(set(rows))
    codes = {"status", "category", "code", "combo-code", "component-code"}
    in_registry_order = [c for c in default_registry().for_type("Observation") if c in codes]
    assert [t.code for t in a.tokens] == in_registry_order
    assert a.tokens.count(TokenRow("category", "c", "vital-signs", "")) == 1
    assert a.dates == [DateRow("date", *date_range("2024-04-01T01:30:00Z"))]
    assert a.compartments == ["p1"]


def test_unknown_resource_type_gives_no_rows() -> None:
    assert index_resource({"resourceType": "Basic", "id": "x"}) == IndexRows([], [], [], [], [])


def test_runtime_fhirpath_error_skips_only_that_param() -> None:
    reg = registry(
        "Patient",
        bad=(T, "Patient.name.where(%resource.name)"),
        gender=(T, "Patient.gender"),
    )
    rows = index_resource({"resourceType": "Patient", "gender": "female", "name": [{}, {}]}, reg)
    assert rows.tokens == [TokenRow("gender", "", "female", "")]


def test_open_periods_stay_within_the_sentinels() -> None:
    rows = index_resource(
        {
            "resourceType": "Encounter",
            "period": {"start": "2024-04-01"},
            "location": [{"period": {"end": "2024-04-02"}}],
        }
    )
    assert all(MIN_US <= d.low <= d.high <= MAX_US for d in rows.dates)
    assert rows.dates == [
        DateRow("date", date_range("2024-04-01")[0], MAX_US),
        DateRow("location-period", MIN_US, date_range("2024-04-02")[1]),
    ]
