"""Canonical JSON: the bytes the hub stores, serves, hashes and signs.

Keys sorted, no insignificant whitespace, UTF-8 (not ``\\u`` escapes — Japanese text stays
readable and compact). Close to RFC 8785 (JCS) for the JSON FHIR produces (strings, integers,
decimals as written), which is what the ledger hashes.
"""

from __future__ import annotations

from typing import Any

import orjson


def canonical(obj: Any) -> bytes:
    """Serialise ``obj`` to canonical JSON bytes."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def loads(data: bytes | str) -> Any:
    """Parse JSON (raises ``orjson.JSONDecodeError``, a ``ValueError``)."""
    return orjson.loads(data)


def pretty(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
