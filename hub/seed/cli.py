"""``hub seed`` and ``hub demo``: the fictional municipality, loaded and shown at work."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import date
from typing import Any

import click

from hub.config import Settings

DEFAULT_SIZE = 60
DEFAULT_SEED = 1


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def run_seed(
    settings: Settings,
    size: int,
    seed: int,
    as_of: date,
    *,
    batch: int = 100,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Create/upgrade the schema, register the clients, load the directory and the persons;
    return the report (``SeedReport.to_json``) plus where the client keys are."""
    from tqdm import tqdm

    from hub.app import create_app
    from hub.auth.clients import ClientRegistry
    from hub.seed import load as ld
    from hub.seed.clients import clients_file, ensure_clients
    from hub.seed.municipality import load as load_municipality

    settings = replace(settings, auto_migrate=True, audit_index_delay=0)  # drained at the end
    app = create_app(settings)
    db = app.extensions["hub.db"]
    try:
        if not force and (other := ld.foreign_patient(db)) is not None:
            raise ld.SeedError(
                f"this database holds persons that are not the demo's (Patient/{other}); "
                "hub seed registers demo clients (one with break-glass power) and fictional "
                "persons, so it is for demo and benchmark databases only (--force to seed anyway)"
            )
        m = load_municipality()
        report = ld.SeedReport(size=size, seed=seed, as_of=as_of.isoformat())
        base = settings.base_url or "http://127.0.0.1:8080/fhir"
        token_url = base.rsplit("/fhir", 1)[0] + "/auth/token"
        clients, report.clients_changed = ensure_clients(
            ClientRegistry(db), m, settings.data_dir, token_url
        )
        loader = ld.Loader(db, m, clients, base)
        report.directory_written = loader.load_directory()
        interactive = sys.stderr.isatty()
        with tqdm(
            total=size,
            unit="person",
            desc="hub seed",
            disable=not progress,
            mininterval=0.5 if interactive else 30.0,
            file=sys.stderr,
        ) as bar:
            (loaded, skipped), report.seconds = ld.timed(
                lambda: loader.load_people(size, seed, as_of, batch=batch, progress=bar.update)
            )
        report.loaded, report.skipped = loaded, skipped
        from hub.store.backlog import drain  # the AuditEvents' version and index rows, now

        report.audit_rows_written, report.audit_rows_seconds = ld.timed(lambda: drain(db.engine))
        report.counts = ld.counts(db)
        out = report.to_json()
        out["clients_file"] = str(clients_file(settings.data_dir))
        out["database"] = db.engine.url.render_as_string(hide_password=True)
        return out
    finally:
        db.dispose()


@click.command("seed")
@click.option(
    "--size",
    default=DEFAULT_SIZE,
    show_default=True,
    type=click.IntRange(0, 10_000_000),
    help="How many fictional persons to register.",
)
@click.option(
    "--seed",
    "seed",
    default=DEFAULT_SEED,
    show_default=True,
    type=int,
    help="The random seed: the same seed (and --as-of) gives the same persons.",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YYYY-MM-DD",
    help="The day the data is drawn relative to (filing dates, certificate ages); default today.",
)
@click.option(
    "--batch",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Persons per database transaction.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--force",
    is_flag=True,
    help="Seed even a database that holds other persons (never a production database).",
)
def seed_command(
    size: int, seed: int, as_of: str | None, batch: int, quiet: bool, force: bool
) -> None:
    """Load the fictional municipality みどり野市 (seed/municipality.json) and SIZE persons.

    Registers the municipality's API clients (keys made now; private keys and client ids
    in <HUB_DATA_DIR>/seed-clients.json, mode 0600), writes the directory and registers each
    person through the hub's own processing — Patient/$register by the consultation office,
    care plans, health certificates, later consent changes — audited and ledgered like any
    request. Idempotent: persons already loaded are skipped. Prints a JSON report.
    """
    from hub.seed.load import SeedError

    settings = Settings.from_env()
    try:
        report = run_seed(
            settings, size, seed, _as_of(as_of), batch=batch, progress=not quiet, force=force
        )
    except SeedError as exc:
        raise click.ClickException(f"seed refused: {exc}") from None
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


@click.command("demo")
@click.option("--port", default=0, type=int, help="Port for the hub (default: a free one).")
@click.option(
    "--exit",
    "exit_after",
    is_flag=True,
    help="Stop the hub after the story and exit (status 1 if a step did not behave).",
)
@click.option(
    "--size",
    default=DEFAULT_SIZE,
    show_default=True,
    type=click.IntRange(1, 10_000_000),
    help="Persons to seed when the database is not seeded yet.",
)
def demo_command(port: int, exit_after: bool, size: int) -> None:
    """Seed (if needed), start `hub serve` with tokens required, and walk the story
    through the HTTP API: consent-gated reads, a withdrawal, break-glass, and the privacy
    officer's audit trail and ledger check."""
    from hub.seed.demo import run_demo

    settings = Settings.from_env()
    from hub.seed.load import SeedError

    try:
        code = run_demo(settings, port=port, keep_serving=not exit_after, size=size)
    except SeedError as exc:
        raise click.ClickException(f"seed refused: {exc}") from None
    sys.exit(code)
