"""Opaque pagination tokens (NextToken, Marker, ContinuationToken, ExclusiveStartKey-like).

A token carries the position to resume from; it is base64 of JSON so clients treat it as
opaque and a tampered one is detected as invalid rather than crashing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class InvalidToken(ValueError):
    pass


def encode_token(position: Any) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> Any:
    try:
        padded = token + "=" * (-len(token) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken(token) from exc


def paginate(
    items: Sequence[T], limit: int, token: str | None, key: Callable[[T], Any]
) -> tuple[list[T], str | None]:
    """A page of ``items`` (sorted by ``key``) after the token's position, and the next token."""
    start = 0
    if token:
        after = decode_token(token)
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, encode_token(key(page[-1])) if more and page else None
