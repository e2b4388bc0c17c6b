"""Loading the demo municipality through the hub's own processing, in-process.

Every write goes through ``hub.resources.routes.dispatch`` — the one path every HTTP request
and Bundle entry takes — so it passes the same scope checks, consent gate, care-plan rules and
audit as over HTTP, and every Consent version is appended to the ledger in the same
transaction. Each write acts as the organization that makes it in real life, with the scopes
of its seeded client (a ``SmartContext`` without the token exchange): the consultation office
registers its persons (``Patient/$register``), writes the サービス等利用計画, files the health
certificate and records a later consent change; each provider writes its own 個別支援計画.
Directory data (Organizations, HealthcareServices, Practitioners, roles) is written by the hub
itself (``SystemContext``).

Bulk path: persons are loaded in batches, one database transaction per batch (``batch``
persons; default 100), instead of one per request — the per-person work is unchanged, only
the commits are shared. A batch is atomic: a person is either fully loaded or absent.

Idempotent: ids are stable (``hub.seed.people.patient_id`` and ids derived from it);
persons whose Patient already exists are skipped without being drawn, and directory
resources whose stored content is unchanged are not written (so a second run writes
nothing — not even audit records).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from hub.auth.context import SmartContext
from hub.auth.scopes import parse_scopes
from hub.fhir.canonical import loads
from hub.fhir.errors import FhirError
from hub.resources.context import SystemContext
from hub.resources.request import FhirRequest, FhirResponse
from hub.resources.routes import apply_args, dispatch, match
from hub.seed import documents as doc
from hub.seed.clients import SeedClient
from hub.seed.health import health_certificate
from hub.seed.municipality import Municipality, directory
from hub.seed.people import Person, patient_id, person
from hub.store import schema as s
from hub.store.db import Database
from hub.store.repository import Repository

SEED_ACTOR = SystemContext("hub seed")


def foreign_patient(db: Database) -> str | None:
    """The id of a Patient that no seed made (seed ids are ``md<seed>-<index>``), if any."""
    with db.unit(write=False) as conn:
        for (rid,) in conn.execute(
            select(s.resource.c.res_id)
            .where(s.resource.c.res_type == "Patient", s.resource.c.deleted.is_(False))
            .where(s.resource.c.res_id.not_like("md%-%"))
            .limit(1)
        ):
            return str(rid)
    return None


class SeedError(RuntimeError):
    """A seed write the hub refused (names the person and the request)."""


@dataclass
class SeedReport:
    """What one ``hub seed`` run did."""

    size: int
    seed: int
    as_of: str
    loaded: int = 0
    skipped: int = 0
    directory_written: int = 0
    clients_changed: int = 0
    seconds: float = 0.0
    #: AuditEvents whose version and index rows the seed wrote at the end (hub.store.backlog)
    audit_rows_written: int = 0
    audit_rows_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        per = self.seconds / self.loaded * 1000 if self.loaded else 0.0
        return {
            "persons": self.size,
            "seed": self.seed,
            "as_of": self.as_of,
            "loaded": self.loaded,
            "skipped": self.skipped,
            "directory_written": self.directory_written,
            "clients_changed": self.clients_changed,
            "seconds": round(self.seconds, 2),
            "ms_per_person": round(per, 1),
            "audit_backlog": {
                "written": self.audit_rows_written,
                "seconds": round(self.audit_rows_seconds, 2),
            },
            "counts": self.counts,
        }


def client_context(client: SeedClient) -> SmartContext:
    """Act as ``client`` (its organization and scopes), as a token of it would."""
    return SmartContext(
        client_id=client.client_id,
        organization=client.organization,
        scopes=parse_scopes(client.scope),
        purpose_of_use=None,
        token_id=0,
        break_glass=False,
        privacy_officer=False,
    )


class Loader:
    """Writes the municipality into one hub database (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        m: Municipality,
        clients: dict[str, SeedClient],
        base: str = "http://localhost/fhir",
    ) -> None:
        self.db = db
        self.m = m
        self.base = base
        self.contexts = {
            c.organization: client_context(c) for c in clients.values() if not c.privacy_officer
        }

    # -- one interaction -----------------------------------------------------------------------

    def call(
        self, conn: Connection, context: Any, method: str, path: str, body: Any = None
    ) -> FhirResponse:
        route, args = match(method, path)
        req = FhirRequest(method=method, base=self.base, body=body, context=context)
        from hub.audit.recorder import AuditTrail

        req.audit = AuditTrail(address=None)
        apply_args(req, args)
        return dispatch(route, req, Repository(conn))

    def _as(self, org_ref: str) -> Any:
        try:
            return self.contexts[org_ref]
        except KeyError:
            raise SeedError(f"no seeded client acts for {org_ref}") from None

    # -- the directory -------------------------------------------------------------------------

    def load_directory(self) -> int:
        """PUT every directory resource whose stored content differs; return how many."""
        written = 0
        with self.db.unit(write=True) as conn:
            repo = Repository(conn)
            for body in directory(self.m):
                rtype, rid = body["resourceType"], body["id"]
                stored = repo.read(rtype, rid)
                if stored is not None and not stored.deleted and stored.content:
                    current = {k: v for k, v in loads(stored.content).items() if k != "meta"}
                    if current == body:
                        continue
                self.call(conn, SEED_ACTOR, "PUT", f"{rtype}/{rid}", body)
                written += 1
        return written

    # -- persons -------------------------------------------------------------------------------

    def existing(self, conn: Connection, ids: list[str]) -> set[str]:
        rows = conn.execute(
            select(s.resource.c.res_id).where(
                s.resource.c.res_type == "Patient", s.resource.c.res_id.in_(ids)
            )
        )
        return {r[0] for r in rows}

    def load_person(self, conn: Connection, p: Person, as_of: date) -> None:
        """Everything of one person, in the order it happens in real life."""
        office = self._as(p.office.ref)
        step = "Patient/$register"
        try:
            result = self.call(
                conn, office, "POST", "Patient/$register", doc.register_parameters(p, self.m)
            )
            consent_ref = next(
                prm["valueReference"]["reference"]
                for prm in (result.resource or {})["parameter"]
                if prm["name"] == "consent"
            )
            plan = doc.service_use_plan(p, as_of)
            if plan is not None:
                step = "service-use plan"
                self.call(conn, office, "PUT", f"CarePlan/{plan['id']}", plan)
                for org, body in doc.individual_plans(p, self.m):
                    step = f"individual support plan of {org.id}"
                    self.call(conn, self._as(org.ref), "PUT", f"CarePlan/{body['id']}", body)
            certificate = health_certificate(p)
            if certificate is not None:
                step = "health certificate"
                path = f"QuestionnaireResponse/{certificate['id']}"
                self.call(conn, office, "PUT", path, certificate)
            stored = Repository(conn).read(*consent_ref.split("/", 1))
            current = dict(loads(stored.content)) if stored and stored.content else {}
            changed = doc.changed_consent(p, current)
            if changed is not None:
                step = f"consent change ({p.consent})"
                self.call(conn, office, "PUT", consent_ref, changed)
        except FhirError as err:
            issues = "; ".join(f"{i.diagnostics} [{', '.join(i.expression)}]" for i in err.issues)
            raise SeedError(f"{p.ref} ({p.name}), {step}: {err.status} {issues}") from None

    def load_people(
        self,
        size: int,
        seed: int,
        as_of: date,
        *,
        batch: int = 100,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[int, int]:
        """Load persons 0..size-1 (skipping those present); return (loaded, skipped)."""
        loaded = skipped = 0
        for start in range(0, size, batch):
            ids = [patient_id(seed, i) for i in range(start, min(size, start + batch))]
            with self.db.unit(write=True) as conn:
                present = self.existing(conn, ids)
                for offset, pid in enumerate(ids):
                    if pid in present:
                        skipped += 1
                    else:
                        self.load_person(conn, person(seed, start + offset, as_of, self.m), as_of)
                        loaded += 1
            if progress is not None:
                progress(len(ids))
        return loaded, skipped


def counts(db: Database) -> dict[str, int]:
    """Current resources per type, versions and ledger entries (to show a run's effect)."""
    from hub.ledger.log.schema import ledger_entry

    with db.unit(write=False) as conn:
        rows = conn.execute(
            select(s.resource.c.res_type, func.count())
            .where(s.resource.c.deleted.is_(False))
            .group_by(s.resource.c.res_type)
        )
        out = {str(t): int(n) for t, n in rows}
        out["(versions)"] = int(
            conn.execute(select(func.count()).select_from(s.resource_version)).scalar_one()
        )
        out["(ledger entries)"] = int(
            conn.execute(select(func.count()).select_from(ledger_entry)).scalar_one()
        )
    return dict(sorted(out.items()))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t
