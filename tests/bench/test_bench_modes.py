"""The benchmark's security modes, mode ratios, consent data and tables (pure; nothing timed)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bench import data, report
from bench.__main__ import failures, parse_args
from bench.modes import MODES, central, compare, parse_modes, ratio
from hub.consent.engine import AccessRequest, decide
from hub.consent.grants import grant_rows
from hub.consent.model import parse_consent
from hub.fhir.indexing import date_range

NOW = date_range("2026-01-15T12:00:00+09:00")[0]


# -- modes -----------------------------------------------------------------------------------


def test_modes_parse_in_order_without_duplicates() -> None:
    assert parse_modes("auth, noauth,auth") == ["auth", "noauth"]
    assert parse_modes("all") == ["noauth", "auth-nogate", "auth"]
    assert parse_modes("AUTH-NOGATE") == ["auth-nogate"]


@pytest.mark.parametrize("text", ["", " , ", "auth,nogate", "tokens"])
def test_unknown_or_empty_modes_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="mode"):
        parse_modes(text)


def test_mode_option_on_the_command_line() -> None:
    assert parse_args([]).modes == ["noauth", "auth-nogate", "auth"]
    assert parse_args(["--mode", "noauth,auth", "--repeat", "2"]).modes == ["noauth", "auth"]
    with pytest.raises(SystemExit):
        parse_args(["--mode", "gate"])


def test_each_mode_sets_both_switches() -> None:
    envs = {name: m.env() for name, m in MODES.items()}
    assert envs["noauth"] == {"HUB_AUTH": "off", "HUB_CONSENT_GATE": "off"}
    assert envs["auth-nogate"] == {"HUB_AUTH": "on", "HUB_CONSENT_GATE": "off"}
    assert envs["auth"] == {"HUB_AUTH": "on", "HUB_CONSENT_GATE": "on"}


# -- ratios ----------------------------------------------------------------------------------


def run(rps: float, p50: float, p99: float = 50.0, non2xx: int = 0) -> dict[str, Any]:
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non2xx": non2xx}


def test_central_is_the_median_and_sums_failures() -> None:
    c = central([run(100, 8), run(300, 4, non2xx=2), run(200, 6, non2xx=1)])
    assert c == {"rps": 200.0, "p50_ms": 6.0, "p99_ms": 50.0, "non2xx": 3.0, "runs": 3.0}
    two = central([run(100, 8), run(120, 6)])
    assert two is not None and (two["rps"], two["p50_ms"]) == (110.0, 7.0)
    assert central([]) is None


def test_ratios_between_modes_and_gate_cost() -> None:
    c = compare(
        {
            "noauth": central([run(1000, 5)]),
            "auth-nogate": central([run(800, 6)]),
            "auth": central([run(600, 9)]),
        }
    )
    assert c["auth/noauth_rps"] == pytest.approx(0.6)
    assert c["auth/noauth_p50"] == pytest.approx(1.8)
    assert c["auth/auth-nogate_rps"] == pytest.approx(0.75)
    assert c["auth/auth-nogate_p50"] == pytest.approx(1.5)
    assert c["auth-nogate/noauth_rps"] == pytest.approx(0.8)
    assert c["gate_cost"] == pytest.approx(0.25)


def test_ratios_are_missing_without_a_mode_or_with_failed_requests() -> None:
    c = compare({"noauth": central([run(1000, 5)]), "auth": central([run(600, 9, non2xx=1)])})
    assert c["auth/noauth_rps"] is None and c["gate_cost"] is None
    c = compare({"noauth": central([run(1000, 5)]), "auth": central([run(600, 9)])})
    assert c["auth/noauth_rps"] == pytest.approx(0.6) and c["gate_cost"] is None
    assert ratio(1.0, 0.0) is None and ratio(None, 2.0) is None and ratio(3.0, 2.0) == 1.5


# -- consent data ----------------------------------------------------------------------------


def request(org: str, purpose: str = "TREAT", author: str | None = None) -> AccessRequest:
    return AccessRequest(
        actor_refs=frozenset([org]),
        organization=org,
        purpose=purpose,
        action="access",
        resource_type="Patient",
        resource_ref="Patient/p1",
        patient_id="p1",
        author_organization=author,
        now=NOW,
    )


def test_bench_consent_permits_the_bench_client_for_treatment_only() -> None:
    body = {**data.consent("Patient/p1"), "id": "c1", "meta": {"versionId": "1"}}
    consents = [parse_consent(body)]
    assert decide(request(data.BENCH_ORG), consents).permit
    assert not decide(request("Organization/someone-else"), consents).permit
    assert not decide(request(data.BENCH_ORG, purpose="HOPERAT"), consents).permit
    # what makes the gate's search pre-filter consider the person
    permits = {(g.actor, g.purpose) for g in grant_rows(body) if g.kind == "permit"}
    assert permits == {(data.BENCH_ORG, "TREAT")}


def test_consent_bundles_give_every_patient_one_consent() -> None:
    bundles = list(data.transaction_bundles(patients=250, consent_for=data.BENCH_ORG))
    entries = [e for b in bundles for e in b["entry"]]
    orgs = [e for e in entries if e["resource"]["resourceType"] == "Organization"]
    assert [e["request"] for e in orgs] == [
        {"method": "PUT", "url": data.CORE_CENTER},
        {"method": "PUT", "url": data.BENCH_ORG},
    ]
    assert all(e in bundles[0]["entry"] for e in orgs)
    for b in bundles:
        patients = {e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient"}
        consented = [
            e["resource"]["patient"]["reference"]
            for e in b["entry"]
            if e["resource"]["resourceType"] == "Consent"
        ]
        assert sorted(consented) == sorted(patients)
    no_consent = list(data.transaction_bundles(patients=100))
    assert {e["resource"]["resourceType"] for e in no_consent[0]["entry"]} == {
        "Patient",
        "Observation",
    }


# -- tables ----------------------------------------------------------------------------------


def wrk_run(rps: float, p50: float, scenario: str, n: int, non2xx: int = 0) -> dict[str, Any]:
    from bench.wrk import WrkResult

    r = WrkResult(int(rps * 15), 15.0, rps, p50, p50, p50 * 3, p50, p50 * 4, non2xx)
    cpu = {"cpu_hub": 0.8, "cpu_db": 0.1, "cpu_bench": 0.05, "cpu_other": 0.02}
    return {**r.__dict__, "run": n, "cpu": cpu, "vs_medplum": report.verdict(scenario, r)}


def results(auth_non2xx: int = 0) -> dict[str, Any]:
    def mode(*runs: tuple[float, float]) -> dict[str, Any]:
        return {"scenarios": {"read": [wrk_run(r, p, "read", i + 1) for i, (r, p) in
                                       enumerate(runs)]}}  # fmt: skip

    auth = mode((450, 9), (470, 8))
    auth["scenarios"]["read"][1]["non2xx"] = auth_non2xx
    return {
        "backends": {
            "sqlite": {
                "modes": {
                    "noauth": mode((1000, 4), (900, 5)),
                    "auth-nogate": mode((520, 7), (480, 8)),
                    "auth": auth,
                }
            }
        }
    }


def test_comparison_table_shows_medians_ratios_and_gate_cost() -> None:
    rows = report.comparison_rows(results())
    assert rows == [
        [
            "sqlite",
            "read",
            "950.0 / 4.50",
            "500.0 / 7.50",
            "460.0 / 8.50",
            "×0.48",
            "×1.89",
            "×0.92",
            "×1.13",
            "8.0%",
        ]
    ]
    text = report.summary(results())
    assert "gate cost" in text and "8.0%" in text
    assert len(report.run_rows(results())) == 6


def test_failed_requests_void_the_ratios_and_fail_the_run() -> None:
    r = results(auth_non2xx=7)
    row = report.comparison_rows(r)[0]
    assert row[4] == "460.0 / 8.50 (7 non-2xx!)"
    assert row[5:] == ["-", "-", "-", "-", "-"]
    assert failures(r) == ["sqlite/auth/read run 2"]
    assert failures(results()) == []


def test_source_fingerprint_follows_the_code(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not code")
    before = report.source_fingerprint(tmp_path)
    assert before == report.source_fingerprint(tmp_path) and len(before) == 8
    (tmp_path / "notes.txt").write_text("still not code")
    assert report.source_fingerprint(tmp_path) == before
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert report.source_fingerprint(tmp_path) != before
    assert len(report.source_fingerprint()) == 8  # the hub's own source
