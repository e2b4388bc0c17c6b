"""``python3 -m bench.ledger`` run small through ``main``: every measure is printed, and each
ratio is the one of its own figures (nothing timed is asserted)."""

from __future__ import annotations

import re

import pytest

from bench import ledger
from hub.ledger.log import parallel


def _row(out: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}\s+(.+)$", out, re.MULTILINE)
    assert m is not None, (label, out)
    return m.group(1)


def test_every_measure_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--entries", "3000", "--rounds", "2", "--sizes", "64", "--appends", "3"]
    assert ledger.main([*args, "--workers", "2"]) == 0
    out = capsys.readouterr().out
    raw = _row(out, "raw hashlib.sha256 over the 3000 leaves")
    found = re.search(r"([0-9,]+) leaves/s", raw)
    assert found is not None, raw
    best_raw = float(found.group(1).replace(",", ""))
    procs = "2 processes" if parallel.can_fork() else "1 process"
    for label in (
        "hub ledger verify (sqlite: content + tree + nodes), 1 process",
        "hub ledger verify --export (format 2, tree only), 1 process",
        f"hub ledger verify --export (format 2, tree only), {procs}",
        f"hub ledger verify --export (format 1, tree only), {procs}",
        f"the command hub ledger verify --export FILE (format 2), {procs}",
    ):
        row = _row(out, label)
        m = re.match(
            r"([0-9,]+) entries/s \(([0-9.]+) × best raw; ([0-9.]+) × the raw loop just before it",
            row,
        )
        assert m is not None, row
        rate = float(m.group(1).replace(",", ""))
        assert float(m.group(2)) == pytest.approx(rate / best_raw, abs=0.006), row
        assert float(m.group(3)) > 0
    assert "median" in _row(out, "ledger append (sqlite, 3 appends, 1 per transaction)")
    assert _row(out, "inclusion proof at 64 entries").endswith(", 6 hashes")
