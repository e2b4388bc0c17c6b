"""``python3 -m bench``: the hub's HTTP benchmark against the Medplum reference (issue 2).

Examples::

    python3 -m bench                              # SQLite + PostgreSQL, every mode, 20 s each
    python3 -m bench --backend sqlite --duration 5 --scenarios read --mode auth
    python3 -m bench --backend postgresql --scenarios search --mode noauth \
        --scale 10000,100000,1000000
    python3 -m bench --mode noauth,auth-nogate,auth --repeat 2 --wait-idle 30
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import SCENARIOS, auth, data, report, wrk
from bench.cpu import Meter, wait_idle
from bench.load import bulk_load, load_base, verify
from bench.modes import MODES, Mode, parse_modes
from bench.server import (
    DEFAULT_PG_URL,
    HubServer,
    copy_database,
    drop_database,
    fresh_database,
    postgres_pids,
    running,
)

RESULTS = Path(__file__).parent / "results" / "latest.json"


def _sizes(text: str) -> list[int]:
    return sorted(int(x.replace("_", "")) for x in text.split(",") if x.strip())


def _scenarios(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scenario(s) {unknown}; known: {SCENARIOS}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python3 -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--duration", type=int, default=20, help="seconds per scenario (default 20)")
    p.add_argument("--connections", type=int, default=8, help="keep-alive connections (8)")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--workers", type=int, default=2, help="hub serve --workers (2)")
    p.add_argument("--threads", type=int, default=4, help="hub serve --threads (4)")
    p.add_argument(
        "--scenarios",
        type=_scenarios,
        default=list(SCENARIOS),
        help="comma-separated, from read,search,create ('' for none)",
    )
    p.add_argument(
        "--scale",
        type=_sizes,
        default=[],
        metavar="N,N,…",
        help="store sizes (resources) for the search-latency series, "
        "e.g. 10000,100000,1000000; filler is bulk-loaded in-process",
    )
    p.add_argument("--scale-duration", type=int, default=10, help="seconds per size (10)")
    p.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL database to DROP and recreate (default %(default)s)",
    )
    p.add_argument(
        "--mode",
        dest="modes",
        type=parse_modes,
        default=list(MODES),
        metavar="MODE,…",
        help="security modes to compare, from "
        + ", ".join(f"{m.name} ({m.summary})" for m in MODES.values())
        + "; 'all' (the default) for every one",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every mode this many times, interleaved (default 1); the comparison "
        "uses the median of the runs",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other processes to leave "
        "the CPUs quiet (shared machines; default 0: do not wait)",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON results (%(default)s)")
    return p.parse_args(argv)


def write_inputs(workdir: Path, patient_ids: list[str]) -> dict[str, Path]:
    """The files scenario.lua picks random lines from."""
    files = {
        "read": workdir / "read.txt",
        "search": workdir / "search.txt",
        "create": workdir / "create.txt",
    }
    files["read"].write_text("".join(f"/fhir/Patient/{i}\n" for i in patient_ids))
    files["search"].write_text("".join(f"{p}\n" for p in data.search_paths()))
    files["create"].write_text(
        "".join(json.dumps(data.other_patient(n), ensure_ascii=False) + "\n" for n in range(200))
    )
    return files


def drive(
    scenario: str,
    server: HubServer,
    files: dict[str, Path],
    args: argparse.Namespace,
    duration: int,
    headers: dict[str, str],
) -> tuple[wrk.WrkResult, dict[str, float]]:
    """One wrk run, and who used the CPUs meanwhile."""
    post = scenario == "create"
    if args.wait_idle:
        busy = wait_idle(args.wait_idle)
        if busy >= 0.10:
            print(f"  (CPUs still {busy:.0%} busy after waiting {args.wait_idle:.0f} s)")
    meter = Meter(server.pids, lambda: postgres_pids(server.database_url))
    meter.start()
    r = wrk.run(
        server.base,
        files[scenario],
        method="POST" if post else "GET",
        post_path="/fhir/Patient" if post else "",
        duration=duration,
        connections=args.connections,
        threads=args.wrk_threads,
        headers=headers,
    )
    return r, meter.stop()


def prepare(
    backend: str, args: argparse.Namespace, workdir: Path, out: dict[str, Any]
) -> tuple[str, list[str], auth.BearerAuth]:
    """A fresh database holding the base data, as the core center registered it.

    The hub runs with tokens and the consent gate on (mode ``auth``) while the core center's
    client loads every person — so it authors their records (``resource.author``) — with an
    active Consent permitting ``data.BENCH_ORG`` (TREAT). Every mode then starts from a copy of
    this database. Returns its URL, the Patient ids, and the registered reader client."""
    url = fresh_database(backend, workdir, args.pg_url)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    server = HubServer(
        url,
        args.workers,
        args.threads,
        args.out.parent / f"{backend}-load-serve.log",
        env=MODES["auth"].env(),
    )
    out.update({"workers": args.workers, "threads": args.threads, "modes": {}})
    print(
        f"\n== {backend}: hub serve --workers {args.workers} --threads {args.threads} ==",
        flush=True,
    )
    with running(server):
        out["startup_s"] = round(server.startup_s, 2)
        print(f"  hub serve start-up (until /fhir/metadata answers): {server.startup_s:.2f} s")
        loader, reader = auth.loader(url, workdir), auth.reader(url, workdir)
        loader.register()
        reader.register()
        loader.base = reader.base = server.base
        load = load_base(server.base, loader.headers(), consent_for=data.BENCH_ORG)
        out["load"] = {
            "resources": load.resources,
            "by_type": load.by_type,
            "patients": len(load.patient_ids),
            "seconds": load.seconds,
            "per_second": load.per_second,
            "author": data.CORE_CENTER,
        }
        kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(load.by_type.items()))
        print(
            f"  loaded {kinds} as {data.CORE_CENTER} (tokens + gate on) in "
            f"{load.seconds:.2f} s ({load.per_second:,.0f} resources/s, transaction Bundles)"
        )
        # the reader sees the persons through their consents (not as their author)
        verify(server.base, load.patient_ids, reader.headers())
    return url, load.patient_ids, reader


def run_mode(
    mode: Mode,
    rep: int,
    backend: str,
    base_url: str,
    ids: list[str],
    reader: auth.BearerAuth,
    files: dict[str, Path],
    args: argparse.Namespace,
    out: dict[str, Any],
    scale: bool,
) -> None:
    """One mode's scenarios on a fresh copy of the base database; figures go into ``out``."""
    url = copy_database(base_url, mode.name)
    server = HubServer(
        url,
        args.workers,
        args.threads,
        args.out.parent / f"{backend}-{mode.name}-serve.log",
        env=mode.env(),
    )
    out.setdefault("server_log", str(server.log_path))
    out.setdefault("scenarios", {})
    out.setdefault("scale", [])
    source = report.source_fingerprint()
    print(f"  -- mode {mode.name} (run {rep}, hub source {source}): {mode.summary}", flush=True)
    try:
        with running(server):
            reader.base = server.base

            def headers() -> dict[str, str]:  # a fresh token per run (they live 300 s)
                return reader.headers() if mode.auth else {}

            verify(server.base, ids, headers())
            for scenario in args.scenarios:
                r, cpu = drive(scenario, server, files, args, args.duration, headers())
                out["scenarios"].setdefault(scenario, []).append(
                    {
                        **asdict(r),
                        "run": rep,
                        "hub_source": source,
                        "cpu": cpu,
                        "vs_medplum": report.verdict(scenario, r),
                    }
                )
                print(report.scenario_line(scenario, r) + report.cpu_note(cpu), flush=True)
            if scale:
                run_scale(server, url, ids, files, args, headers, out)
    finally:
        drop_database(url)


