"""Printing figures beside the Medplum reference, and the JSON results file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import MEDPLUM, TARGET
from bench.wrk import WrkResult


def verdict(scenario: str, r: WrkResult) -> dict[str, Any]:
    """Ratios to Medplum and whether the 1.5× aim is met (throughput and p50)."""
    ref = MEDPLUM[scenario]
    return {
        "ref_rps": ref.rps,
        "ref_p50_ms": ref.p50_ms,
        "rps_ratio": round(r.rps / ref.rps, 2),
        "p50_ratio": round(ref.p50_ms / r.p50_ms, 2) if r.p50_ms else 0.0,
        "target_rps": round(ref.rps * TARGET, 1),
        "target_p50_ms": round(ref.p50_ms / TARGET, 2),
        "met": r.rps >= ref.rps * TARGET and r.p50_ms <= ref.p50_ms / TARGET and not r.failures,
    }


def scenario_line(scenario: str, r: WrkResult) -> str:
    v = verdict(scenario, r)
    bad = f"  ** {r.non2xx} non-2xx, socket errors {r.socket_errors} **" if r.failures else ""
    return (
        f"  {scenario:<7} {r.rps:8.1f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:7.2f} ms"
        f"  non-2xx {r.non2xx} | Medplum {v['ref_rps']:.0f} req/s p50 {v['ref_p50_ms']} ms"
        f" → ×{v['rps_ratio']:.2f} req/s, ×{v['p50_ratio']:.2f} p50"
        f" | {TARGET}× target {v['target_rps']:.0f} req/s, p50 ≤ {v['target_p50_ms']} ms:"
        f" {'met' if v['met'] else 'NOT met'}{bad}"
    )


def cpu_note(cpu: dict[str, float]) -> str:
    """A warning when other processes took a noticeable share of the CPUs during a run."""
    if cpu.get("cpu_other", 0.0) < 0.05:
        return ""
    return (
        f"  [!] other processes used {cpu['cpu_other']:.0%} of the CPUs (hub "
        f"{cpu['cpu_hub']:.0%}, database {cpu['cpu_db']:.0%}, wrk {cpu['cpu_bench']:.0%})"
    )


def _table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(
        [
            fmt.format(*head),
            fmt.format(*("-" * w for w in widths)),
            *(fmt.format(*row) for row in rows),
        ]
    )


def summary(results: dict[str, Any]) -> str:
    """The compact end-of-run tables (scenarios, then scale if any)."""
    rows, scale_rows = [], []
    for backend, b in results["backends"].items():
        for name, s in b.get("scenarios", {}).items():
            v = s["vs_medplum"]
            rows.append(
                [
                    backend,
                    name,
                    f"{s['rps']:.1f}",
                    f"{s['p50_ms']:.2f}",
                    f"{s['p99_ms']:.2f}",
                    str(s["non2xx"]),
                    f"{v['ref_rps']:.0f}",
                    f"{v['ref_p50_ms']}",
                    f"×{v['rps_ratio']:.2f}",
                    f"×{v['p50_ratio']:.2f}",
                    "yes" if v["met"] else "no",
                    f"{s['cpu']['cpu_other']:.0%}",
                ]
            )
        for s in b.get("scale", []):
            scale_rows.append(
                [
                    backend,
                    f"{s['stored']:,}",
                    f"{s['rps']:.1f}",
                    f"{s['p50_ms']:.2f}",
                    f"{s['p99_ms']:.2f}",
                    str(s["non2xx"]),
                    f"{s['bulk_added']:,}",
                    f"{s['bulk_seconds']:.0f}",
                    f"{s['cpu']['cpu_other']:.0%}",
                ]
            )
    out = []
    if rows:
        out.append(
            _table(
                [
                    "backend",
                    "scenario",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "non-2xx",
                    "ref req/s",
                    "ref p50",
                    "req/s ×ref",
                    "p50 ×ref",
                    f"{TARGET}× met",
                    "other CPU",
                ],
                rows,
            )
        )
    if scale_rows:
        out.append("search latency vs store size (Patient?family=…, 20 matches):")
        out.append(
            _table(
                [
                    "backend",
                    "stored",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "non-2xx",
                    "bulk added",
                    "bulk s",
                    "other CPU",
                ],
                scale_rows,
            )
        )
    for backend, b in results["backends"].items():
        load = b.get("load", {})
        out.append(
            f"{backend}: hub serve start-up {b.get('startup_s', 0):.2f} s; base load "
            f"{load.get('resources', 0):,} resources in {load.get('seconds', 0):.2f} s "
            f"({load.get('per_second', 0):,.0f}/s)"
        )
    return "\n".join(out)


def _plain(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    raise TypeError(type(obj).__name__)


def environment() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], capture_output=True, text=True)
        return out.stdout.strip()

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def write(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=_plain) + "\n")
