"""Load the hub's Japanese profiles and terminology (``profiles/jp-hub/``) into the store.

Every JSON resource directly in ``profiles/jp-hub/`` (Questionnaire, CodeSystem, ValueSet,
StructureDefinition) is validated and upserted by id with the semantics of FHIR update
(http://hl7.org/fhir/R4/http.html#update): a missing resource is created under its own id, a
changed one gets a new version, an unchanged one (same content but for ``meta.versionId`` /
``meta.lastUpdated``) creates no version. Once loaded they are served at
``/fhir/<Type>/<id>`` and carry their canonical ``url``
(http://hl7.org/fhir/R4/resource.html#canonical). The examples in ``examples/`` are not loaded
unless asked for: they are fictional people, not conformance resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hub.fhir.canonical import canonical, loads
from hub.fhir.searchparams import PROFILES_DIR
from hub.fhir.validate import validate_resource
from hub.store.records import StoredResource
from hub.store.repository import Repository

JP_HUB_DIR = PROFILES_DIR / "jp-hub"
HUB_DIR = PROFILES_DIR / "hub"
EXAMPLES_DIR = JP_HUB_DIR / "examples"

#: The canonical base of every url in profiles/jp-hub.
CANONICAL_BASE = "https://community-support-hub.example/fhir"


@dataclass
class LoadReport:
    """What :func:`load_conformance` did, as ``Type/id`` references."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)


def read_resources(directory: Path = JP_HUB_DIR) -> list[dict[str, Any]]:
    """The resources of the ``*.json`` files directly in ``directory``, sorted by file name."""
    out = []
    for path in sorted(directory.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(resource, dict) or not resource.get("id"):
            raise ValueError(f"{path.name}: not a FHIR resource with an id")
        out.append(resource)
    return out


def hub_resources() -> list[dict[str, Any]]:
    """The hub's own definitions in ``profiles/hub/``: the Consent profile and the search
    parameters the CapabilityStatement names (so their canonical URLs resolve here too)."""
    out = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(HUB_DIR.glob("*.json"))]
    resources: list[dict[str, Any]] = []
    for r in out:
        if r.get("resourceType") == "Bundle":
            resources += [e["resource"] for e in r.get("entry", [])]
        else:
            resources.append(r)
    return resources


def without_version_meta(resource: dict[str, Any]) -> dict[str, Any]:
    copy = dict(resource)
    meta = {
        k: v for k, v in (copy.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")
    }
    if meta:
        copy["meta"] = meta
    else:
        copy.pop("meta", None)
    return copy


def _same_content(stored: StoredResource, resource: dict[str, Any]) -> bool:
    if stored.content is None:
        return False
    return canonical(without_version_meta(loads(stored.content))) == canonical(
        without_version_meta(resource)
    )


def upsert(repo: Repository, resource: dict[str, Any], report: LoadReport) -> StoredResource:
    """Validate ``resource`` and store it under its own id (PUT semantics)."""
    rtype = resource["resourceType"]
    validate_resource(resource, rtype)
    body = dict(resource)
    ref = f"{rtype}/{body['id']}"
    current = repo.read(rtype, body["id"], for_update=True)
    if current is None:
        report.created.append(ref)
        return repo.create(body, res_id=body["id"], method="PUT")
    if not current.deleted and _same_content(current, body):
        report.unchanged.append(ref)
        return current
    report.updated.append(ref)
    return repo.update(current, body)


def resolve_canonical(repo: Repository, url: str) -> StoredResource | None:
    """The stored resource whose canonical ``url`` (``[base]/[Type]/[id]``, optionally
    ``|version``) is one of the hub's own (http://hl7.org/fhir/R4/references.html#canonical).

    The hub's canonical urls are ``{CANONICAL_BASE}/<Type>/<id>``, so they resolve by id
    (``GET [base]/<Type>?url=…`` finds them by search as well).
    """
    bare = url.split("|", 1)[0]
    prefix = CANONICAL_BASE + "/"
    if not bare.startswith(prefix):
        return None
    parts = bare[len(prefix) :].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    stored = repo.read(parts[0], parts[1])
    if stored is None or stored.deleted or stored.content is None:
        return None
    return stored if loads(stored.content).get("url") == bare else None


def load_conformance(repo: Repository, *, include_examples: bool = False) -> LoadReport:
    """Upsert every resource of ``profiles/hub/`` and ``profiles/jp-hub/`` (and the examples
    if asked) into ``repo``.

    Runs in the caller's transaction (the repository never commits).
    """
    report = LoadReport()
    resources = hub_resources() + read_resources(JP_HUB_DIR)
    if include_examples:
        resources += read_resources(EXAMPLES_DIR)
    for resource in resources:
        upsert(repo, resource, report)
    return report


def install_conformance(engine: Engine) -> LoadReport:
    """Load the profiles in a transaction of their own: ``hub init``, ``hub serve`` and app
    start with ``auto_migrate`` call this after migrating. Idempotent (unchanged → no version)."""
    with engine.begin() as conn:
        return load_conformance(Repository(conn))
