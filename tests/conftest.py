"""Shared fixtures: a migrated database per backend, and Flask apps over it.

Every test that takes ``database_url`` runs on SQLite (a temp file) and, when
``HUB_TEST_DATABASE_URL`` is set, on that database too (PostgreSQL in CI). Tables are emptied
before each test, so tests see only their own data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hub.config import Settings

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


def _reset_schema(engine: Engine) -> None:
    """Drop every table (PostgreSQL: the whole public schema) before migrating afresh."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    from hub.store.db import make_engine
    from hub.store.migrate import upgrade

    engines: dict[str, Engine] = {}
    sqlite_file = Path(tmp_path_factory.mktemp("db")) / "hub.sqlite3"
    engines["sqlite"] = make_engine(f"sqlite:///{sqlite_file}")
    if PG_URL:
        engines["postgresql"] = make_engine(PG_URL, pool_size=5)
        _reset_schema(engines["postgresql"])
    for engine in engines.values():
        upgrade(engine)
    yield engines
    for engine in engines.values():
        engine.dispose()


def empty_tables(engine: Engine) -> None:
    from hub.store.schema import metadata

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, _migrated: dict[str, Engine]) -> str:
    engine = _migrated[request.param]
    empty_tables(engine)
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for the FHIR core's own tests: no tokens (every caller is the system)."""
    return Settings(
        database_url=database_url, data_dir=tmp_path, auth_required=False, auto_migrate=False
    )


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    from hub.app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["hub.db"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()
