"""Kinds of person the generator draws from: disability, certificates, services, emergencies.

Each :class:`Profile` is a believable combination for a person registered with a community
living support base (DOMAIN.md, seed 003 別紙3): the main disability or illness, the
certificates held (CodeSystem disability-certificate / disability-grade), the 障がい支援区分
range, the services used (CodeSystem welfare-service-kind, WAM NET codes), the expected
emergencies (CodeSystem expected-emergency) and the services wanted in one. Fictional and
deliberately coarse; pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    key: str
    main: str  # 主な障がい名又は病名
    weight: int
    ages: tuple[int, int]
    #: certificate → grade codes to choose from (``()`` = held, no grade)
    certificates: tuple[tuple[str, tuple[str, ...]], ...]
    support: tuple[str, ...]  # 障がい支援区分 codes
    used: tuple[str, ...]  # services used (each drawn with ``used_p``)
    used_p: float
    #: eligibility: carer-unable / disability-emergency / both
    eligibility: tuple[tuple[str, ...], ...]
    expected: tuple[str, ...]
    wanted: tuple[str, ...]  # services wanted in an emergency (besides short stay)
    condition: str  # 病状・治療状況
    medication_p: float
    procedures: tuple[str, ...] = ()  # medical-procedure codes (health certificate)
    hospital: str | None = None  # the hospital that treats people like this
    behaviour: str = ""


PROFILES: tuple[Profile, ...] = (
    Profile(
        "intellectual-autism",
        "知的障がい、自閉スペクトラム症",
        6,
        (8, 60),
        (("intellectual", ("intellectual-A", "intellectual-A1", "intellectual-maruA")),),
        ("4", "5", "6"),
        ("22", "11"),
        0.7,
        (("carer-unable",), ("carer-unable", "disability-emergency")),
        ("carer-illness", "behavioural-crisis", "carer-exhaustion"),
        ("13",),
        "服薬なしで安定。環境の変化で不安が強くなる。",
        0.4,
        behaviour="初めての場所で不安が強くなる。予定は写真カードで伝えると落ち着く。",
    ),
    Profile(
        "intellectual-mild",
        "知的障がい",
        5,
        (18, 70),
        (("intellectual", ("intellectual-B", "intellectual-B1", "intellectual-B2")),),
        ("2", "3"),
        ("46", "33"),
        0.6,
        (("carer-unable",),),
        ("carer-illness", "carer-death", "carer-absence"),
        ("33",),
        "特記事項なし。",
        0.2,
    ),
    Profile(
        "cerebral-palsy",
        "脳性まひ（四肢まひ）",
        3,
        (10, 65),
        (("physical", ("physical-1", "physical-2")),),
        ("5", "6"),
        ("11", "22"),
        0.8,
        (("carer-unable",),),
        ("carer-illness", "carer-exhaustion", "health-change"),
        ("12",),
        "筋緊張が強く、定期的に整形外科を受診。誤嚥に注意。",
        0.8,
        procedures=("suction", "tube-feeding"),
        hospital="hospital-midorino",
    ),
    Profile(
        "schizophrenia",
        "統合失調症",
        4,
        (20, 70),
        (("mental", ("mental-1", "mental-2")), ("independence-support-medical", ())),
        ("none", "2", "3"),
        ("46", "61", "54"),
        0.6,
        (("disability-emergency",), ("carer-unable", "disability-emergency")),
        ("psychiatric-crisis", "carer-illness"),
        ("54", "11"),
        "月1回通院。服薬中断で症状が悪化したことがある。",
        0.95,
        hospital="hospital-kokoro",
    ),
    Profile(
        "bipolar",
        "双極性障害",
        2,
        (20, 70),
        (("mental", ("mental-2", "mental-3")), ("independence-support-medical", ())),
        ("none", "1", "2"),
        ("60", "61"),
        0.5,
        (("disability-emergency",),),
        ("psychiatric-crisis",),
        ("54",),
        "気分の波があり、睡眠が乱れると悪化しやすい。",
        0.95,
        hospital="hospital-kokoro",
    ),
    Profile(
        "severe-multiple",
        "重症心身障がい",
        2,
        (5, 50),
        (
            ("physical", ("physical-1",)),
            ("intellectual", ("intellectual-A", "intellectual-maruA")),
        ),
        ("6",),
        ("22", "11"),
        0.9,
        (("carer-unable",),),
        ("carer-illness", "carer-exhaustion", "health-change"),
        ("medical-care-residential",),
        "てんかん発作あり。体調が変わりやすく、発熱時は早めの受診が必要。",
        0.9,
        procedures=("suction", "peg", "oxygen"),
        hospital="hospital-midorino",
    ),
    Profile(
        "higher-brain",
        "高次脳機能障がい",
        2,
        (25, 75),
        (("mental", ("mental-2", "mental-3")),),
        ("2", "3"),
        ("42", "22"),
        0.6,
        (("carer-unable",),),
        ("carer-illness", "carer-absence"),
        ("11",),
        "交通事故の後遺症。記憶障害と注意障害がある。",
        0.5,
    ),
    Profile(
        "visual",
        "視覚障がい（全盲）",
        2,
        (30, 85),
        (("physical", ("physical-1", "physical-2")),),
        ("2", "3", "4"),
        ("15", "11"),
        0.8,
        (("carer-unable",),),
        ("carer-illness", "disaster"),
        ("15",),
        "糖尿病網膜症による。血糖値の管理中。",
        0.7,
    ),
    Profile(
        "als",
        "筋萎縮性側索硬化症（ALS）",
        1,
        (40, 80),
        (("specified-medical", ()), ("physical", ("physical-1",))),
        ("6",),
        ("12",),
        1.0,
        (("carer-unable",),),
        ("carer-illness", "carer-exhaustion", "health-change"),
        ("12",),
        "進行性。夜間は人工呼吸器を使用。",
        0.9,
        procedures=("suction", "oxygen", "peg"),
        hospital="hospital-midorino",
    ),
    Profile(
        "epilepsy-intellectual",
        "てんかん、知的障がい",
        3,
        (10, 65),
        (("intellectual", ("intellectual-B", "intellectual-A2")),),
        ("3", "4"),
        ("22", "46"),
        0.7,
        (("carer-unable",),),
        ("carer-illness", "health-change"),
        (),
        "てんかん発作は服薬で安定（年1〜2回）。",
        1.0,
    ),
)

EXPECTED_RESPONSE = {
    "carer-illness": "介護者が入院した場合、短期入所を利用する。日中活動は継続する。",
    "carer-death": "基幹相談支援センターと相談支援事業所が住まいと支援を調整する。",
    "carer-absence": "介護者が不在の間、短期入所を利用する。",
    "carer-exhaustion": "介護者の負担が限界の時は、短期入所で休息をとる（レスパイト）。",
    "behavioural-crisis": "落ち着ける個室のある事業所で受け入れる。行動援護を追加する。",
    "psychiatric-crisis": "主治医に連絡し、地域定着支援の緊急対応を依頼する。必要なら受診。",
    "health-change": "かかりつけ医に連絡し、必要なら救急搬送。医療的ケアの情報を病院へ伝える。",
    "disaster": "福祉避難所へ移動。同行支援を依頼する。",
    "other": "相談支援事業所に連絡する。",
}

REASONS = {
    "carer-unable": "主な介護者が高齢で持病があり、入院した時に本人を介護する人がいないため。",
    "disability-emergency": "障がいの特性により、急な支援が必要になることが見込まれるため。",
}