def run_scale(
    server: HubServer,
    url: str,
    ids: list[str],
    files: dict[str, Path],
    args: argparse.Namespace,
    headers: Callable[[], dict[str, str]],
    out: dict[str, Any],
) -> None:
    """Search latency as filler is bulk-loaded in-process up to each ``--scale`` size."""
    for size in args.scale:
        bulk = bulk_load(url, size)
        stored = bulk.before + bulk.added
        hdr = headers()
        verify(server.base, ids, hdr)  # still 20 matches; warms caches
        r, cpu = drive("search", server, files, args, args.scale_duration, hdr)
        out["scale"].append(
            {
                "stored": stored,
                "bulk_added": bulk.added,
                "bulk_seconds": bulk.seconds,
                "bulk_per_second": bulk.per_second,
                **asdict(r),
                "cpu": cpu,
            }
        )
        print(
            f"  {stored:>9,} stored (+{bulk.added:,} in {bulk.seconds:.0f} s, "
            f"{bulk.per_second:,.0f}/s): search {r.rps:.1f} req/s  p50 {r.p50_ms:.2f} ms"
            f"  p99 {r.p99_ms:.2f} ms  non-2xx {r.non2xx}{report.cpu_note(cpu)}",
            flush=True,
        )


def run_backend(backend: str, args: argparse.Namespace, workdir: Path, out: dict[str, Any]) -> None:
    """Everything for one backend: load once, then every mode (interleaved when repeated, so
    that a burst of foreign load hits the modes alike)."""
    base_url, ids, reader = prepare(backend, args, workdir, out)
    files = write_inputs(workdir, ids)
    for rep in range(1, args.repeat + 1):
        for i, name in enumerate(args.modes):
            mode_out = out["modes"].setdefault(name, {})
            scale = bool(args.scale) and i == 0 and rep == 1
            run_mode(MODES[name], rep, backend, base_url, ids, reader, files, args, mode_out, scale)


def failures(results: dict[str, Any]) -> list[str]:
    """Runs with non-2xx answers or socket errors, and backends that failed outright."""
    out = []
    for backend, b in results["backends"].items():
        for mode, r in b.get("modes", {}).items():
            runs = [
                *((f"{name} run {x['run']}", x) for name, xs in r.get("scenarios", {}).items()
                  for x in xs),
                *((f"scale {x['stored']}", x) for x in r.get("scale", [])),
            ]  # fmt: skip
            out += [
                f"{backend}/{mode}/{name}"
                for name, s in runs
                if s["non2xx"] or any(v for k, v in s["socket_errors"].items() if k != "status")
            ]
        if "error" in b:
            out.append(f"{backend} ({b['error'].splitlines()[0]})")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("bench: --repeat must be at least 1")
    wrk.require_wrk()
    data.check_names()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the hub
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {
        "environment": report.environment(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "reference": "Medplum 5.0.10, 2 cores, wrk 8 connections",
        "backends": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    try:
        for backend in backends:
            out: dict[str, Any] = {}
            results["backends"][backend] = out
            try:
                run_backend(backend, args, workdir, out)
            except Exception as exc:  # report it, keep what was measured, go on
                out["error"] = f"{type(exc).__name__}: {exc}"
                print(
                    f"  {backend} FAILED: {out['error']}\n  (server logs: "
                    f"{args.out.parent}/{backend}-*-serve.log)",
                    file=sys.stderr,
                    flush=True,
                )
            report.write(results, args.out)  # partial results survive a later failure
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n" + report.summary(results))
    report.write(results, args.out)
    print(f"\nresults: {args.out}")
    failed = failures(results)
    if failed:
        print(f"FAILED (non-2xx, socket errors or errors) in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
