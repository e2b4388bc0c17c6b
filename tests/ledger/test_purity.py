"""hub.ledger stays pure: no web framework, database, file, network or clock access."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hub.ledger

ALLOWED = {
    "__future__",
    "base64",
    "binascii",
    "collections.abc",
    "dataclasses",
    "datetime",
    "hashlib",
    "re",
    "typing",
    "cryptography.exceptions",
    "cryptography.hazmat.primitives",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "hub.ledger.checkpoint",
    "hub.ledger.hasher",
    "hub.ledger.merkle",
}
FORBIDDEN_CALLS = {"open", "print", "input", "now", "utcnow", "today", "time", "urandom"}
MODULES = sorted(Path(hub.ledger.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_only_pure_dependencies(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {node.module or ""}
        else:
            continue
        assert names <= ALLOWED, f"{path.name} imports {names - ALLOWED}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_calls_no_io_or_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_is_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 320
