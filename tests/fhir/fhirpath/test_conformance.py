"""hub.fhir.fhirpath against fhirpathpy (the reference implementation, used only here).

Every indexed search-parameter expression of the registry is compiled and evaluated on a set
of sample resources (``samples.py``, plus the JP Core examples when the package is present) and
the result must equal fhirpathpy's. Two documented differences are special-cased:

* fhirpathpy does not implement ``resolve()``: ``resolve() is T`` is rewritten for it as a
  ``reference.matches('(^|/)T/id(/_history/v)?$')`` test.
* fhirpathpy's ``as`` requires a singleton (strict FHIRPath); ours filters like ``ofType``.
  When fhirpathpy raises on that, the expression is re-run there with ``ofType``.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy import evaluate as fp_evaluate
from fhirpathpy.models import models

from hub.fhir.fhirpath import compile_expression, evaluate
from hub.fhir.searchparams import SUPPORTED_TYPES, SearchParam, default_registry
from tests.fhir.fhirpath.samples import SAMPLES

JP_CORE = Path("/work/shared/fhir-packages/jp-core.r4-1.1.2.tgz")
R4 = models["r4"]


def indexed_params() -> list[SearchParam]:
    registry = default_registry()
    return [p for t in SUPPORTED_TYPES for p in registry.for_type(t).values() if p.indexed]


def canon(values: list[Any]) -> list[str]:
    return [json.dumps(v, sort_keys=True, default=float, ensure_ascii=False) for v in values]


def reference_evaluate(resource: dict[str, Any], expression: str) -> list[Any]:
    """fhirpathpy's answer, with the two documented rewrites (see the module docstring)."""
    rewritten = re.sub(
        r"resolve\(\) is (\w+)",
        lambda m: f"reference.matches('(^|/){m.group(1)}/[A-Za-z0-9.-]+(/_history/[^/]+)?$')",
        expression,
    )
    try:
        return list(fp_evaluate(resource, rewritten, {}, R4))
    except Exception as exc:
        if "singleton" not in str(exc):
            raise
    as_of_type = re.sub(r"\(([^()]*?) as (\w+)\)", r"(\1.ofType(\2))", rewritten)
    return list(fp_evaluate(resource, as_of_type.replace(".as(", ".ofType("), {}, R4))


@pytest.fixture(scope="session")
def jp_core_examples(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not JP_CORE.exists():
        pytest.skip(f"{JP_CORE} not present")
    out = tmp_path_factory.mktemp("jp-core")
    with tarfile.open(JP_CORE) as tar:
        tar.extractall(out, filter="data")
    examples = []
    for path in sorted((out / "package").glob("*.json")):
        res = json.loads(path.read_text(encoding="utf-8"))
        if res.get("resourceType") in SUPPORTED_TYPES:
            examples.append(res)
    return examples


def _compare(resources: list[dict[str, Any]]) -> Iterator[tuple[str, str, list[str], list[str]]]:
    registry = default_registry()
    for res in resources:
        for p in registry.for_type(res["resourceType"]).values():
            if p.indexed:
                ours, theirs = (
                    canon(evaluate(res, p.expression)),
                    canon(reference_evaluate(res, p.expression)),
                )
                yield (
                    f"{res['resourceType']}/{res.get('id')} {p.code}: {p.expression}",
                    p.code,
                    ours,
                    theirs,
                )


def test_every_indexed_expression_compiles() -> None:
    params = indexed_params()
    assert len(params) > 600
    for p in params:
        assert callable(compile_expression(p.expression)), p.expression


def test_samples_match_fhirpathpy() -> None:
    mismatches, non_empty = [], 0
    for where, _code, ours, theirs in _compare(SAMPLES):
        non_empty += bool(ours)
        if ours != theirs:
            mismatches.append(f"{where}\n  ours:   {ours}\n  theirs: {theirs}")
    assert not mismatches, "\n".join(mismatches)
    assert non_empty > 150  # the samples really exercise the expressions


def test_jp_core_examples_match_fhirpathpy(jp_core_examples: list[dict[str, Any]]) -> None:
    assert len(jp_core_examples) > 20
    mismatches, non_empty = [], 0
    for where, _code, ours, theirs in _compare(jp_core_examples):
        non_empty += bool(ours)
        if ours != theirs:
            mismatches.append(f"{where}\n  ours:   {ours}\n  theirs: {theirs}")
    assert not mismatches, "\n".join(mismatches)
    assert non_empty > 100
