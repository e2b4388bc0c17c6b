"""Alembic environment: the hub's schema metadata, online migrations only."""

from __future__ import annotations

from alembic import context

import hub.access.schema
import hub.auth.schema  # the auth tables, revision 0002
import hub.ledger.log.schema  # noqa: F401  (the ledger tables, revision 0004)
from hub.store.schema import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from hub.store.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as conn:
            context.configure(
                connection=conn, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
