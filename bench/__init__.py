"""The hub's HTTP benchmark (issue 2, "Performance"): ``python3 -m bench``.

For each backend it starts ``hub serve`` (gunicorn, production mode) on a fresh database,
loads 1,000 Patients + 5,000 Observations through transaction Bundles, and drives wrk with
8 keep-alive connections per scenario (read, search, create). ``--scale`` then bulk-loads
filler resources in-process and measures the same search at each store size.

Modules: ``data`` (synthetic JP Core resources), ``server`` (databases and the server
subprocess), ``load`` (HTTP and in-process loading), ``wrk`` (the load tool and its Lua
script), ``auth`` (bearer tokens), ``report`` (table and JSON).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    """A figure measured for Medplum 5.0.10 on this machine kind (2 cores, wrk, 8 connections)."""

    rps: float
    p50_ms: float


#: Medplum server 5.0.10 (Node, PostgreSQL, Redis) — from issue 2.
MEDPLUM = {
    "read": Reference(rps=912.0, p50_ms=7.6),
    "search": Reference(rps=303.0, p50_ms=24.0),
    "create": Reference(rps=324.0, p50_ms=24.0),
}
#: The hub aims to beat each reference by this factor (throughput up, p50 latency down).
TARGET = 1.5
SCENARIOS = ("read", "search", "create")
