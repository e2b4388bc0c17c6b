"""``hub ledger verify|prove|checkpoint|export|witness`` (issue 5).

Exit status 0 when all is well; 1 when verification fails or a witness refuses (the reason on
stderr, naming the first bad index); 2 for bad usage. Output that scripts read is JSON.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.config import Settings
from hub.ledger.checkpoint import (
    CheckpointError,
    SignatureError,
    open_checkpoint,
    parse_public_key_text,
    public_key_from_pem,
)
from hub.ledger.log import parallel, store
from hub.ledger.log.export import ExportError, verify_export, write_export
from hub.ledger.log.keys import LedgerConfig
from hub.ledger.log.verify import Report, verify_database
from hub.ledger.merkle import ProofError, verify_consistency
from hub.store.db import Database, make_engine


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _setup() -> tuple[Database, LedgerConfig]:
    from hub.store.migrate import upgrade

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    config = LedgerConfig.from_settings(settings)
    store.install(engine, config)
    return Database(engine), config


def _public_key(path: str | None, config: LedgerConfig | None, origin: str | None) -> tuple[
    Ed25519PublicKey, str
]:  # fmt: skip
    """(key, key name) from a verifier-key text file or a PEM file, else the hub's own key."""
    if path is None:
        if config is None:
            raise click.UsageError("--public-key is required to verify an export")
        return config.public_key(), config.origin
    text = Path(path).read_text(encoding="utf-8")
    try:
        if "-----BEGIN" in text:
            name = origin or (config.origin if config else None)
            if name is None:
                raise click.UsageError("a PEM public key needs the log's origin")
            return public_key_from_pem(text.encode()), name
        name, key = parse_public_key_text(text)
        return key, name
    except (CheckpointError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--public-key") from None


def _witnessed(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines()
    return [str(orjson.loads(line)["note"]) for line in lines if line.strip()]


def _report(report: Report) -> None:
    if report.ok:
        click.echo(
            f"ok: {report.entries} entries, {report.checkpoints} checkpoints verified; "
            f"tree size {report.size}, root {store.b64(report.root)}; "
            f"{report.rate:,.0f} entries/s ({report.seconds:.3f} s, "
            f"{report.workers} worker{'s' if report.workers > 1 else ''}, "
            f"{report.rechecked} chunk{'' if report.rechecked == 1 else 's'} re-checked "
            "entry by entry)"
        )
        return
    first = next((p.index for p in report.problems if p.index is not None), None)
    where = f"first bad index {first}" if first is not None else "checkpoints"
    click.echo(f"FAILED ({where}):", err=True)
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


@click.group("ledger")
def ledger_group() -> None:
    """The tamper-evident ledger of access decisions and consent changes (RFC 9162)."""


@ledger_group.command("verify")
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Verify this export file (hub ledger export) instead of the database.",
)
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Verifier key text (GET /ledger/public-key) or PEM; default: the hub's key.",
)
@click.option(
    "--witness",
    "witness_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Also check the checkpoints in this witness file (detects rollback).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes proving chunks of the log in parallel, this one included (the database: "
    "each with its own connection; an export: forked); 0: one per CPU core available, 1: this "
    "one alone.",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=16384,
    show_default=True,
    help="Entries per chunk (rounded down to a power of two: aligned subtrees; smaller with "
    "several workers, to share the work).",
)
def verify(
    export_file: str | None,
    public_key: str | None,
    witness_file: str | None,
    workers: int,
    chunk: int,
) -> None:
    """Recompute every leaf, the tree and every checkpoint; exit 1 naming the first bad index.

    The report is the same whatever --workers: a chunk a worker cannot prove sound is
    re-checked entry by entry here."""
    witness = _witnessed(Path(witness_file)) if witness_file else []
    workers = workers or parallel.available_cpus()
    if export_file is not None:
        with open(export_file, "rb") as f:
            data = f.read()  # verified as one buffer (no split into a list of lines)
        try:  # the first line (a match of this pattern always exists)
            header: Any = orjson.loads(re.match(rb"[^\r\n]*", data)[0])  # type: ignore[index]
        except orjson.JSONDecodeError:
            header = {}
        origin = header.get("origin") if isinstance(header, dict) else None
        key, name = _public_key(public_key, None, origin)
        try:
            report = verify_export(data, key, name, witness=witness, workers=workers, chunk=chunk)
        except ExportError as exc:
            _fail(f"{export_file}: {exc}")
        _report(report)
        return
    db, config = _setup()
    key, name = _public_key(public_key, config, None)
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for every statement (and worker)
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            report = verify_database(conn, key, name, witness=witness, workers=workers, chunk=chunk)
    _report(report)


@ledger_group.command("prove")
@click.option(
    "--entry", "index", type=click.IntRange(min=0), required=True, help="The entry's index."
)
@click.option(
    "--size",
    type=click.IntRange(min=1),
    default=None,
    help="Tree size to prove against (default: the latest checkpoint's).",
)
def prove(index: int, size: int | None) -> None:
    """Print the inclusion proof of one entry (RFC 9162 §2.1.3), checked, as JSON."""
    db, _ = _setup()
    try:
        with db.unit(write=False) as conn:
            out = store.inclusion(conn, index, size)
    except (store.LedgerError, ProofError) as exc:
        _fail(str(exc))
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@ledger_group.command("checkpoint")
def checkpoint() -> None:
    """Sign the current tree head now; print the signed note."""
    db, config = _setup()
    with db.unit(write=True) as conn:
        cp = store.make_checkpoint(conn, config)
    click.echo(cp.note, nl=False)


@ledger_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def export(file: str) -> None:
    """Write entries and checkpoints as JSON lines, for verify --export (no database).

    Format version 2: a header, one ``[index,entry]`` line per entry (the entry bytes
    verbatim), then the checkpoints; verify --export also reads version-1 files."""
    db, config = _setup()
    with db.unit(write=False) as conn, open(file, "wb") as out:
        count = write_export(conn, out, config.origin, config.verifier_key())
    click.echo(json.dumps({"file": file, "entries": count}))


@ledger_group.command("witness")
@click.argument("file", type=click.Path(dir_okay=False))
def witness(file: str) -> None:
    """Append the latest checkpoint to FILE, refusing if it does not extend the last one."""
    db, config = _setup()
    path = Path(file)
    with db.unit(write=True) as conn:
        cp = store.latest_checkpoint(conn)
        if cp is None or cp.size != store.current_frontier(conn).size:
            cp = store.make_checkpoint(conn, config)
    new = open_checkpoint(cp.note, config.public_key(), config.origin, origin=config.origin)
    seen = _witnessed(path)
    if seen:
        try:
            old = open_checkpoint(seen[-1], config.public_key(), config.origin)
        except SignatureError as exc:
            _fail(f"the last checkpoint in {file} does not verify with the hub's key: {exc}")
        if new.size < old.size:
            _fail(f"rollback: the log has {new.size} entries, {file} witnessed {old.size}")
        try:
            with db.unit(write=False) as conn:
                proof = store.consistency(conn, old.size, new.size)["proof"]
            verify_consistency(old.size, new.size, old.root, new.root,
                               [base64.b64decode(p) for p in proof])  # fmt: skip
        except (store.LedgerError, ProofError) as exc:
            _fail(f"fork: the log of size {new.size} does not extend the witnessed tree of "
                  f"size {old.size} ({exc})")  # fmt: skip
    line = {"size": new.size, "root": store.b64(new.root), "note": cp.note}
    with open(path, "ab") as out:
        out.write(orjson.dumps(line) + b"\n")
    click.echo(json.dumps({"file": file, "size": new.size, "root": line["root"]}))
