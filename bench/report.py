"""Printing figures beside the Medplum reference, and the JSON results file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import MEDPLUM, TARGET
from bench.modes import GATE_BUDGET, MODES, central, compare
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


def _table(head: list[str], rows: list[list[str]], left: int = 2) -> str:
    """Columns aligned; the first ``left`` to the left, the rest to the right."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:{'<' if i < left else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(
        [
            fmt.format(*head),
            fmt.format(*("-" * w for w in widths)),
            *(fmt.format(*row) for row in rows),
        ]
    )


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"×{value:.2f}"


def run_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per measured run: backend, mode, scenario, run and its figures."""
    rows = []
    for backend, b in results["backends"].items():
        for mode, m in b.get("modes", {}).items():
            for name, runs in m.get("scenarios", {}).items():
                for s in runs:
                    v, cpu = s["vs_medplum"], s["cpu"]
                    rows.append(
                        [
                            backend,
                            mode,
                            name,
                            str(s["run"]),
                            s.get("hub_source", "-"),
                            f"{s['rps']:.1f}",
                            f"{s['p50_ms']:.2f}",
                            f"{s['p99_ms']:.2f}",
                            str(s["non2xx"]),
                            f"×{v['rps_ratio']:.2f}",
                            f"×{v['p50_ratio']:.2f}",
                            "yes" if v["met"] else "no",
                            _pct(cpu.get("cpu_hub", 0.0)),
                            _pct(cpu.get("cpu_db", 0.0)),
                            _pct(cpu.get("cpu_bench", 0.0)),
                            _pct(cpu.get("cpu_other", 0.0)),
                        ]
                    )
    return rows


def comparison_rows(results: dict[str, Any]) -> list[list[str]]:
    """Per backend and scenario: each mode's median req/s and p50, and the ratios between
    modes (``bench.modes.compare``)."""
    rows = []
    for backend, b in results["backends"].items():
        modes = b.get("modes", {})
        names = list(dict.fromkeys(n for m in modes.values() for n in m.get("scenarios", {})))
        for name in names:
            central = {mode: modes_central(m, name) for mode, m in modes.items()}
            c = compare(central)

            def fig(mode: str, central: dict[str, dict[str, float] | None] = central) -> str:
                f = central.get(mode)
                if not f:
                    return "-"
                bad = f" ({int(f['non2xx'])} non-2xx!)" if f["non2xx"] else ""
                return f"{f['rps']:.1f} / {f['p50_ms']:.2f}{bad}"

            gate = c["gate_cost"]
            rows.append(
                [
                    backend,
                    name,
                    *(fig(mode) for mode in MODES),
                    _x(c["auth/noauth_rps"]),
                    _x(c["auth/noauth_p50"]),
                    _x(c["auth/auth-nogate_rps"]),
                    _x(c["auth/auth-nogate_p50"]),
                    "-" if gate is None else f"{gate:.1%}",
                ]
            )
    return rows


def modes_central(mode: dict[str, Any], scenario: str) -> dict[str, float] | None:
    return central(mode.get("scenarios", {}).get(scenario, []))


def summary(results: dict[str, Any]) -> str:
    """The compact end-of-run tables: every run, the mode comparison, then scale if any."""
    out = []
    rows = run_rows(results)
    if rows:
        out.append("every run (CPU: share of both cores used by hub / database / wrk / others):")
        out.append(
            _table(
                [
                    "backend",
                    "mode",
                    "scenario",
                    "run",
                    "hub src",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "non-2xx",
                    "req/s ×Medplum",
                    "p50 ×Medplum",
                    f"{TARGET}× met",
                    "hub CPU",
                    "db CPU",
                    "wrk CPU",
                    "other CPU",
                ],
                rows,
                left=5,
            )
        )
    comp = comparison_rows(results)
    if comp:
        out.append(
            "\nmodes compared (median of runs: req/s / p50 ms; req/s ratio < 1 and p50 ratio > 1"
            " mean slower; gate cost = 1 − req/s(auth) / req/s(auth-nogate), aim < "
            f"{GATE_BUDGET:.0%}):"
        )
        out.append(
            _table(
                [
                    "backend",
                    "scenario",
                    *MODES,
                    "auth/noauth req/s",
                    "auth/noauth p50",
                    "auth/nogate req/s",
                    "auth/nogate p50",
                    "gate cost",
                ],
                comp,
            )
        )
    scale_rows = []
    for backend, b in results["backends"].items():
        for mode, m in b.get("modes", {}).items():
            for s in m.get("scale", []):
                scale_rows.append(
                    [
                        backend,
                        mode,
                        f"{s['stored']:,}",
                        f"{s['rps']:.1f}",
                        f"{s['p50_ms']:.2f}",
                        f"{s['p99_ms']:.2f}",
                        str(s["non2xx"]),
                        f"{s['bulk_added']:,}",
                        f"{s['bulk_seconds']:.0f}",
                        _pct(s["cpu"]["cpu_other"]),
                    ]
                )
    if scale_rows:
        out.append("\nsearch latency vs store size (Patient?family=…, 20 matches):")
        out.append(
            _table(
                [
                    "backend",
                    "mode",
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
                left=3,
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


def source_fingerprint(root: Path | None = None) -> str:
    """A short hash of the hub's source (``hub/**/*.py``) as a server is started: on a tree that
    others edit meanwhile, runs with different fingerprints measured different code."""
    base = root or Path(__file__).resolve().parent.parent / "hub"
    h = hashlib.sha256()
    for f in sorted(base.rglob("*.py")):
        h.update(str(f.relative_to(base)).encode() + b"\0")
        with contextlib.suppress(OSError):
            h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:8]


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def write(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=_plain) + "\n")
