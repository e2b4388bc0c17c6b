"""Plain values the store hands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored: canonical JSON bytes plus its keys."""

    rid: int
    res_type: str
    res_id: str
    version_id: int
    last_updated: int  # µs since the Unix epoch, UTC
    deleted: bool
    content: bytes | None  # None for a deletion

    @property
    def etag(self) -> str:
        """Weak ETag per http://hl7.org/fhir/R4/http.html#versioning"""
        return f'W/"{self.version_id}"'

    @property
    def last_modified(self) -> datetime:
        return datetime.fromtimestamp(self.last_updated / 1_000_000, tz=UTC)

    @property
    def reference(self) -> str:
        return f"{self.res_type}/{self.res_id}"


def location_parts(location: str | None) -> tuple[str, str, str | None] | None:
    """``(type, id, version)`` of a ``Location`` header (``[base/]Type/id[/_history/v]``;
    http://hl7.org/fhir/R4/http.html#create), or None when it names no resource."""
    if not location:
        return None
    head, _, version = location.partition("/_history/")
    parts = head.rsplit("/", 2)
    if len(parts) < 2 or not parts[-2] or not parts[-1]:
        return None
    return parts[-2], parts[-1], version or None


def micros_to_instant(us: int) -> str:
    """µs since epoch → FHIR instant (``2026-11-23T09:14:46.123456+00:00``)."""
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC).isoformat(timespec="microseconds")


def now_micros() -> int:
    return int(datetime.now(tz=UTC).timestamp() * 1_000_000)
