"""The next monitoring (モニタリング) date of a service-use plan — a pure function.

Implements the standard monitoring periods of 計画相談支援 (継続サービス利用支援) from FY2019
(平成31年度～), as tabulated in seed 004 (厚生労働省資料「モニタリング実施標準期間の見直し」) and
summarised in DOMAIN.md:

=====================================================================  ==========
対象者 (who)                                                            period
=====================================================================  ==========
新規サービス利用者 (new users; only for 3 months from the start of use)   1 month
集中的支援が必要な者 (persons needing intensive support)                  1 month
就労定着支援, 自立生活援助, 日中サービス支援型共同生活援助                  3 months
居宅介護, 行動援護, 同行援護, 重度訪問介護, 短期入所, 就労移行支援, 自立訓練   3 months
生活介護, 就労継続支援, 共同生活援助 (日中支援型を除く), 地域移行支援,        6 months
地域定着支援, 障害児通所支援 — 65歳以上で介護保険のケアマネジメントを        (3 months)
受けていない者は 3 months
障害者支援施設 (施設入所支援), のぞみの園, 療養介護入所者, 重度障害者等包括支援  6 months
=====================================================================  ==========

Interpretations (written down because the table leaves them open):

* A plan with several services is monitored once for all of them: the shortest applicable
  period wins; among equal periods the rule listed first in the table is reported.
* The new-user window is the three months after ``service_start``: while the last monitoring
  lies before ``service_start + 3 months`` the next is due one month later.
* Age is decided on the date of the last monitoring (the date the next period is set), by
  年齢計算ニ関スル法律 and 民法143条: a person reaches 65 on the day before the 65th birthday
  (for 29 February births in a common year, on 28 February).
* The service rows for in-home services (在宅の障害福祉サービス) do not apply to residents: a
  person using a facility-row service (施設入所支援, 療養介護, 重度障害者等包括支援) gets that row
  even if the plan also lists the daytime 生活介護, and the 65+ rule does not shorten it. The
  new-user and intensive-support rows apply to everyone.
* Due dates are calendar-month steps from the last monitoring; when the target month is
  shorter the last day of that month is used (31 January + 1 month = 28/29 February).
* These are *standard* periods; the municipality's decision (支給決定) may set another one.
  Services without a monitoring period (計画相談支援 itself) give no due date.

The service codes are those of ``profiles/jp-hub/CodeSystem-welfare-service-kind.json``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class MonitoringRule(StrEnum):
    """The row of the standard periods table that set the period (CodeSystem
    monitoring-category)."""

    NEW_USER = "new-user"
    INTENSIVE_SUPPORT = "intensive-support"
    NEW_SERVICES = "new-services"
    HOME_AND_TRAINING = "home-and-training"
    DAY_AND_COMMUNITY = "day-and-community"
    AGE65_WITHOUT_LTC = "age65-without-ltc"
    FACILITY = "facility"


#: Standard period in months per rule (the table above; CodeSystem monitoring-category).
PERIOD_MONTHS: dict[MonitoringRule, int] = {
    MonitoringRule.NEW_USER: 1,
    MonitoringRule.INTENSIVE_SUPPORT: 1,
    MonitoringRule.NEW_SERVICES: 3,
    MonitoringRule.HOME_AND_TRAINING: 3,
    MonitoringRule.DAY_AND_COMMUNITY: 6,
    MonitoringRule.AGE65_WITHOUT_LTC: 3,
    MonitoringRule.FACILITY: 6,
}

#: Table order (used to break ties between equal periods).
_ORDER = list(MonitoringRule)

#: welfare-service-kind code → the rule its row of the table gives.
SERVICE_RULES: dict[str, MonitoringRule] = {
    "62": MonitoringRule.NEW_SERVICES,  # 就労定着支援
    "61": MonitoringRule.NEW_SERVICES,  # 自立生活援助
    "33-day-support": MonitoringRule.NEW_SERVICES,  # 日中サービス支援型共同生活援助
    "11": MonitoringRule.HOME_AND_TRAINING,  # 居宅介護
    "13": MonitoringRule.HOME_AND_TRAINING,  # 行動援護
    "15": MonitoringRule.HOME_AND_TRAINING,  # 同行援護
    "12": MonitoringRule.HOME_AND_TRAINING,  # 重度訪問介護
    "24": MonitoringRule.HOME_AND_TRAINING,  # 短期入所
    "60": MonitoringRule.HOME_AND_TRAINING,  # 就労移行支援
    "41": MonitoringRule.HOME_AND_TRAINING,  # 自立訓練（機能訓練）
    "42": MonitoringRule.HOME_AND_TRAINING,  # 自立訓練（生活訓練）
    "22": MonitoringRule.DAY_AND_COMMUNITY,  # 生活介護
    "45": MonitoringRule.DAY_AND_COMMUNITY,  # 就労継続支援A型
    "46": MonitoringRule.DAY_AND_COMMUNITY,  # 就労継続支援B型
    "33": MonitoringRule.DAY_AND_COMMUNITY,  # 共同生活援助（日中支援型を除く）
    "53": MonitoringRule.DAY_AND_COMMUNITY,  # 地域移行支援
    "54": MonitoringRule.DAY_AND_COMMUNITY,  # 地域定着支援
    "child-day-support": MonitoringRule.DAY_AND_COMMUNITY,  # 障害児通所支援
    "32": MonitoringRule.FACILITY,  # 施設入所支援（障害者支援施設）
    "medical-care-residential": MonitoringRule.FACILITY,  # 療養介護
    "severe-comprehensive": MonitoringRule.FACILITY,  # 重度障害者等包括支援
}

NEW_USER_WINDOW_MONTHS = 3
ELDERLY_AGE = 65


@dataclass(frozen=True, slots=True)
class MonitoringSubject:
    """What the rules need to know about the person and the plan."""

    #: welfare-service-kind codes of the services in the current サービス等利用計画
    services: frozenset[str]
    birth_date: date | None = None
    #: first day the person used services (new-user window); None if not a new user
    service_start: date | None = None
    #: 集中的支援が必要な者 (the municipality's / specialist's judgement)
    intensive_support: bool = False
    #: receives 介護保険 care management (ケアマネジメント)
    ltc_care_management: bool = False


@dataclass(frozen=True, slots=True)
class MonitoringDue:
    """The next monitoring: its due date, the rule that applied and the period in months."""

    due: date
    rule: MonitoringRule
    months: int


def add_months(d: date, months: int) -> date:
    """``d`` plus whole calendar months, clamped to the last day of the target month."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def reaches_age(birth: date, age: int) -> date:
    """The day a person born on ``birth`` reaches ``age`` (年齢計算ニ関スル法律, 民法143条)."""
    year = birth.year + age
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, birth.month, birth.day) - timedelta(days=1)


