"""``hub demo --exit`` as a user runs it: a subprocess on a fresh data dir (SQLite), which
seeds, starts ``hub serve`` with tokens required, walks the story over HTTP and exits 0.

The demo is also a check: with the consent gate switched off (``HUB_CONSENT_GATE=off``,
which exists for benchmarks only) the same story must notice and exit 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = ("(a) ", "(b) ", "(c) ", "(d) ", "(e) ")


def _demo(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--exit"],
        env={**clean, "HUB_DATA_DIR": str(data_dir), "PYTHONIOENCODING": "utf-8", **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


def test_demo_walks_the_story_and_exits_0(data_dir: Path) -> None:
    done = _demo(data_dir)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    for step in STEPS:
        assert f"\n{step}" in out, step
    assert "✗" not in out and "✓ every step behaved as expected" in out
    assert "→ 404" in out and "→ 200" in out
    assert "permit:break-glass" in out and "deny:" in out  # the audit trail shows decisions
    assert "hub ledger verify  → exit 0" in out
    assert (data_dir / "seed-clients.json").exists()


def test_demo_notices_when_consent_is_not_enforced(data_dir: Path) -> None:
    done = _demo(data_dir, HUB_CONSENT_GATE="off")
    assert done.returncode == 1, done.stdout
    assert "✗" in done.stdout and "did not behave as expected" in done.stdout
