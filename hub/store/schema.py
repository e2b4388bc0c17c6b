"""The hub's SQL schema (SQLAlchemy Core), the same on SQLite and PostgreSQL.

* ``resource`` — the current version of every resource: canonical JSON bytes, served as stored.
* ``resource_version`` — every version ever written (http://hl7.org/fhir/R4/http.html#history).
* ``idx_*`` — the search index of the *current* versions, rewritten in the same transaction as
  the write, keyed by the resource's surrogate ``rid``.
* ``idx_compartment`` — Patient-compartment membership (CompartmentDefinition/patient), used by
  ``$everything`` and by the consent gate.
* ``index_backlog`` — the rids whose index rows are deferred (``hub.store.backlog``).

Timestamps are integers (microseconds since the Unix epoch, UTC) so that range queries and
ordering behave the same on both databases.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

RID = BigInteger().with_variant(Integer, "sqlite")

resource = Table(
    "resource",
    metadata,
    Column("rid", RID, primary_key=True, autoincrement=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", LargeBinary, nullable=True),
    #: the organization whose client created the resource (consent's author rule)
    Column("author", String(128), nullable=True),
    UniqueConstraint("res_type", "res_id", name="uq_resource_type_id"),
)
Index("ix_resource_type_updated", resource.c.res_type, resource.c.last_updated)
#: the consent gate's author rule (``resource.author = :org``; migration 0005), rows with an
#: author only (0008: AuditEvents, written on every request, have none)
Index(
    "ix_resource_author",
    resource.c.author,
    sqlite_where=resource.c.author.isnot(None),
    postgresql_where=resource.c.author.isnot(None),
)

resource_version = Table(
    "resource_version",
    metadata,
    Column("vid", RID, primary_key=True, autoincrement=True),
    Column("rid", RID, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", LargeBinary, nullable=True),
    UniqueConstraint("res_type", "res_id", "version_id", name="uq_resource_version"),
)
Index("ix_version_type_updated", resource_version.c.res_type, resource_version.c.last_updated)
Index("ix_version_updated", resource_version.c.last_updated)

idx_string = Table(
    "idx_string",
    metadata,
    Column("rid", RID, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("value", String(512), nullable=False),  # normalised (NFKC, casefold, kana folded)
    Column("exact", String(512), nullable=False),  # as written, for :exact
)
Index("ix_string_lookup", idx_string.c.res_type, idx_string.c.code, idx_string.c.value)
# PostgreSQL only: lets ``value LIKE 'prefix%'`` (string search's default starts-with) use a
# btree whatever the database collation; SQLite serves starts-with as a range on ix_string_lookup
Index(
    "ix_string_prefix",
    idx_string.c.res_type,
    idx_string.c.code,
    idx_string.c.value,
    postgresql_ops={"value": "varchar_pattern_ops"},
).ddl_if(dialect="postgresql")
Index("ix_string_rid", idx_string.c.rid)

idx_token = Table(
    "idx_token",
    metadata,
    Column("rid", RID, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("system", String(256), nullable=False, default=""),  # "" = no system
    Column("value", String(256), nullable=False, default=""),
    Column("text", String(512), nullable=False, default=""),  # normalised display/text (:text)
)
Index("ix_token_lookup", idx_token.c.res_type, idx_token.c.code, idx_token.c.value)
Index("ix_token_rid", idx_token.c.rid)

idx_date = Table(
    "idx_date",
    metadata,
    Column("rid", RID, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("low", BigInteger, nullable=False),  # inclusive, µs since epoch
    Column("high", BigInteger, nullable=False),  # inclusive, µs since epoch
)
Index("ix_date_low", idx_date.c.res_type, idx_date.c.code, idx_date.c.low)
Index("ix_date_high", idx_date.c.res_type, idx_date.c.code, idx_date.c.high)
Index("ix_date_rid", idx_date.c.rid)

idx_reference = Table(
    "idx_reference",
    metadata,
    Column("rid", RID, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("target_type", String(64), nullable=False, default=""),
    Column("target_id", String(256), nullable=False, default=""),
    Column("url", String(1024), nullable=False, default=""),  # absolute/canonical references
)
Index(
    "ix_reference_lookup",
    idx_reference.c.res_type,
    idx_reference.c.code,
    idx_reference.c.target_id,
    idx_reference.c.target_type,
)
Index("ix_reference_target", idx_reference.c.target_type, idx_reference.c.target_id)
Index("ix_reference_rid", idx_reference.c.rid)

idx_compartment = Table(
    "idx_compartment",
    metadata,
    Column("rid", RID, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
)
Index("ix_compartment_patient", idx_compartment.c.patient_id, idx_compartment.c.res_type)
Index("ix_compartment_rid", idx_compartment.c.rid)


#: coarse consent grants per active Consent (``hub.consent.grants``), the search pre-filter
idx_consent_grant = Table(
    "idx_consent_grant",
    metadata,
    Column("rid", RID, nullable=False),  # the Consent's rid
    Column("kind", String(8), nullable=False),  # head | permit
    Column("patient_id", String(64), nullable=False),
    Column("policy", String(256), nullable=False),
    Column("date", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
)
Index(
    "ix_grant_actor",
    idx_consent_grant.c.actor,
    idx_consent_grant.c.purpose,
    idx_consent_grant.c.kind,
)
Index(
    "ix_grant_patient",
    idx_consent_grant.c.patient_id,
    idx_consent_grant.c.policy,
    idx_consent_grant.c.kind,
)
Index("ix_grant_rid", idx_consent_grant.c.rid)

#: resources stored with their search index — and, with a ``method``, their version row — not
#: yet written (``hub.store.backlog``: AuditEvents, completed off the request path and always
#: before a search, history or vread that could return them; migration 0006)
index_backlog = Table(
    "index_backlog",
    metadata,
    Column("rid", RID, primary_key=True, autoincrement=False),
    Column("method", String(8), nullable=True),  # the version row's, while it waits
)

#: Every table whose rows are derived from a resource's current version (rebuilt on each write).
INDEX_TABLES: tuple[Table, ...] = (
    idx_string,
    idx_token,
    idx_date,
    idx_reference,
    idx_compartment,
    idx_consent_grant,
)
