"""``hub client add|list|disable|rotate-key`` and ``hub admin-token`` through click's runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hub.auth.clients import ClientRegistry, hash_secret
from hub.cli import main
from hub.store.db import Database, make_engine
from tests.auth.helpers import cached_key


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    return url


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _jwks_file(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _registry(url: str) -> ClientRegistry:
    return ClientRegistry(Database(make_engine(url)))


def test_client_add_list_disable(db_url: str, tmp_path: Path) -> None:
    jwks = _jwks_file(tmp_path, "a", cached_key("rsa-a").jwks())
    result = _run(
        "client",
        "add",
        "--name",
        "相談支援事業所 A",
        "--organization",
        "Organization/soudan-a",
        "--scope",
        "system/Patient.rs system/CarePlan.cruds",
        "--jwks",
        jwks,
    )
    assert result.exit_code == 0, result.output
    added = json.loads(result.output)
    client_id = added["client_id"]
    assert added["organization"] == "Organization/soudan-a"
    assert added["scope"] == "system/Patient.rs system/CarePlan.cruds"
    assert added["break_glass"] is False and added["disabled"] is False
    assert added["jwks"] == cached_key("rsa-a").jwks()

    flagged = json.loads(
        _run(
            "client",
            "add",
            "--name",
            "ER",
            "--organization",
            "Organization/hosp",
            "--scope",
            "system/*.rs",
            "--jwks",
            jwks,
            "--break-glass",
            "--privacy-officer",
        ).output
    )
    assert flagged["break_glass"] is True and flagged["privacy_officer"] is True

    listed = json.loads(_run("client", "list").output)
    assert [c["client_id"] for c in listed] == [client_id, flagged["client_id"]]
    assert listed[0]["kids"] == ["rsa-a"] and "jwks" not in listed[0]

    disabled = _run("client", "disable", client_id)
    assert disabled.exit_code == 0 and json.loads(disabled.output)["disabled"] is True
    client = _registry(db_url).get(client_id)
    assert client is not None and client.disabled
    assert _run("client", "disable", "nobody").exit_code == 1


def test_rotate_key(db_url: str, tmp_path: Path) -> None:
    old = _jwks_file(tmp_path, "old", cached_key("rsa-a").jwks())
    added = json.loads(
        _run(
            "client",
            "add",
            "--name",
            "x",
            "--organization",
            "Organization/o",
            "--scope",
            "system/Patient.rs",
            "--jwks",
            old,
        ).output
    )
    single_jwk = _jwks_file(tmp_path, "new", cached_key("ec-b").public_jwk())  # one JWK is fine
    result = _run("client", "rotate-key", added["client_id"], "--jwks", single_jwk)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kids"] == ["ec-b"]
    client = _registry(db_url).get(added["client_id"])
    assert client is not None and client.jwks == cached_key("ec-b").jwks()
    assert _run("client", "rotate-key", "nobody", "--jwks", single_jwk).exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "system/Patient.sr"], "SMART resource scope"),
        (["--scope", "patient/Patient.rs"], "system/ scopes"),
        (["--organization", "Patient/1"], "Organization/"),
        (["--jwks", "PRIVATE"], "private key"),
    ],
)
def test_client_add_refuses_bad_input(
    db_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    options = {
        "--name": "x",
        "--organization": "Organization/o",
        "--scope": "system/Patient.rs",
        "--jwks": _jwks_file(tmp_path, "pub", cached_key("rsa-a").jwks()),
    }
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    if options["--jwks"] == "PRIVATE":
        private = {"keys": [cached_key("rsa-a").key.as_dict(private=True)]}
        options["--jwks"] = _jwks_file(tmp_path, "private", private)
    result = CliRunner().invoke(main, ["client", "add", *sum(options.items(), ())])
    assert result.exit_code == 1
    assert message in result.output
    assert _registry(db_url).all() == []


def test_client_add_needs_keys(db_url: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "client",
            "add",
            "--name",
            "x",
            "--organization",
            "Organization/o",
            "--scope",
            "system/Patient.rs",
        ],
    )
    assert result.exit_code == 2 and "--jwks" in result.output


def test_admin_token(db_url: str) -> None:
    result = _run("admin-token", "--hours", "2")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    token = out["initial_access_token"]
    assert out["uses"] == 1 and out["expires_at"] > 0
    registry = _registry(db_url)
    assert registry.initial_token_valid(token)
    # stored hashed only
    from sqlalchemy import select

    from hub.auth.schema import oauth_initial_token

    with registry.db.unit(write=False) as conn:
        stored = conn.execute(select(oauth_initial_token.c.token_hash)).scalars().all()
    assert stored == [hash_secret(token)]


def test_client_ids_are_shell_safe(db_url: str) -> None:
    from hub.auth.clients import new_client_id

    ids = {new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i.isalnum() and len(i) == 32 for i in ids)
