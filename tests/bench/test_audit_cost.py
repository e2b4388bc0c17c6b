"""``python3 -m bench.audit_cost`` in-process, run small: what it prints (nothing timed is
asserted — only that each measured run is there and the ratios are those of its own figures)."""

from __future__ import annotations

import re

import pytest

from bench import audit_cost
from hub.ledger.log import store as ledger_store


def _rate(out: str, label: str) -> float:
    m = re.search(rf"^  {re.escape(label)}\s+([0-9.]+) req/s", out, re.MULTILINE)
    assert m is not None, (label, out)
    return float(m.group(1))


def _ratio(out: str, label: str) -> float:
    m = re.search(rf"^  ratio {re.escape(label)}: ([0-9.]+)$", out, re.MULTILINE)
    assert m is not None, (label, out)
    return float(m.group(1))


def test_parts_adds_a_record_without_its_ledger_entry(capsys: pytest.CaptureFixture[str]) -> None:
    real = ledger_store.record_access
    assert audit_cost.main(["-n", "10", "--rounds", "1", "--parts"]) == 0
    out = capsys.readouterr().out
    audited, row_only = _rate(out, "audited read"), _rate(out, "record, no ledger")
    off = _rate(out, "audit off")
    assert _ratio(out, "audited / audit off") == pytest.approx(audited / off, abs=0.006)
    assert _ratio(out, "record without its ledger entry / audit off") == pytest.approx(
        row_only / off, abs=0.006
    )
    assert "deferred:" in out
    each = r"within each round: ([0-9.]+); median ([0-9.]+)$"
    m = re.search(each, out, re.MULTILINE)
    assert m is not None and m.group(1) == m.group(2), out  # one round: its ratio is the median
    assert float(m.group(1)) == pytest.approx(audited / off, abs=0.006)
    assert ledger_store.record_access is real  # the experiment's patch is undone


def test_without_parts_there_is_no_third_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_cost.main(["-n", "10", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "audited read" in out and "record, no ledger" not in out
