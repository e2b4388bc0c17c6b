"""``hub client add|list|disable|rotate-key`` and ``hub admin-token`` (the client registry).

Every command prints JSON on stdout (errors go to stderr with exit status 1 or 2), so that
scripts can use the output: ``hub client add … | jq -r .client_id``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from hub.config import Settings


def _registry() -> Any:
    from hub.auth.clients import ClientRegistry
    from hub.store.db import Database, make_engine
    from hub.store.migrate import upgrade

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return ClientRegistry(Database(engine))


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.BadParameter(f"{path} is not JSON: {exc}", param_hint="--jwks") from None
    if isinstance(data, dict) and "keys" not in data and "kty" in data:
        data = {"keys": [data]}  # a single JWK is accepted as a one-key set
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} is not a JWK Set", param_hint="--jwks")
    return data


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group("client")
def client_group() -> None:
    """Register and manage machine clients (SMART Backend Services)."""


@client_group.command("add")
@click.option("--name", required=True, help="Human-readable client name.")
@click.option(
    "--organization",
    required=True,
    metavar="Organization/ID",
    help="The FHIR Organization the client acts for.",
)
@click.option(
    "--scope",
    required=True,
    metavar="SCOPES",
    help='Allowed SMART scopes, space-separated ("system/Patient.rs system/*.s").',
)
@click.option(
    "--jwks",
    "jwks_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File with the client's public JWK Set (each key with a kid).",
)
@click.option("--jwks-uri", help="URL of the client's JWK Set (instead of or besides --jwks).")
@click.option("--break-glass", is_flag=True, help="May request purpose_of_use=ETREAT.")
@click.option(
    "--privacy-officer", is_flag=True, help="Privacy officer powers (e.g. introspect any token)."
)
def add(
    name: str,
    organization: str,
    scope: str,
    jwks_file: Path | None,
    jwks_uri: str | None,
    break_glass: bool,
    privacy_officer: bool,
) -> None:
    """Register a client; prints its metadata as JSON, including the new client_id."""
    from hub.auth.clients import ClientError

    if jwks_file is None and not jwks_uri:
        raise click.UsageError("give --jwks FILE and/or --jwks-uri URL")
    jwks = _read_jwks(jwks_file) if jwks_file is not None else None
    try:
        client = _registry().add(
            name=name,
            organization=organization,
            scope=scope,
            jwks=jwks,
            jwks_uri=jwks_uri,
            break_glass=break_glass,
            privacy_officer=privacy_officer,
        )
    except ClientError as exc:
        _fail(str(exc))
    _echo(client.public_metadata())


@client_group.command("list")
def list_clients() -> None:
    """All clients as a JSON array (public metadata; key ids, not keys)."""
    out = []
    for client in _registry().all():
        meta = client.public_metadata()
        if "jwks" in meta:
            meta["kids"] = [k.get("kid") for k in meta.pop("jwks").get("keys", [])]
        out.append(meta)
    _echo(out)


@client_group.command("disable")
@click.argument("client_id")
def disable(client_id: str) -> None:
    """Disable a client: its assertions are refused and its tokens revoked at once."""
    if not _registry().disable(client_id):
        _fail(f"no client {client_id!r}")
    _echo({"client_id": client_id, "disabled": True})


@client_group.command("rotate-key")
@click.argument("client_id")
@click.option(
    "--jwks",
    "jwks_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The new public JWK Set; keys not in it stop working now.",
)
def rotate_key(client_id: str, jwks_file: Path) -> None:
    """Replace a client's public keys (to overlap old and new, list both in the file)."""
    from hub.auth.clients import ClientError

    jwks = _read_jwks(jwks_file)
    try:
        done = _registry().rotate_key(client_id, jwks)
    except ClientError as exc:
        _fail(str(exc))
    if not done:
        _fail(f"no client {client_id!r}")
    _echo({"client_id": client_id, "kids": [k.get("kid") for k in jwks["keys"]]})


@click.command("admin-token")
@click.option(
    "--hours",
    default=24,
    show_default=True,
    type=click.IntRange(1, 24 * 30),
    help="How long the token stays usable.",
)
def admin_token(hours: int) -> None:
    """Create an RFC 7591 initial access token (single use) for POST /auth/register.

    The token is printed once and stored only as a hash.
    """
    token, expires_at = _registry().create_initial_token(hours * 3600)
    _echo({"initial_access_token": token, "expires_at": expires_at, "uses": 1})
