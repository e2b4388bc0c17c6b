"""Settings from environment variables (12-factor); see README "Configuration"."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("data")


def _default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'hub.sqlite3').resolve()}"


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one hub instance."""

    #: SQLAlchemy URL. Default: a SQLite file ``data/hub.sqlite3`` (``HUB_DATA_DIR``).
    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    #: Public base URL of the FHIR endpoint (``https://hub.example.jp/fhir``); when empty the
    #: request's own host URL is used.
    base_url: str = ""
    #: Largest ``_count`` a search may ask for, and the default page size.
    max_count: int = 1000
    default_count: int = 20
    #: SQLAlchemy engine options (pool sizes) — tests and the CLI may override.
    engine_options: dict[str, Any] = field(default_factory=dict)
    #: Create/upgrade the schema on start (``hub init`` does it explicitly).
    auto_migrate: bool = True
    #: SMART Backend Services tokens required on /fhir (``HUB_AUTH=off`` only for local
    #: benchmarks and the core's own tests: every caller is then the unrestricted system).
    auth_required: bool = True
    #: Lifetime of SMART access tokens in seconds (``HUB_TOKEN_LIFETIME``; SMART: ≤ 300).
    token_lifetime: int = 300
    #: The consent gate decides every read (``HUB_CONSENT_GATE=off`` exists only so that the
    #: benchmark can measure what the gate costs; the hub logs a warning when it is off, and
    #: every access is still audited).
    consent_gate: bool = True
    #: The ledger's Ed25519 signing key (PKCS#8 PEM; ``HUB_LEDGER_KEY_FILE``); when unset,
    #: ``<data_dir>/ledger-ed25519.pem``, created (0600) on first use.
    ledger_key_file: Path | None = None
    #: A signed checkpoint every N ledger entries (``HUB_CHECKPOINT_EVERY``; 0 = on demand only).
    checkpoint_every: int = 1000
    #: ... and on the first append once the newest checkpoint is T seconds old
    #: (``HUB_CHECKPOINT_SECONDS``; 0 = off).
    checkpoint_seconds: int = 3600
    #: Years each third-party provision record must be kept (個人情報保護法施行規則 21条: 3 years
    #: as a rule). The hub deletes no audit data; each record states its ``retain_until``.
    audit_retention_years: int = 3
    #: The ledger's origin line and signing key name (``HUB_LEDGER_ORIGIN``;
    #: c2sp.org/tlog-checkpoint).
    ledger_origin: str = "community-support-hub/ledger"
    #: Months a health certificate (健康診断書共通様式) stays valid from its issue date — the
    #: base sets it (``HUB_CERTIFICATE_VALID_MONTHS``).
    certificate_valid_months: int = 12
    #: Seconds without an audited interaction (in a server process) before a background thread
    #: writes the waiting AuditEvents' search index — at once when 10,000 wait
    #: (``HUB_AUDIT_INDEX_DELAY``; 0 = no thread: each AuditEvent search first indexes what is
    #: waiting). Either way a search sees every record (``hub.store.backlog``).
    audit_index_delay: float = 2.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        e = os.environ if env is None else env
        data_dir = Path(e.get("HUB_DATA_DIR", str(DEFAULT_DATA_DIR)))
        settings = cls(
            database_url=e.get("HUB_DATABASE_URL") or _default_database_url(data_dir),
            data_dir=data_dir,
            base_url=e.get("HUB_BASE_URL", "").rstrip("/"),
            max_count=int(e.get("HUB_MAX_COUNT", "1000")),
            default_count=int(e.get("HUB_DEFAULT_COUNT", "20")),
            auto_migrate=e.get("HUB_AUTO_MIGRATE", "1") not in ("0", "false", "no"),
            auth_required=e.get("HUB_AUTH", "on") not in ("off", "0", "false", "no"),
            token_lifetime=int(e.get("HUB_TOKEN_LIFETIME", "300")),
            consent_gate=e.get("HUB_CONSENT_GATE", "on") not in ("off", "0", "false", "no"),
            ledger_key_file=Path(e["HUB_LEDGER_KEY_FILE"])
            if e.get("HUB_LEDGER_KEY_FILE")
            else None,
            checkpoint_every=int(e.get("HUB_CHECKPOINT_EVERY", "1000")),
            checkpoint_seconds=int(e.get("HUB_CHECKPOINT_SECONDS", "3600")),
            audit_retention_years=int(e.get("HUB_AUDIT_RETENTION_YEARS", "3")),
            ledger_origin=e.get("HUB_LEDGER_ORIGIN") or "community-support-hub/ledger",
            certificate_valid_months=int(e.get("HUB_CERTIFICATE_VALID_MONTHS", "12")),
            audit_index_delay=float(e.get("HUB_AUDIT_INDEX_DELAY", "2")),
        )
        return replace(settings, **overrides)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
