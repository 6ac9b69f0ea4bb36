"""The ``application/vnd.amazon.eventstream`` framing: the events of a streaming output member.

Each message is a prelude (total length, headers length, CRC32 of those 8 bytes), typed headers,
a payload and a CRC32 of everything before it. A service returns the stream member as an
iterable of ``{"<EventName>": {...members}}``; messages are encoded one at a time as the response
is sent, so a long stream is never held in memory.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from botocore.model import Shape

from nubes.protocol import timestamps

CONTENT_TYPE = "application/vnd.amazon.eventstream"

EncodeStructure = Callable[[Shape, Mapping[str, Any]], bytes]
"""The body codec for an event's structured payload (JSON for rest-json and json, ...)."""

_BOOL_TRUE, _BOOL_FALSE, _BYTE, _SHORT, _INT, _LONG, _BYTES, _STRING, _TIMESTAMP = range(9)


def _header(name: str, value: Any, shape: Shape | None = None) -> bytes:
    key = name.encode("utf-8")
    out = struct.pack("B", len(key)) + key
    kind = shape.type_name if shape is not None else ("string" if isinstance(value, str) else "")
    if kind == "boolean" or isinstance(value, bool):
        return out + struct.pack("B", _BOOL_TRUE if value else _BOOL_FALSE)
    if kind == "byte":
        return out + struct.pack(">Bb", _BYTE, value)
    if kind == "short":
        return out + struct.pack(">Bh", _SHORT, value)
    if kind == "integer":
        return out + struct.pack(">Bi", _INT, value)
    if kind == "long":
        return out + struct.pack(">Bq", _LONG, value)
    if kind == "timestamp" or isinstance(value, datetime):
        millis = round(float(timestamps.epoch_seconds(value)) * 1000)
        return out + struct.pack(">Bq", _TIMESTAMP, millis)
    if kind == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return out + struct.pack(">BH", _BYTES, len(raw)) + raw
    text = str(value).encode("utf-8")
    return out + struct.pack(">BH", _STRING, len(text)) + text


def message(headers: Iterable[bytes], payload: bytes) -> bytes:
    """One framed message from already-encoded headers."""
    head = b"".join(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event_message(
    name: str, shape: Shape, value: Mapping[str, Any], encode: EncodeStructure, content_type: str
) -> bytes:
    """The message for one event: header-bound members as headers, the rest as its payload."""
    headers = [_header(":message-type", "event"), _header(":event-type", name)]
    payload = b""
    payload_type = content_type
    rest: dict[str, Any] = {}
    for member_name, member in shape.members.items():
        item = value.get(member_name)
        if item is None:
            continue
        if member.serialization.get("eventheader"):
            headers.append(_header(member_name, item, member))
        elif member.serialization.get("eventpayload"):
            if member.type_name == "blob":
                payload = item.encode("utf-8") if isinstance(item, str) else bytes(item)
                payload_type = "application/octet-stream"
            elif member.type_name == "string":
                payload, payload_type = item.encode("utf-8"), "text/plain"
            else:
                payload = encode(member, item)
        else:
            rest[member_name] = item
    if rest:
        payload = encode(shape, rest)
    headers.append(_header(":content-type", payload_type))
    return message(headers, payload)


def encode_stream(
    shape: Shape,
    events: Iterable[Mapping[str, Any]],
    encode: EncodeStructure,
    content_type: str,
    initial: bytes | None = None,
) -> Iterator[bytes]:
    """The messages of an event stream; ``initial`` is an RPC protocol's ``initial-response``
    payload, sent first."""
    if initial is not None:
        yield _initial_response(initial, content_type)
    for event in events:
        yield from _event_messages(shape, event, encode, content_type)


async def encode_async_stream(
    shape: Shape,
    events: AsyncIterable[Mapping[str, Any]],
    encode: EncodeStructure,
    content_type: str,
    initial: bytes | None = None,
) -> AsyncIterator[bytes]:
    """:func:`encode_stream` for events that come over time (a subscription pushing records
    as they arrive): each is sent as soon as the service yields it."""
    if initial is not None:
        yield _initial_response(initial, content_type)
    async for event in events:
        for chunk in _event_messages(shape, event, encode, content_type):
            yield chunk


def _initial_response(initial: bytes, content_type: str) -> bytes:
    return message(
        [
            _header(":message-type", "event"),
            _header(":event-type", "initial-response"),
            _header(":content-type", content_type),
        ],
        initial,
    )


def _event_messages(
    shape: Shape, event: Mapping[str, Any], encode: EncodeStructure, content_type: str
) -> Iterator[bytes]:
    members = shape.members
    for name, value in event.items():
        member = members[name]
        if member.metadata.get("exception"):
            yield message(
                [
                    _header(":message-type", "exception"),
                    _header(":exception-type", name),
                    _header(":content-type", content_type),
                ],
                encode(member, value),
            )
        else:
            yield event_message(name, member, value, encode, content_type)
