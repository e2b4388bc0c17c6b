"""The ``hub`` command: serve, init, and (as issues land) clients, seed, ledger, audit."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from hub.config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="community-support-hub")
def main() -> None:
    """Records hub for community living support bases (地域生活支援拠点等): a FHIR R4 server.

    The database comes from HUB_DATABASE_URL (default: a SQLite file in ./data,
    or in HUB_DATA_DIR).
    """


@main.command()
def init() -> None:
    """Create or upgrade the database schema (alembic migrations)."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from hub.store.db import make_engine
    from hub.store.migrate import current_revision, upgrade

    settings = Settings.from_env()
    try:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        from hub.workflows.conformance import install_conformance

        loaded = install_conformance(engine)
    except (ArgumentError, NoSuchModuleError, OperationalError) as exc:
        reason = str(exc.orig if isinstance(exc, OperationalError) else exc).splitlines()[0]
        raise click.ClickException(
            f"cannot open the database (HUB_DATABASE_URL): {reason}"
        ) from None
    click.echo(
        json.dumps(
            {
                "database": engine.url.render_as_string(hide_password=True),
                "revision": current_revision(engine),
                "profiles": {
                    "created": len(loaded.created),
                    "updated": len(loaded.updated),
                    "unchanged": len(loaded.unchanged),
                },
            }
        )
    )


class _Gunicorn:  # built lazily so that `hub --help` does not import gunicorn
    @staticmethod
    def run(options: dict[str, Any]) -> None:
        from gunicorn.app.base import BaseApplication

        class App(BaseApplication):
            def load_config(self) -> None:
                for key, value in options.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                from hub.wsgi import app

                return app

        App().run()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=int,
    help="gunicorn worker processes (production mode).",
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=int,
    help="Threads per worker (gthread: keep-alive connections).",
)
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
def serve(host: str, port: int, workers: int, threads: int, dev: bool) -> None:
    """Run the hub: gunicorn with several workers, or --dev for Flask's server."""
    from hub.store.db import make_engine
    from hub.store.migrate import upgrade

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    from hub.workflows.conformance import install_conformance

    install_conformance(engine)
    from hub.store.db import Database

    Database(engine).dispose()  # its threads end: none may be alive when gunicorn forks
    os.environ["HUB_AUTO_MIGRATE"] = "0"  # migrated (and profiles loaded) once, not per worker
    click.echo(
        f"hub: FHIR endpoint http://{host}:{port}/fhir  "
        f"(database {settings.database_url.split('@')[-1]})",
        err=True,
    )
    if dev:
        from hub.app import create_app

        create_app(Settings.from_env()).run(host=host, port=port, threaded=True)
        return
    _Gunicorn.run(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "keepalive": 30,
            "accesslog": None,
            "loglevel": "warning",
        }
    )


@main.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of standard output (the repository keeps "
    "openapi/openapi.json).",
)
def openapi(output: str | None) -> None:
    """Print the OpenAPI 3.0 document of the HTTP API (no database needed)."""
    import tempfile
    from pathlib import Path

    from hub.app import create_app
    from hub.openapi import document

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/openapi.sqlite3", data_dir=Path(tmp), auto_migrate=False
        )
        app = create_app(settings)
        text = json.dumps(document(app.extensions["hub.api"]), indent=2, sort_keys=True)
        app.extensions["hub.db"].dispose()
    if output is None:
        click.echo(text)
    else:
        Path(output).write_text(text + "\n", encoding="utf-8")


from hub.auth.cli import admin_token, client_group  # noqa: E402 (registered after main)

main.add_command(client_group)
main.add_command(admin_token)

from hub.ledger.log.cli import ledger_group  # noqa: E402

main.add_command(ledger_group)

from hub.audit.cli import audit_group  # noqa: E402

main.add_command(audit_group)

from hub.seed.cli import demo_command, seed_command  # noqa: E402

main.add_command(seed_command)
main.add_command(demo_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
