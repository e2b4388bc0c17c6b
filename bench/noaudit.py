"""``python3 -m bench.noaudit serve …``: ``hub serve`` with the audit record turned off — the
benchmark's baseline only (``bench.audit_cost --http``).

The hub has no switch to stop auditing, and must not have one; this module, which only the
benchmark runs, replaces ``hub.audit.recorder.write`` with a no-op *before* ``hub serve``
forks its gunicorn workers (they inherit the patched module), so the server answers the same
reads through the same code with no AuditEvent and no ledger entry written.
"""

from __future__ import annotations

from typing import Any


def _off(repo: Any, record: Any) -> None:
    return None


def main() -> None:
    from hub.audit import recorder
    from hub.cli import main as hub_main

    recorder.write = _off  # type: ignore[assignment]
    hub_main()


if __name__ == "__main__":
    main()
