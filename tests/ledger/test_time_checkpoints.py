"""Checkpoints every T seconds (``HUB_CHECKPOINT_SECONDS``, issue 5 "every N entries or T
seconds"): the first append after the newest checkpoint is T seconds old signs one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask

from hub.config import Settings
from hub.ledger import open_checkpoint
from hub.ledger.log import store
from hub.ledger.log.keys import LedgerConfig
from tests.ledger.conftest import build_log

T0 = 1_795_000_000_000_000
SECOND = 1_000_000


class Clock:
    """µs since the epoch; every reading moves on by 1 µs, ``skip`` jumps ahead."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        self.now += 1
        return self.now

    def skip(self, seconds: float) -> None:
        self.now += int(seconds * SECOND)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(store, "now_micros", clock)
    return clock


def _app(settings: Settings) -> Flask:
    from hub.app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def apps(ledger_settings: Settings) -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        app.extensions["hub.db"].dispose()


def _checkpoints(app: Flask) -> list[store.CheckpointRow]:
    with app.extensions["hub.db"].unit(write=False) as conn:
        return store.checkpoints(conn)


def _read(app: Flask, pid: str) -> None:
    assert app.test_client().get(f"/fhir/Patient/{pid}").status_code == 200


def test_a_checkpoint_is_signed_when_the_newest_is_t_seconds_old(
    ledger_settings: Settings, clock: Clock, apps: list[Flask]
) -> None:
    settings = replace(ledger_settings, checkpoint_seconds=60)
    app = _app(settings)
    apps.append(app)
    pid = build_log(app)["patient"]  # 12 entries within microseconds: no checkpoint
    assert _checkpoints(app) == []
    clock.skip(61)  # the first entry is now older than T, and nothing has been signed
    _read(app, pid)
    (cp,) = _checkpoints(app)
    config = LedgerConfig.from_settings(settings)
    opened = open_checkpoint(cp.note, config.public_key(), config.origin)
    assert (opened.size, cp.size) == (13, 13)
    assert opened.timestamp_us == cp.created and cp.created >= T0 + 61 * SECOND
    clock.skip(30)
    _read(app, pid)
    # another hub process (its own app, nothing cached) sees the recent checkpoint too
    other = _app(settings)
    apps.append(other)
    _read(other, pid)
    assert [c.size for c in _checkpoints(app)] == [13]
    clock.skip(31)  # 61 s since the checkpoint
    _read(other, pid)
    _read(app, pid)
    assert [c.size for c in _checkpoints(app)] == [13, 16]


def test_zero_seconds_turns_time_checkpoints_off(
    ledger_settings: Settings, clock: Clock, apps: list[Flask]
) -> None:
    env = {"HUB_DATABASE_URL": ledger_settings.database_url, "HUB_CHECKPOINT_SECONDS": "0"}
    settings = Settings.from_env(env, data_dir=ledger_settings.data_dir, auth_required=False)
    assert settings.checkpoint_seconds == 0
    assert Settings.from_env({}).checkpoint_seconds == 3600
    app = _app(replace(settings, auto_migrate=False))
    apps.append(app)
    pid = build_log(app)["patient"]
    clock.skip(86_400)
    _read(app, pid)
    assert _checkpoints(app) == []
