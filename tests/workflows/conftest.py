"""The workflow tests' world: a hub with the jp-hub profiles loaded and four clients with
tokens (a consultation office, the core center, providers A and B)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.auth import schema as _auth_schema  # noqa: F401  (tables on the shared metadata)
from tests.access import World
from tests.auth.helpers import Hub, make_app
from tests.workflows.test_end_to_end import ALL, CORE, OFFICE, PROV_A, PROV_B


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    app = make_app(database_url, tmp_path, auto_migrate=True)  # loads profiles/jp-hub
    w = World(Hub(app))
    for name, org in (("office", OFFICE), ("core", CORE), ("a", PROV_A), ("b", PROV_B)):
        w.client(name, org, ALL)
        w.tokens[name] = w.token(name, ALL, None if name == "office" else "TREAT")
    yield w
    app.extensions["hub.db"].dispose()
