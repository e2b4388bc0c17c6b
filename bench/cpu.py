"""Who used the CPUs during a run (Linux ``/proc``): the hub, wrk, or someone else.

On a shared 2-core machine a test suite running next to the benchmark halves its figures;
``Meter`` measures the share of all CPUs that processes *outside* the benchmark used, so that
every figure carries its own contamination note.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _process_ticks(pids: Iterable[int]) -> dict[int, int]:
    """utime + stime per pid (children it reaped included); vanished pids are left out."""
    out = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        f = stat.rsplit(")", 1)[1].split()
        out[pid] = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return out


def _own_ticks() -> int:
    hz = os.sysconf("SC_CLK_TCK")
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once reaped
    return round((own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime) * hz)


class Meter:
    """``start()`` … ``stop()`` → shares of all CPUs (0..1) used by the hub's processes, its
    database's server processes (PostgreSQL backends), the benchmark itself (wrk included),
    and everything else."""

    def __init__(
        self, hub_pids: Callable[[], list[int]], db_pids: Callable[[], list[int]] = list
    ) -> None:
        self.groups = {"cpu_hub": hub_pids, "cpu_db": db_pids}
        self.busy = self.total = self.own = 0
        self.before: dict[str, dict[int, int]] = {}

    def start(self) -> None:
        self.busy, self.total = _machine_ticks()
        self.before = {k: _process_ticks(f()) for k, f in self.groups.items()}
        self.own = _own_ticks()

    def stop(self) -> dict[str, float]:
        busy, total = _machine_ticks()
        span = max(1, total - self.total)
        used = {"cpu_bench": _own_ticks() - self.own}
        for key, pids in self.groups.items():
            then = self.before[key]
            now = _process_ticks({*then, *pids()})
            used[key] = sum(t - then.get(pid, 0) for pid, t in now.items())
        used["cpu_other"] = max(0, busy - self.busy - sum(used.values()))
        return {k: round(v / span, 3) for k, v in used.items()}


def busy_share(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over the next ``seconds``."""
    busy0, total0 = _machine_ticks()
    time.sleep(seconds)
    busy1, total1 = _machine_ticks()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_idle(max_wait: float, threshold: float = 0.10) -> float:
    """Before a run (the hub idle): wait up to ``max_wait`` s for the CPUs to be quiet for
    3 s in a row; returns the last busy share measured."""
    deadline = time.monotonic() + max_wait
    quiet, share = 0, 0.0
    while time.monotonic() < deadline and quiet < 3:
        share = busy_share()
        quiet = quiet + 1 if share < threshold else 0
    return share
