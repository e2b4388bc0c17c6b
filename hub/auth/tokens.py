"""Access tokens: opaque, short-lived, stored hashed; and the ``jti`` replay store.

Tokens are 256-bit random strings (``secrets.token_urlsafe(32)``), not JWTs: the hub is both
the authorization server and the only resource server, so a database lookup (an indexed
SHA-256) answers every question a self-contained token would, and revocation (RFC 7009) takes
effect at once. Only the hash is stored. Lifetime: ``Settings.token_lifetime`` (300 s, as SMART
Backend Services recommends, §"Issue an access token").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.auth.clients import Client, hash_secret
from hub.auth.schema import oauth_client, oauth_jti, oauth_token
from hub.consent.codes import PURPOSE_OF_USE_SYSTEM
from hub.store.db import Database
from hub.store.records import now_micros

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]{20,128}")


class PurposeOfUse(StrEnum):
    """HL7 v3 PurposeOfUse codes a token may carry (IHE IUA ``purpose_of_use``;
    http://terminology.hl7.org/ValueSet/v3-PurposeOfUse). ``ETREAT`` is break-glass."""

    TREAT = "TREAT"
    ETREAT = "ETREAT"
    COC = "COC"
    CAREMGT = "CAREMGT"
    HOPERAT = "HOPERAT"
    HPAYMT = "HPAYMT"
    PUBHLTH = "PUBHLTH"
    HRESCH = "HRESCH"
    PATRQT = "PATRQT"
    HSYSADMIN = "HSYSADMIN"


PURPOSE_SYSTEM = PURPOSE_OF_USE_SYSTEM


def parse_purpose(raw: str) -> PurposeOfUse:
    """``ETREAT`` or ``http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT``."""
    system, bar, code = raw.rpartition("|")
    if bar and system != PURPOSE_SYSTEM:
        raise ValueError(f"purpose_of_use system must be {PURPOSE_SYSTEM}")
    return PurposeOfUse(code)


@dataclass(frozen=True, slots=True)
class AccessToken(TokenMixin):
    """One issued token joined with its client (authlib's ``TokenMixin``, RFC 6749 §1.4)."""

    token_id: int
    client_id: str
    scope: str
    issued_at: int  # µs
    expires_at: int  # µs
    revoked: bool
    purpose_of_use: str | None
    organization: str
    break_glass_allowed: bool
    privacy_officer: bool
    client_disabled: bool

    def check_client(self, client: Client) -> bool:
        return bool(client.client_id == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return (self.expires_at - self.issued_at) // 1_000_000

    def is_expired(self) -> bool:
        return now_micros() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked or self.client_disabled

    def get_user(self) -> None:
        return None

    def get_client(self) -> None:
        return None

    @property
    def active(self) -> bool:
        return not (self.is_expired() or self.is_revoked())


class TokenStore:
    """Issue, find and revoke access tokens; remember assertion ``jti``s."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(
        self,
        token: str,
        client_id: str,
        scope: str,
        lifetime: int,
        purpose_of_use: str | None = None,
    ) -> None:
        """Store a newly issued token (its hash) with its client, scope and lifetime."""
        now = now_micros()
        with self.db.unit(write=True) as conn:
            conn.execute(
                oauth_token.insert().values(
                    token_hash=hash_secret(token),
                    client_id=client_id,
                    scope=scope,
                    issued_at=now,
                    expires_at=now + lifetime * 1_000_000,
                    revoked=False,
                    purpose_of_use=purpose_of_use,
                )
            )

    def find(self, token: str) -> AccessToken | None:
        """The token record (active or not) for a token string, or None if never issued here."""
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return None
        t, c = oauth_token, oauth_client
        stmt = (
            select(
                t.c.token_id,
                t.c.client_id,
                t.c.scope,
                t.c.issued_at,
                t.c.expires_at,
                t.c.revoked,
                t.c.purpose_of_use,
                c.c.organization,
                c.c.break_glass,
                c.c.privacy_officer,
                c.c.disabled,
            )
            .select_from(t.join(c, c.c.client_id == t.c.client_id))
            .where(t.c.token_hash == hash_secret(token))
        )
        with self.db.unit(write=False) as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        return AccessToken(
            token_id=int(row.token_id),
            client_id=row.client_id,
            scope=row.scope,
            issued_at=int(row.issued_at),
            expires_at=int(row.expires_at),
            revoked=bool(row.revoked),
            purpose_of_use=row.purpose_of_use,
            organization=row.organization,
            break_glass_allowed=bool(row.break_glass),
            privacy_officer=bool(row.privacy_officer),
            client_disabled=bool(row.disabled),
        )

    def revoke(self, token_id: int) -> None:
        with self.db.unit(write=True) as conn:
            conn.execute(
                update(oauth_token).where(oauth_token.c.token_id == token_id).values(revoked=True)
            )

    def consume_jti(self, client_id: str, jti: str, expires_at: int) -> bool:
        """Remember an assertion's ``jti`` until ``expires_at`` (µs); False if seen before
        (RFC 7523 §3 item 7; SMART Backend Services: "jti ... SHALL NOT be reused").

        Expired entries are purged on the way: an assertion past its ``exp`` is refused anyway.
        """
        now = now_micros()
        try:
            with self.db.unit(write=True) as conn:
                conn.execute(delete(oauth_jti).where(oauth_jti.c.expires_at < now))
                conn.execute(
                    oauth_jti.insert().values(client_id=client_id, jti=jti, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True


class HubBearerTokenValidator(BearerTokenValidator):
    """RFC 6750 bearer validation over the token store (expired/revoked → invalid_token)."""

    def __init__(self, tokens: TokenStore, realm: str = "hub", **extra: Any) -> None:
        super().__init__(realm, **extra)
        self.tokens = tokens

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return self.tokens.find(token_string)