def is_elderly(subject: MonitoringSubject, on: date) -> bool:
    """65 or older on ``on``."""
    return subject.birth_date is not None and on >= reaches_age(subject.birth_date, ELDERLY_AGE)


def is_resident(subject: MonitoringSubject) -> bool:
    """Uses a residential (施設入所支援・療養介護) or comprehensive service: the facility row."""
    return any(SERVICE_RULES.get(c) is MonitoringRule.FACILITY for c in subject.services)


def applicable_rules(subject: MonitoringSubject, on: date) -> list[MonitoringRule]:
    """Every rule of the table that applies to ``subject`` on ``on`` (table order)."""
    rules: set[MonitoringRule] = set()
    if subject.service_start is not None and on < add_months(
        subject.service_start, NEW_USER_WINDOW_MONTHS
    ):
        rules.add(MonitoringRule.NEW_USER)
    if subject.intensive_support:
        rules.add(MonitoringRule.INTENSIVE_SUPPORT)
    resident = is_resident(subject)
    for code in subject.services:
        rule = SERVICE_RULES.get(code)
        if rule is None or (resident and rule is not MonitoringRule.FACILITY):
            continue
        if (
            rule is MonitoringRule.DAY_AND_COMMUNITY
            and not subject.ltc_care_management
            and is_elderly(subject, on)
        ):
            rule = MonitoringRule.AGE65_WITHOUT_LTC
        rules.add(rule)
    return sorted(rules, key=_ORDER.index)


def next_monitoring(subject: MonitoringSubject, last_monitoring: date) -> MonitoringDue | None:
    """The next monitoring after ``last_monitoring`` (or after the plan's start, for the first).

    Returns None when no rule applies (no services with a standard period, not a new user and
    no intensive-support need): there is nothing to monitor on a schedule.
    """
    rules = applicable_rules(subject, last_monitoring)
    if not rules:
        return None
    rule = min(rules, key=lambda r: (PERIOD_MONTHS[r], _ORDER.index(r)))
    months = PERIOD_MONTHS[rule]
    return MonitoringDue(add_months(last_monitoring, months), rule, months)
