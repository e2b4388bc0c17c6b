"""``hub.store.repository``'s pure helpers (the repository itself is exercised through HTTP
and the storage suites)."""

from __future__ import annotations

import time
import uuid

from hub.store.repository import time_ordered_id


def test_time_ordered_ids_are_uuid7_strings_in_time_order() -> None:
    """RFC 9562 §5.7: version 7, the RFC variant, 48-bit Unix milliseconds first; the text is
    exactly ``str(uuid.UUID(...))`` of it (lower-case, hyphens 8-4-4-4-12)."""
    before = time.time_ns() // 1_000_000
    ids = [time_ordered_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        u = uuid.UUID(text)
        assert str(u) == text and u.version == 7 and u.variant == uuid.RFC_4122
        assert before <= u.int >> 80 <= after
    millis = [uuid.UUID(x).int >> 80 for x in ids]
    assert millis == sorted(millis)
