"""Tables of the authorization server, on the hub's shared ``metadata`` (alembic revision 0002).

* ``oauth_client`` — the client registry: machine clients of SMART Backend Services
  (https://hl7.org/fhir/smart-app-launch/backend-services.html), each acting for one FHIR
  ``Organization``, with its allowed SMART scopes, its public keys (inline JWKS and/or a
  ``jwks_uri``, RFC 7591 §2) and flags for special powers.
* ``oauth_token`` — issued access tokens. Only the SHA-256 of the token is stored, never the
  token itself: a copy of the database grants nothing.
* ``oauth_jti`` — the ``jti`` of every client assertion seen (RFC 7523 §3 item 7), kept until the
  assertion expires; the unique constraint makes a replay fail even under concurrency.
* ``oauth_initial_token`` — RFC 7591 §3 initial access tokens (hashed, single use).

Times are integers, microseconds since the Unix epoch (UTC), like the rest of the hub.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text, UniqueConstraint

from hub.store.schema import RID, metadata

oauth_client = Table(
    "oauth_client",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    #: ``Organization/<id>``: whom the client acts for (the consent engine decides by it)
    Column("organization", String(128), nullable=False),
    #: space-separated SMART scopes the client may be granted (RFC 6749 §3.3)
    Column("scope", Text, nullable=False),
    #: JSON Web Key Set (RFC 7517 §5), public keys only; NULL when only ``jwks_uri`` is used
    Column("jwks", Text, nullable=True),
    Column("jwks_uri", String(1024), nullable=True),
    Column("break_glass", Boolean, nullable=False, default=False),
    Column("privacy_officer", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created", BigInteger, nullable=False),
)

oauth_token = Table(
    "oauth_token",
    metadata,
    Column("token_id", RID, primary_key=True, autoincrement=True),
    #: hex SHA-256 of the opaque access token
    Column("token_hash", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("scope", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    #: IHE IUA / HL7 v3 PurposeOfUse code asked for with the token (``TREAT``, ``ETREAT``…)
    Column("purpose_of_use", String(32), nullable=True),
    UniqueConstraint("token_hash", name="uq_oauth_token_hash"),
)
Index("ix_oauth_token_client", oauth_token.c.client_id)

oauth_jti = Table(
    "oauth_jti",
    metadata,
    Column("client_id", String(64), nullable=False),
    Column("jti", String(255), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    UniqueConstraint("client_id", "jti", name="uq_oauth_jti"),
)
Index("ix_oauth_jti_expires", oauth_jti.c.expires_at)

oauth_initial_token = Table(
    "oauth_initial_token",
    metadata,
    Column("token_id", RID, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    #: set when the token registered a client (single use)
    Column("used_at", BigInteger, nullable=True),
    Column("used_by", String(64), nullable=True),
    UniqueConstraint("token_hash", name="uq_oauth_initial_token_hash"),
)

AUTH_TABLES = (oauth_client, oauth_token, oauth_jti, oauth_initial_token)
