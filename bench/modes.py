"""Security modes the benchmark compares, and the ratios between them (issues 3 and 4).

* ``noauth`` — ``HUB_AUTH=off``: every caller is the unrestricted system (no token, no scope
  check, no consent gate; every interaction still writes its AuditEvent).
* ``auth-nogate`` — SMART Backend Services bearer tokens and scope checks on,
  ``HUB_CONSENT_GATE=off``: the cost of tokens alone.
* ``auth`` — tokens, scopes and the consent gate (production): every read of a person's data
  is decided by their Consent.

Ratios: ``auth/noauth`` is what security as a whole costs; ``auth/auth-nogate`` is what the
consent gate costs (issue 4's aim: the gate costs under 15 % of read throughput, i.e.
``gate_cost = 1 − rps(auth) / rps(auth-nogate) < 0.15``).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Issue 4: the gate should cost under this share of read throughput.
GATE_BUDGET = 0.15


@dataclass(frozen=True)
class Mode:
    name: str
    auth: bool
    gate: bool
    summary: str

    def env(self) -> dict[str, str]:
        """The server's environment for this mode (``hub.config``)."""
        return {
            "HUB_AUTH": "on" if self.auth else "off",
            "HUB_CONSENT_GATE": "on" if self.gate else "off",
        }


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("noauth", False, False, "HUB_AUTH=off: no tokens, no gate (audit still on)"),
        Mode("auth-nogate", True, False, "bearer tokens + scopes, HUB_CONSENT_GATE=off"),
        Mode("auth", True, True, "bearer tokens + scopes + consent gate (production)"),
    )
}


def parse_modes(text: str) -> list[str]:
    """``"noauth,auth"`` → ``["noauth", "auth"]`` (order kept, duplicates dropped);
    ``"all"`` → every mode. Raises ``ArgumentTypeError`` for an unknown or empty list."""
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        for n in MODES if name == "all" else [name]:
            if n not in MODES:
                raise argparse.ArgumentTypeError(
                    f"unknown mode {raw.strip()!r}; known: {', '.join(MODES)} (or all)"
                )
            if n not in names:
                names.append(n)
    if not names:
        raise argparse.ArgumentTypeError(f"no mode given; known: {', '.join(MODES)}")
    return names


def central(runs: Iterable[Mapping[str, Any]]) -> dict[str, float] | None:
    """The median of repeated runs of one configuration (req/s, p50, p99; non-2xx summed).
    None without runs."""
    rs = list(runs)
    if not rs:
        return None
    return {
        "rps": float(statistics.median(r["rps"] for r in rs)),
        "p50_ms": float(statistics.median(r["p50_ms"] for r in rs)),
        "p99_ms": float(statistics.median(r["p99_ms"] for r in rs)),
        "non2xx": float(sum(r["non2xx"] for r in rs)),
        "runs": float(len(rs)),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or None when either is missing or ``b`` is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def compare(by_mode: Mapping[str, Mapping[str, float] | None]) -> dict[str, float | None]:
    """Ratios between modes for one backend and scenario, from ``central`` figures per mode.

    ``*_rps`` ratios are throughput ratios (below 1: the secured mode is slower); ``*_p50``
    ratios are latency ratios (above 1: the secured mode is slower); ``gate_cost`` is the share
    of auth-nogate throughput the consent gate takes away. A ratio is None when a mode is
    missing, or when a run had non-2xx answers (its figure would be meaningless)."""

    def get(mode: str, key: str) -> float | None:
        m = by_mode.get(mode)
        if not m or m.get("non2xx"):
            return None
        return m[key]

    gate_rps = ratio(get("auth", "rps"), get("auth-nogate", "rps"))
    return {
        "auth/noauth_rps": ratio(get("auth", "rps"), get("noauth", "rps")),
        "auth/noauth_p50": ratio(get("auth", "p50_ms"), get("noauth", "p50_ms")),
        "auth/auth-nogate_rps": gate_rps,
        "auth/auth-nogate_p50": ratio(get("auth", "p50_ms"), get("auth-nogate", "p50_ms")),
        "auth-nogate/noauth_rps": ratio(get("auth-nogate", "rps"), get("noauth", "rps")),
        "gate_cost": None if gate_rps is None else 1.0 - gate_rps,
    }
