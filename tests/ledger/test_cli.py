"""``hub ledger prove|checkpoint|export|witness|verify --export`` through the real CLI."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import orjson
from click.testing import CliRunner
from flask import Flask

from hub.cli import main
from hub.ledger import leaf_hash, open_checkpoint, parse_public_key_text, verify_inclusion
from tests.ledger.conftest import build_log


def _public_key(app: Flask, tmp_path: Path, fmt: str = "") -> Path:
    path = tmp_path / ("ledger.pem" if fmt else "ledger.pub")
    resp = app.test_client().get("/ledger/public-key" + (f"?format={fmt}" if fmt else ""))
    assert resp.status_code == 200
    path.write_bytes(resp.get_data())
    return path


def test_checkpoint_then_prove_an_entry(ledger_app: Flask, cli: CliRunner, tmp_path: Path) -> None:
    build_log(ledger_app)
    result = cli.invoke(main, ["ledger", "checkpoint"])
    assert result.exit_code == 0, result.output
    name, key = parse_public_key_text(_public_key(ledger_app, tmp_path).read_text())
    cp = open_checkpoint(result.stdout, key, name)
    assert cp.size == 12
    result = cli.invoke(main, ["ledger", "prove", "--entry", "6"])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.stdout)
    assert open_checkpoint(proof["checkpoint"], key, name).root == cp.root
    entry = proof["entry"]["entry"].encode()
    verify_inclusion(
        6, 12, leaf_hash(entry), [base64.b64decode(p) for p in proof["proof"]], cp.root
    )
    # against an older size: a proof to that root, with no checkpoint of that size
    older = json.loads(cli.invoke(main, ["ledger", "prove", "--entry", "6", "--size", "9"]).stdout)
    assert older["size"] == 9 and older["checkpoint"] is None
    assert older["root"] != proof["root"]
    result = cli.invoke(main, ["ledger", "prove", "--entry", "12"])
    assert result.exit_code == 1 and "not in the tree of size 12" in result.stderr


def test_prove_without_a_checkpoint_says_how_to_make_one(ledger_app: Flask, cli: CliRunner) -> None:
    build_log(ledger_app)
    result = cli.invoke(main, ["ledger", "prove", "--entry", "0"])
    assert result.exit_code == 1 and "hub ledger checkpoint" in result.stderr


def test_export_verifies_offline_and_detects_edits(
    ledger_app: Flask, cli: CliRunner, tmp_path: Path
) -> None:
    build_log(ledger_app)
    assert cli.invoke(main, ["ledger", "checkpoint"]).exit_code == 0
    export = tmp_path / "ledger.jsonl"
    result = cli.invoke(main, ["ledger", "export", str(export)])
    assert result.exit_code == 0 and json.loads(result.stdout)["entries"] == 12
    for key_file in (_public_key(ledger_app, tmp_path), _public_key(ledger_app, tmp_path, "pem")):
        args = ["ledger", "verify", "--export", str(export), "--public-key", str(key_file)]
        result = cli.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "ok: 12 entries, 1 checkpoints verified" in result.stdout
    lines = export.read_bytes().splitlines()
    assert orjson.loads(lines[0])["version"] == 2
    index, entry = orjson.loads(lines[4])  # entry 3: [index, leaf] with the leaf verbatim
    assert index == 3 and lines[4] == b"[3," + orjson.dumps(entry) + b"]"
    lines[4] = lines[4].replace(b"consent", b"access", 1)
    export.write_bytes(b"\n".join(lines) + b"\n")
    pub = str(_public_key(ledger_app, tmp_path))
    result = cli.invoke(main, ["ledger", "verify", "--export", str(export), "--public-key", pub])
    assert result.exit_code == 1 and "first bad index 3" in result.stderr


def test_an_export_signed_by_another_key_fails(
    ledger_app: Flask, cli: CliRunner, tmp_path: Path
) -> None:
    build_log(ledger_app)
    assert cli.invoke(main, ["ledger", "checkpoint"]).exit_code == 0
    export = tmp_path / "ledger.jsonl"
    assert cli.invoke(main, ["ledger", "export", str(export)]).exit_code == 0
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.ledger import public_key_text

    other = tmp_path / "other.pub"
    other.write_text(
        public_key_text(Ed25519PrivateKey.generate().public_key(), "community-support-hub/ledger")
    )
    args = ["ledger", "verify", "--export", str(export), "--public-key", str(other)]
    result = cli.invoke(main, args)
    assert result.exit_code == 1 and "not signed by" in result.stderr


def test_witness_appends_consistent_checkpoints(
    ledger_app: Flask, cli: CliRunner, tmp_path: Path
) -> None:
    ids = build_log(ledger_app)
    witness = tmp_path / "witness.jsonl"
    assert cli.invoke(main, ["ledger", "witness", str(witness)]).exit_code == 0
    http = ledger_app.test_client()
    for _ in range(5):
        assert http.get(f"/fhir/Patient/{ids['patient']}").status_code == 200
    result = cli.invoke(main, ["ledger", "witness", str(witness)])
    assert result.exit_code == 0, result.output
    sizes = [orjson.loads(line)["size"] for line in witness.read_bytes().splitlines()]
    assert sizes == [12, 17]
    result = cli.invoke(main, ["ledger", "verify", "--witness", str(witness)])
    assert result.exit_code == 0, result.output
    # two stored checkpoints plus the two witnessed copies
    assert "4 checkpoints verified" in result.stdout


def test_a_format_1_export_still_verifies_and_an_unknown_format_is_refused(
    ledger_app: Flask, cli: CliRunner, tmp_path: Path
) -> None:
    import io

    from hub.ledger.log.export import write_export
    from hub.ledger.log.keys import LedgerConfig

    build_log(ledger_app)
    assert cli.invoke(main, ["ledger", "checkpoint"]).exit_code == 0
    config: LedgerConfig = ledger_app.extensions["hub.ledger"]
    out = io.BytesIO()
    with ledger_app.extensions["hub.db"].unit(write=False) as conn:
        write_export(conn, out, config.origin, config.verifier_key(), version=1)
    export = tmp_path / "old.jsonl"
    export.write_bytes(out.getvalue())
    assert b'"version"' not in out.getvalue().splitlines()[0]
    pub = str(_public_key(ledger_app, tmp_path))
    args = ["ledger", "verify", "--export", str(export), "--public-key", pub]
    result = cli.invoke(main, args)
    assert result.exit_code == 0 and "ok: 12 entries, 1 checkpoints verified" in result.stdout
    lines = out.getvalue().splitlines()
    lines[0] = lines[0].replace(b'"type":"header"', b'"type":"header","version":3')
    export.write_bytes(b"\n".join(lines) + b"\n")
    result = cli.invoke(main, args)
    assert result.exit_code == 1 and "export version 3 is not one this hub reads" in result.stderr
