"""The ``hub`` command's own subcommands (init; the help text names every group)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from hub.cli import main


def test_init_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    runner = CliRunner()
    first = runner.invoke(main, ["init"], env={"HUB_DATABASE_URL": url})
    assert first.exit_code == 0, first.output
    out = json.loads(first.output)
    assert out["revision"] is not None and "fresh.sqlite3" in out["database"]
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"resource", "resource_version", "idx_string", "oauth_client"} <= tables
    again = runner.invoke(main, ["init"], env={"HUB_DATABASE_URL": url})
    assert again.exit_code == 0 and json.loads(again.output)["revision"] == out["revision"]


@pytest.mark.parametrize(
    "url",
    ["nosuchdb://x", "not a url", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
)
def test_init_reports_a_bad_database_url_without_a_trace(url: str) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "cannot open the database" in done.stderr


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "init", "client", "admin-token", "audit", "openapi"):
        assert command in result.output
