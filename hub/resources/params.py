"""History parameters _count, _since, _at, _offset (http://hl7.org/fhir/R4/http.html#history)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.fhir.errors import FhirError
from hub.resources.request import FhirRequest

HISTORY_PARAMS = frozenset({"_count", "_since", "_at", "_offset", "_format", "_pretty", "_list"})


@dataclass(frozen=True, slots=True)
class HistoryParams:
    count: int
    offset: int
    since: int | None
    at: int | None

    def to_params(self) -> list[tuple[str, str]]:
        from hub.store.records import micros_to_instant

        out = [("_count", str(self.count))]
        if self.since is not None:
            out.append(("_since", micros_to_instant(self.since)))
        if self.at is not None:
            out.append(("_at", micros_to_instant(self.at)))
        return out


def _instant(name: str, value: str, *, high: bool) -> int:
    from hub.fhir.indexing import date_range

    try:
        low, hi = date_range(value)
    except ValueError:
        raise FhirError.invalid(f"{name}: {value!r} is not a FHIR instant or date", name) from None
    return hi if high else low


def _int(name: str, value: str, lo: int, hi: int) -> int:
    if not value.isdigit() or not lo <= int(value) <= hi:
        raise FhirError.invalid(f"{name} must be a whole number from {lo} to {hi}", name)
    return int(value)


def history_params(
    req: FhirRequest, max_count: int = 1000, default_count: int = 20
) -> HistoryParams:
    count, offset, since, at = default_count, 0, None, None
    for k, v in req.params:
        if k == "_count":
            count = _int(k, v, 0, max_count)
        elif k == "_offset":
            offset = _int(k, v, 0, 10**9)
        elif k == "_since":
            since = _instant(k, v, high=False)
        elif k == "_at":
            at = _instant(k, v, high=True)
        elif k not in HISTORY_PARAMS and not req.lenient:
            raise FhirError.invalid(f"Unknown history parameter {k!r}", k)
    return HistoryParams(count, offset, since, at)
