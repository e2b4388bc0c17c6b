"""The standard monitoring periods (seed 004, DOMAIN.md): table tests, boundaries, properties."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.workflows.conformance import JP_HUB_DIR
from hub.workflows.monitoring import (
    PERIOD_MONTHS,
    SERVICE_RULES,
    MonitoringRule,
    MonitoringSubject,
    add_months,
    next_monitoring,
    reaches_age,
)

R = MonitoringRule
LAST = date(2026, 4, 15)
ADULT = date(1980, 1, 1)  # 46 on LAST
OLD = date(1950, 1, 1)  # 76 on LAST


def subject(*services: str, **kw: object) -> MonitoringSubject:
    kw.setdefault("birth_date", ADULT)
    return MonitoringSubject(frozenset(services), **kw)  # type: ignore[arg-type]


# One case (at least) for every row of the table: (services, flags, expected due, rule).
TABLE = [
    # 新規サービス利用者: 1 month, within 3 months of the start of use
    (("22",), {"service_start": date(2026, 3, 1)}, date(2026, 5, 15), R.NEW_USER),
    # 集中的支援が必要な者: 1 month
    (("22",), {"intensive_support": True}, date(2026, 5, 15), R.INTENSIVE_SUPPORT),
    # 就労定着支援, 自立生活援助, 日中サービス支援型共同生活援助: 3 months
    (("62",), {}, date(2026, 7, 15), R.NEW_SERVICES),
    (("61",), {}, date(2026, 7, 15), R.NEW_SERVICES),
    (("33-day-support",), {}, date(2026, 7, 15), R.NEW_SERVICES),
    # 居宅介護, 行動援護, 同行援護, 重度訪問介護, 短期入所, 就労移行支援, 自立訓練: 3 months
    (("11",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("13",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("15",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("12",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("24",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("60",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("41",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("42",), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    # 生活介護, 就労継続支援, 共同生活援助, 地域移行支援, 地域定着支援, 障害児通所支援: 6 months
    (("22",), {}, date(2026, 10, 15), R.DAY_AND_COMMUNITY),
    (("45",), {}, date(2026, 10, 15), R.DAY_AND_COMMUNITY),
    (("46",), {}, date(2026, 10, 15), R.DAY_AND_COMMUNITY),
    (("33",), {}, date(2026, 10, 15), R.DAY_AND_COMMUNITY),
    (("53",), {}, date(2026, 10, 15), R.DAY_AND_COMMUNITY),
    (("54",), {}, date(2026, 10, 15), R.DAY_AND_COMMUNITY),
    (
        ("child-day-support",),
        {"birth_date": date(2019, 5, 1)},
        date(2026, 10, 15),
        R.DAY_AND_COMMUNITY,
    ),
    # … 65歳以上で介護保険のケアマネジメントを受けていない者は 3 months
    (("22",), {"birth_date": OLD}, date(2026, 7, 15), R.AGE65_WITHOUT_LTC),
    (("46",), {"birth_date": OLD}, date(2026, 7, 15), R.AGE65_WITHOUT_LTC),
    # … with care management: 6 months
    (
        ("22",),
        {"birth_date": OLD, "ltc_care_management": True},
        date(2026, 10, 15),
        R.DAY_AND_COMMUNITY,
    ),
    # 障害者支援施設, 療養介護入所者, 重度障害者等包括支援: 6 months
    (("32",), {}, date(2026, 10, 15), R.FACILITY),
    (("32", "22"), {}, date(2026, 10, 15), R.FACILITY),  # residents' daytime service too
    (("medical-care-residential",), {}, date(2026, 10, 15), R.FACILITY),
    (("severe-comprehensive",), {}, date(2026, 10, 15), R.FACILITY),
    # residents: the in-home rows (and the 65+ rule on them) do not apply
    (("32",), {"birth_date": OLD}, date(2026, 10, 15), R.FACILITY),
    (("32", "22"), {"birth_date": OLD}, date(2026, 10, 15), R.FACILITY),
    (("32", "22"), {"intensive_support": True}, date(2026, 5, 15), R.INTENSIVE_SUPPORT),
    # several services: the shortest period, reported by table order
    (("22", "11"), {}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (("22", "62", "11"), {}, date(2026, 7, 15), R.NEW_SERVICES),
    (("22", "11"), {"birth_date": OLD}, date(2026, 7, 15), R.HOME_AND_TRAINING),
    (
        ("62",),
        {"intensive_support": True, "service_start": date(2026, 4, 1)},
        date(2026, 5, 15),
        R.NEW_USER,
    ),
]


@pytest.mark.parametrize(("services", "flags", "due", "rule"), TABLE)
def test_table(
    services: tuple[str, ...], flags: dict[str, object], due: date, rule: MonitoringRule
) -> None:
    result = next_monitoring(subject(*services, **flags), LAST)
    assert result is not None
    assert (result.due, result.rule, result.months) == (due, rule, PERIOD_MONTHS[rule])


def test_every_rule_has_a_table_case() -> None:
    assert {row[3] for row in TABLE} == set(MonitoringRule)


def test_no_period_gives_no_date() -> None:
    assert next_monitoring(subject(), LAST) is None
    assert next_monitoring(subject("52"), LAST) is None  # 計画相談支援 itself
    assert next_monitoring(subject("unknown-code"), LAST) is None


# -- boundaries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 8, 31), 3, date(2026, 11, 30)),
        (date(2026, 10, 31), 3, date(2027, 1, 31)),  # across the year
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 2, 28), 1, date(2026, 3, 28)),  # not pushed to the month end
    ],
)
def test_month_ends(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_month_end_due_dates() -> None:
    due = next_monitoring(subject("11"), date(2026, 11, 30))
    assert due is not None and due.due == date(2027, 2, 28)
    due = next_monitoring(subject("22"), date(2026, 8, 31))
    assert due is not None and due.due == date(2027, 2, 28)


def test_new_user_window_is_three_months() -> None:
    start = date(2026, 4, 1)
    s = subject("22", service_start=start)
    # monitorings on the start, then 1 and 2 months later: monthly
    seen = []
    last = start
    for _ in range(4):
        due = next_monitoring(s, last)
        assert due is not None
        seen.append((due.due, due.rule))
        last = due.due
    assert seen == [
        (date(2026, 5, 1), R.NEW_USER),
        (date(2026, 6, 1), R.NEW_USER),
        (date(2026, 7, 1), R.NEW_USER),
        (date(2027, 1, 1), R.DAY_AND_COMMUNITY),  # 3 months after the start: the window closed
    ]
    # the last day inside the window, and the first outside it
    inside = next_monitoring(s, date(2026, 6, 30))
    outside = next_monitoring(s, date(2026, 7, 1))
    assert inside is not None and inside.rule is R.NEW_USER
    assert outside is not None and outside.rule is R.DAY_AND_COMMUNITY


def test_new_user_window_from_a_month_end() -> None:
    s = subject("11", service_start=date(2026, 11, 30))  # window ends 2027-02-28
    inside = next_monitoring(s, date(2027, 2, 27))
    outside = next_monitoring(s, date(2027, 2, 28))
    assert inside is not None and (inside.rule, inside.due) == (R.NEW_USER, date(2027, 3, 27))
    assert outside is not None and outside.rule is R.HOME_AND_TRAINING


def test_age_65_is_reached_the_day_before_the_birthday() -> None:
    born = date(1961, 4, 16)  # 65th birthday 2026-04-16, reached on 2026-04-15
    assert reaches_age(born, 65) == date(2026, 4, 15)
    day_before = next_monitoring(subject("22", birth_date=born), date(2026, 4, 14))
    on_the_day = next_monitoring(subject("22", birth_date=born), date(2026, 4, 15))
    assert day_before is not None and day_before.rule is R.DAY_AND_COMMUNITY
    assert on_the_day is not None and on_the_day.rule is R.AGE65_WITHOUT_LTC


def test_age_for_29_february_births() -> None:
    assert reaches_age(date(1960, 2, 29), 65) == date(2025, 2, 28)  # common year: 民法143条
    assert reaches_age(date(1963, 2, 28), 65) == date(2028, 2, 27)
    assert reaches_age(date(1963, 3, 1), 65) == date(2028, 2, 29)


def test_unknown_birth_date_is_not_elderly() -> None:
    due = next_monitoring(subject("22", birth_date=None), LAST)
    assert due is not None and due.rule is R.DAY_AND_COMMUNITY


# -- agreement with the published CodeSystems ---------------------------------------------------


def _concepts(cs: dict[str, object]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    stack = list(cs.get("concept", []))  # type: ignore[call-overload]
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(c.get("concept", []))
    return out


def _prop(concept: dict[str, object], code: str) -> object:
    for p in concept.get("property", []):  # type: ignore[attr-defined]
        if p["code"] == code:
            return next(v for k, v in p.items() if k.startswith("value"))
    return None


def test_periods_match_the_monitoring_category_codesystem() -> None:
    cs = json.loads((JP_HUB_DIR / "CodeSystem-monitoring-category.json").read_text("utf-8"))
    published = {c["code"]: _prop(c, "period-months") for c in _concepts(cs)}
    assert published == {str(r): m for r, m in PERIOD_MONTHS.items()}


def test_service_rules_match_the_welfare_service_kind_codesystem() -> None:
    cs = json.loads((JP_HUB_DIR / "CodeSystem-welfare-service-kind.json").read_text("utf-8"))
    published = {
        c["code"]: _prop(c, "monitoring-category")
        for c in _concepts(cs)
        if _prop(c, "monitoring-category") is not None
    }
    assert published == {code: str(rule) for code, rule in SERVICE_RULES.items()}


# -- properties ---------------------------------------------------------------------------------

codes = st.sampled_from([*sorted(SERVICE_RULES), "52", "x"])
in_home_codes = st.sampled_from(
    [*sorted(c for c, r in SERVICE_RULES.items() if r is not MonitoringRule.FACILITY), "52", "x"]
)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
subjects = st.builds(
    MonitoringSubject,
    services=st.frozensets(codes, max_size=5),
    birth_date=st.none() | st.dates(min_value=date(1920, 1, 1), max_value=date(2020, 12, 31)),
    service_start=st.none() | dates,
    intensive_support=st.booleans(),
    ltc_care_management=st.booleans(),
)


@given(subjects, dates)
def test_due_is_between_one_and_six_months_later(s: MonitoringSubject, last: date) -> None:
    due = next_monitoring(s, last)
    if due is None:
        return
    assert last < due.due
    assert add_months(last, 1) <= due.due <= add_months(last, 6)
    assert due.due == add_months(last, due.months)
    assert due.months == PERIOD_MONTHS[due.rule]


@given(subjects, dates, in_home_codes)
def test_another_in_home_service_never_lengthens_the_period(
    s: MonitoringSubject, last: date, extra: str
) -> None:
    before = next_monitoring(s, last)
    more = MonitoringSubject(
        s.services | {extra},
        s.birth_date,
        s.service_start,
        s.intensive_support,
        s.ltc_care_management,
    )
    after = next_monitoring(more, last)
    if before is not None:
        assert after is not None and after.due <= before.due


@given(subjects, dates)
def test_intensive_support_is_monthly(s: MonitoringSubject, last: date) -> None:
    intensive = MonitoringSubject(
        s.services, s.birth_date, s.service_start, True, s.ltc_care_management
    )
    due = next_monitoring(intensive, last)
    assert due is not None and due.months == 1 and due.due == add_months(last, 1)


@given(subjects, dates)
def test_care_management_never_shortens_the_period(s: MonitoringSubject, last: date) -> None:
    without = MonitoringSubject(
        s.services, s.birth_date, s.service_start, s.intensive_support, False
    )
    with_cm = MonitoringSubject(
        s.services, s.birth_date, s.service_start, s.intensive_support, True
    )
    a, b = next_monitoring(without, last), next_monitoring(with_cm, last)
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert a.due <= b.due
