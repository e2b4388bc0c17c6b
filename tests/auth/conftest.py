"""Fixtures for the authorization server tests: a hub app with tokens required."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

# the auth tables must be on the shared metadata before the table-emptying fixture runs
from hub.auth import schema as _auth_schema  # noqa: F401
from hub.auth.events import clear_events
from tests.auth.helpers import Hub, make_app


@pytest.fixture(autouse=True)
def _fresh_events() -> None:
    clear_events()


@pytest.fixture
def hub_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path)
    yield app
    app.extensions["hub.db"].dispose()


@pytest.fixture
def hub(hub_app: Flask) -> Hub:
    return Hub(hub_app)
