"""``hub audit``: what privacy officers take out of the audit trail, from the command line."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from hub.config import Settings

_REF = re.compile(r"^(Patient|Organization)/[A-Za-z0-9\-.]{1,64}$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _ref(kind: str) -> Any:
    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        if "/" not in value:
            value = f"{kind}/{value}"
        if not _REF.match(value) or not value.startswith(kind + "/"):
            raise click.BadParameter(f"expected {kind}/<id>, got {value!r}")
        return value

    return check


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _DATE.match(value):
        raise click.BadParameter(f"expected a FHIR date or dateTime (2026-11-01), got {value!r}")
    return value


def _filters(f: Any) -> Any:
    f = click.option("--to", "until", callback=_date, help="Up to this date (inclusive).")(f)
    f = click.option("--from", "since", callback=_date, help="From this date (inclusive).")(f)
    f = click.option(
        "--recipient",
        callback=_ref("Organization"),
        help="Only what this organization received (Organization/ID).",
    )(f)
    return click.option(
        "--patient", callback=_ref("Patient"), help="Only this person's data (Patient/ID)."
    )(f)


@click.group("audit")
def audit_group() -> None:
    """The audit trail: AuditEvents and third-party provision records (第三者提供記録)."""


@audit_group.command("export")
@_filters
def export(
    patient: str | None, recipient: str | None, since: str | None, until: str | None
) -> None:
    """Everything that happened to a person's data: AuditEvents as a FHIR collection Bundle.

    Each AuditEvent names the client, its organization, the purpose of use, the resources
    touched and, per resource, the decision with the Consent version and provision that made
    it (or the break-glass reason).
    """
    from hub.audit.export import audit_events
    from hub.store.db import Database, make_engine

    if not (patient or recipient):
        raise click.UsageError("give --patient and/or --recipient")
    db = Database(make_engine(Settings.from_env().database_url))
    with db.unit(write=False) as conn:
        events = list(
            audit_events(conn, patient=patient, recipient=recipient, since=since, until=until)
        )
    db.dispose()
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(events),
        "entry": [{"resource": e} for e in events],
    }
    click.echo(json.dumps(bundle, ensure_ascii=False, indent=2))


@audit_group.command("provisions")
@_filters
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
def provisions(
    patient: str | None, recipient: str | None, since: str | None, until: str | None, fmt: str
) -> None:
    """Third-party provision records (個人情報保護法 29条): per disclosure to an organization
    other than the data's custodian — date, recipient (name, address), the person, the items,
    the consent (and provision) or break-glass reason that allowed it, and until when the
    record must be kept (HUB_AUDIT_RETENTION_YEARS, default 3)."""
    from hub.audit.export import provision_records, to_csv, to_json
    from hub.store.db import Database, make_engine

    settings = Settings.from_env()
    db = Database(make_engine(settings.database_url))
    with db.unit(write=False) as conn:
        records = provision_records(
            conn,
            patient=patient,
            recipient=recipient,
            since=since,
            until=until,
            retention_years=settings.audit_retention_years,
        )
    db.dispose()
    click.echo(to_csv(records) if fmt == "csv" else to_json(records), nl=fmt == "json")
