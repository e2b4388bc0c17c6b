"""``hub seed`` through click's runner, on SQLite and PostgreSQL: it loads the persons, a
second run changes nothing, and the consents vary as the generator says."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from hub.auth import schema as auth_schema
from hub.cli import main
from hub.fhir.canonical import loads
from hub.ledger.log.schema import ledger_entry
from hub.seed.municipality import load
from hub.seed.people import ConsentVariant, person
from hub.store import schema as s

SIZE = 30  # the first 30 persons of seed 1 include every consent variant
AS_OF = "2026-11-23"


def _seed(database_url: str, data_dir: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        main,
        ["seed", "--size", str(SIZE), "--as-of", AS_OF, "--batch", "7", "--quiet"],
        env={"HUB_DATABASE_URL": database_url, "HUB_DATA_DIR": str(data_dir)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout[result.stdout.index("{") :]))


def _state(database_url: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            r, v = s.resource.c, s.resource_version.c
            return {
                "resources": sorted(conn.execute(select(r.res_type, r.res_id, r.version_id)).all()),
                "versions": conn.execute(
                    select(func.count()).select_from(s.resource_version)
                ).scalar_one(),
                "ledger": conn.execute(select(func.count()).select_from(ledger_entry)).scalar_one(),
                "clients": sorted(
                    conn.execute(select(auth_schema.oauth_client.c.client_id)).scalars()
                ),
                "consent_versions": conn.execute(
                    select(func.count())
                    .select_from(s.resource_version)
                    .where(v.res_type == "Consent")
                ).scalar_one(),
            }
    finally:
        engine.dispose()


def _consents(database_url: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(s.resource.c.content).where(s.resource.c.res_type == "Consent")
            ).scalars()
            bodies = [dict(loads(bytes(c))) for c in rows]
    finally:
        engine.dispose()
    return {b["patient"]["reference"]: b for b in bodies}


def _provider_permits(consent: dict[str, Any], refs: set[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for prov in consent["provision"].get("provision", []):
        for a in prov.get("actor", []):
            ref = a["reference"]["reference"]
            if ref in refs:
                out.setdefault(ref, set()).update(c["code"] for c in prov.get("purpose", []))
    return out


def test_seed_loads_then_changes_nothing(database_url: str, tmp_path: Path) -> None:
    first = _seed(database_url, tmp_path)
    assert first["loaded"] == SIZE and first["skipped"] == 0
    assert first["counts"]["Patient"] == SIZE
    assert first["counts"]["Organization"] == len(load().orgs)
    assert first["clients_changed"] == len(load().clients)
    # the AuditEvents' deferred version and index rows are all written before the report
    assert first["audit_backlog"]["written"] == first["counts"]["AuditEvent"] > SIZE
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.index_backlog)).scalar_one() == 0
    engine.dispose()
    before = _state(database_url)
    # every Consent version is on the ledger (issue 5: consent changes are ledgered)
    assert before["ledger"] >= before["consent_versions"] > SIZE
    # the private keys stay in the data dir (0600), the database has only public keys
    keys = tmp_path / "seed-clients.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    saved = json.loads(keys.read_text(encoding="utf-8"))["clients"]
    assert all("d" in c["private_jwk"] for c in saved.values())
    assert sorted(c["client_id"] for c in saved.values()) == before["clients"]
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(auth_schema.oauth_client.c.jwks)).scalars().all()
    engine.dispose()
    assert stored and all('"d"' not in str(j) for j in stored)

    again = _seed(database_url, tmp_path)
    assert again["loaded"] == 0 and again["skipped"] == SIZE
    assert again["directory_written"] == 0 and again["clients_changed"] == 0
    assert again["audit_backlog"]["written"] == 0
    assert _state(database_url) == before  # no resource, version, ledger entry or client more


def test_consents_vary_as_drawn(database_url: str, tmp_path: Path) -> None:
    _seed(database_url, tmp_path)
    consents = _consents(database_url)
    m = load()
    seen = set()
    for i in range(SIZE):
        p = person(1, i, date.fromisoformat(AS_OF), m)
        consent = consents[p.ref]
        refs = {o.ref for o in p.providers}
        permits = _provider_permits(consent, refs)
        seen.add(p.consent)
        if p.consent is ConsentVariant.WITHDRAWN:
            assert consent["status"] == "inactive", p.ref
            continue
        assert consent["status"] == "active", p.ref
        if p.consent is ConsentVariant.PLAIN:
            assert set(permits) == refs and all("TREAT" in v for v in permits.values())
        elif p.consent is ConsentVariant.DROP_PROVIDER:
            assert set(permits) == refs - {p.providers[-1].ref}
            assert consent["dateTime"] == p.changed.isoformat()
        else:
            assert set(permits) == refs and all(v == {"ETREAT"} for v in permits.values())
    assert seen == set(ConsentVariant)


def test_seed_refuses_a_database_with_other_persons(database_url: str, tmp_path: Path) -> None:
    """``hub seed`` registers demo clients (one with break-glass power): it refuses a database
    that holds persons it did not make, unless ``--force``."""
    from hub.app import create_app
    from hub.config import Settings
    from hub.store.repository import Repository

    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, auto_migrate=True))
    with app.extensions["hub.db"].unit(write=True) as conn:
        Repository(conn).create({"resourceType": "Patient", "gender": "female"}, res_id="real-1")
    app.extensions["hub.db"].dispose()
    env = {"HUB_DATABASE_URL": database_url, "HUB_DATA_DIR": str(tmp_path)}
    refused = CliRunner().invoke(main, ["seed", "--size", "1", "--quiet"], env=env)
    assert refused.exit_code == 1
    assert "Patient/real-1" in refused.output and "--force" in refused.output
    assert not (tmp_path / "seed-clients.json").exists()
    forced = CliRunner().invoke(main, ["seed", "--size", "1", "--quiet", "--force"], env=env)
    assert forced.exit_code == 0, forced.output
