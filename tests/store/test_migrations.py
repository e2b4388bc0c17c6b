"""The alembic migrations create exactly the schema the code declares (no drift)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import hub.access.schema
import hub.auth.schema
import hub.ledger.log.schema  # noqa: F401
from hub.store.schema import metadata


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        dialect = conn.dialect.name
    engine.dispose()
    # ix_string_prefix is declared with ``ddl_if(dialect="postgresql")``: SQLite never has it,
    # and autogenerate does not read ``ddl_if``.
    if dialect != "postgresql":
        diff = [d for d in diff if not (d[0] == "add_index" and d[1].name == "ix_string_prefix")]
    assert diff == []


def test_head_revision_is_applied(database_url: str) -> None:
    from hub.store.db import make_engine
    from hub.store.migrate import current_revision

    engine = make_engine(database_url)
    assert current_revision(engine) == "0008"
    engine.dispose()
