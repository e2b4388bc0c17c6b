"""wrk: presence check, one bounded run per scenario, and parsing of its output."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("scenario.lua")
INSTALL = "sudo apt-get update && sudo apt-get install -y wrk"
_MARK = "BENCH_RESULT "


def require_wrk() -> str:
    """wrk's path, or exit with the command that installs it (nothing is installed here)."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            f"bench: wrk is not installed. Install it with:\n    {INSTALL}\n"
            "(macOS: brew install wrk)"
        )
    return path


@dataclass
class WrkResult:
    """One scenario's figures, as wrk measured them (latencies in ms)."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    non2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return self.non2xx + sum(v for k, v in self.socket_errors.items() if k != "status")


def parse(output: str) -> WrkResult:
    """Parse the ``BENCH_RESULT`` line that ``scenario.lua``'s ``done()`` prints."""
    for line in output.splitlines():
        if line.startswith(_MARK):
            d = json.loads(line[len(_MARK) :])
            lat = {k: v / 1000.0 for k, v in d["latency_us"].items()}
            duration = d["duration_us"] / 1e6
            return WrkResult(
                requests=d["requests"],
                duration_s=round(duration, 3),
                rps=round(d["requests"] / duration, 2) if duration else 0.0,
                p50_ms=round(lat["p50"], 2),
                p90_ms=round(lat["p90"], 2),
                p99_ms=round(lat["p99"], 2),
                mean_ms=round(lat["mean"], 2),
                max_ms=round(lat["max"], 2),
                non2xx=d["non2xx"],
                socket_errors=d["errors"],
            )
    raise ValueError(f"no {_MARK.strip()} line in wrk output:\n{output}")


def run(
    base: str,
    lines_file: Path,
    *,
    method: str = "GET",
    post_path: str = "",
    duration: int = 20,
    connections: int = 8,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Drive ``connections`` keep-alive connections for ``duration`` seconds."""
    cmd = [
        require_wrk(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
    ]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    cmd += [base, "--", method, str(lines_file)] + ([post_path] if post_path else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr}\n{out.stdout}")
    return parse(out.stdout)
