"""The benchmark harness's pure parts (no server, no wrk, nothing timed)."""

from __future__ import annotations

from collections import Counter
from urllib.parse import unquote

import pytest

from bench import MEDPLUM, data, report, wrk

# Captured from `wrk -t2 -c8 -d2s -s bench/scenario.lua … -- GET paths.txt`.
WRK_SAMPLE = """\
Running 2s test @ http://127.0.0.1:18082
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   230.64ms  136.71ms 679.64ms   79.17%
    Req/Sec    20.40      9.33    40.00     50.00%
  67 requests in 2.01s, 19.46MB read
Requests/sec:     33.25
Transfer/sec:      9.66MB
BENCH_RESULT {"requests":67,"duration_us":2014958,"bytes":20408414,"non2xx":0,"errors":\
{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latency_us":{"p50":187533,\
"p90":451429,"p99":679642,"mean":230636.4,"max":679642}}
"""


def test_wrk_output_is_parsed() -> None:
    r = wrk.parse(WRK_SAMPLE)
    assert r.requests == 67
    assert r.rps == pytest.approx(33.25, abs=0.01)  # wrk's own Requests/sec line
    assert (r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms) == (187.53, 451.43, 679.64, 679.64)
    assert r.non2xx == 0 and r.failures == 0


def test_failures_count_non_2xx_and_socket_errors() -> None:
    sample = WRK_SAMPLE.replace('"non2xx":0', '"non2xx":3').replace('"timeout":0', '"timeout":2')
    r = wrk.parse(sample)
    assert (r.non2xx, r.failures) == (3, 5)


def test_missing_result_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="BENCH_RESULT"):
        wrk.parse("Running 2s test @ http://127.0.0.1:1\n")


def test_bundles_hold_exactly_20_patients_per_family() -> None:
    bundles = list(data.transaction_bundles())
    entries = [e for b in bundles for e in b["entry"]]
    patients = [e["resource"] for e in entries if e["resource"]["resourceType"] == "Patient"]
    observations = [e for e in entries if e["resource"]["resourceType"] == "Observation"]
    assert (len(patients), len(observations)) == (1000, 5000)
    kanji = Counter(p["name"][0]["family"] for p in patients)
    kana = Counter(p["name"][1]["family"] for p in patients)
    assert len(kanji) == len(kana) == 50
    assert set(kanji.values()) == set(kana.values()) == {data.PER_FAMILY}
    for p in patients:  # JP Core: one kanji (IDE) and one kana (SYL) HumanName
        reps = [n["extension"][0]["valueCode"] for n in p["name"]]
        assert reps == ["IDE", "SYL"]
        assert {x["url"] for n in p["name"] for x in n["extension"]} == {data.EN_REPRESENTATION}
    for b in bundles:  # every Observation points at a Patient of its own Bundle
        urls = {e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient"}
        assert b["type"] == "transaction"
        subjects = {
            e["resource"]["subject"]["reference"]
            for e in b["entry"]
            if e["resource"]["resourceType"] == "Observation"
        }
        assert subjects == urls


def test_searches_match_only_their_own_family() -> None:
    """Prefix-free under the hub's own string folding, filler names included."""
    from hub.fhir.indexing import normalize_string

    data.check_names()
    searched = [normalize_string(x) for pair in data.FAMILIES for x in pair]
    every = searched + [normalize_string(x) for pair in data.OTHER_FAMILIES for x in pair]
    for s in searched:
        assert sum(v.startswith(s) for v in every) == 1
    paths = data.search_paths()
    assert len(paths) == 100 and all(p.isascii() for p in paths)
    assert unquote(paths[0]) == f"/fhir/Patient?family={data.FAMILIES[0][0]}"


def test_filler_starts_each_group_with_its_patient() -> None:
    res = list(data.filler(13, start=7))
    assert res[0]["resourceType"] == "Patient" and res[6]["resourceType"] == "Patient"
    assert res[1]["subject"]["reference"] == f"Patient/{res[0]['id']}"
    assert all(
        r["name"][0]["family"] not in dict(data.FAMILIES)
        for r in res
        if r["resourceType"] == "Patient"
    )


def test_verdict_against_medplum() -> None:
    ref = MEDPLUM["search"]
    good = wrk.WrkResult(1, 1.0, ref.rps * 1.5, ref.p50_ms / 1.5, 0, 0, 0, 0, 0)
    assert report.verdict("search", good)["met"]
    slow = wrk.WrkResult(1, 1.0, ref.rps, ref.p50_ms, 0, 0, 0, 0, 0)
    v = report.verdict("search", slow)
    assert (v["met"], v["rps_ratio"], v["p50_ratio"]) == (False, 1.0, 1.0)
