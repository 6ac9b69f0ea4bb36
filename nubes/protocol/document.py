"""Conversion between a shape's Python values and the plain values of a JSON-like body.

JSON and CBOR bodies are trees of dicts, lists and scalars; they differ only in how they carry
timestamps, blobs and special floats, and in whether members go by their serialized name. A
:class:`ValueCodec` compiles one converter function per shape, once, so a request walks its
value and not the model.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.model import Shape

from nubes.protocol import timestamps
from nubes.protocol.base import ServiceError

Convert = Callable[[Any], Any]

_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_MALFORMED = (ValueError, TypeError, AttributeError, KeyError, binascii.Error, OverflowError)


def _identity(value: Any) -> Any:
    return value


def float_to_json(value: Any) -> Any:
    """JSON has no NaN or infinities; AWS sends them as these strings."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def float_from_wire(value: Any) -> float:
    if isinstance(value, str):
        return _SPECIAL_FLOATS[value]
    if isinstance(value, bool):
        raise TypeError("boolean where a number was expected")
    return float(value)


INT_BITS = {"byte": 8, "short": 16, "integer": 32, "long": 64}


def int_in_range(kind: str, value: int) -> int:
    """``value`` when the model's integer type can hold it (signed, as Java's are), else a
    ValueError: nothing past it (SQLite's INTEGER included) takes a wider number."""
    half = 1 << (INT_BITS.get(kind, 64) - 1)
    if not -half <= value < half:
        raise ValueError(f"{value} is out of range for a {kind}")
    return value


def _int_decoder(kind: str) -> Convert:
    def decode_int(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"not an integer: {value!r}")
        return int_in_range(kind, value)

    return decode_int


def _bool_from_wire(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"not a boolean: {value!r}")
    return value


def _str_from_wire(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"not a string: {value!r}")
    return value


def _blob_to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if hasattr(value, "read"):
        return bytes(value.read())
    return bytes(value)


class ValueCodec:
    """Encoders (Python value -> body value) and decoders (body value -> Python value) per shape.

    ``binary`` bodies (CBOR) carry blobs as byte strings, timestamps as datetimes (the encoder
    library tags them) and floats natively; text bodies (JSON) use base64, epoch numbers (or the
    member's ``timestampFormat``) and strings for NaN and the infinities.
    """

    def __init__(self, *, binary: bool, wire_names: bool) -> None:
        self.binary = binary
        self.wire_names = wire_names
        self._encoders: dict[tuple[int, str, str], Any] = {}
        self._decoders: dict[tuple[int, str, str], Any] = {}

    def encode(self, shape: Shape, value: Any) -> Any:
        return self.encoder(shape)(value)

    def decode(self, shape: Shape, value: Any) -> Any:
        """The Python value for a body value; malformed input raises SerializationException."""
        try:
            return self.decoder(shape)(value)
        except ServiceError:
            raise
        except _MALFORMED as exc:
            raise ServiceError("SerializationException", f"malformed request body: {exc}") from exc

    def error_body(
        self, error: ServiceError, shape: Shape | None, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``__type``, the message and the error shape's other members."""
        body: dict[str, Any] = {"__type": error.code}
        if shape is not None and fields:
            body.update(self.encode(shape, fields))
        if error.message:
            body[self._message_key(shape)] = error.message
        return body

    def _message_key(self, shape: Shape | None) -> str:
        """Where the shape models its message (Lambda's is ``Message``); clients read either."""
        if shape is not None:
            for name, member in shape.members.items():
                if name.lower() == "message":
                    return self._member_name(name, member)
        return "message"

    def encoder(self, shape: Shape) -> Convert:
        return self._compiled(shape, self._encoders, self._build_encoder)

    def decoder(self, shape: Shape) -> Convert:
        return self._compiled(shape, self._decoders, self._build_decoder)

    @staticmethod
    def _compiled(
        shape: Shape, cache: dict[tuple[int, str, str], Any], build: Callable[[Shape], Convert]
    ) -> Convert:
        # botocore makes a new Shape object each time a recursive shape is reached, so shapes are
        # told apart by model, name and member traits rather than identity. The cached entry holds
        # the shape, which keeps its resolver (and so the id in the key) alive.
        key = (id(shape._shape_resolver), shape.name, repr(shape.serialization))
        entry = cache.get(key)
        if entry is None:
            # Recursive shapes reach themselves while being built: point them at the finished
            # converter through a forwarding call.
            cell: list[Convert] = []
            cache[key] = (shape, lambda v: cell[0](v))
            fn = build(shape)
            cell.append(fn)
            cache[key] = (shape, fn)
            return fn
        result: Convert = entry[1]
        return result

    def _member_name(self, name: str, member: Shape) -> str:
        return member.serialization.get("name", name) if self.wire_names else name

    def _build_encoder(self, shape: Shape) -> Convert:
        kind = shape.type_name
        if kind == "structure":
            if shape.is_document_type:
                return _identity
            table = {
                name: (self._member_name(name, member), self.encoder(member))
                for name, member in shape.members.items()
            }

            def encode_structure(value: Any) -> dict[str, Any]:
                out = {}
                for key, item in value.items():
                    entry = table.get(key)
                    if entry is not None and item is not None:
                        out[entry[0]] = entry[1](item)
                return out

            return encode_structure
        if kind == "list":
            item_enc = self.encoder(shape.member)
            return lambda value: [None if v is None else item_enc(v) for v in value]
        if kind == "map":
            value_enc = self.encoder(shape.value)
            if shape.serialization.get("sparse") or shape.metadata.get("sparse"):
                return lambda value: {
                    k: None if v is None else value_enc(v) for k, v in value.items()
                }
            return lambda value: {k: value_enc(v) for k, v in value.items() if v is not None}
        if kind == "timestamp":
            if self.binary:
                return timestamps.to_datetime
            fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
            return lambda value: timestamps.format(value, fmt)
        if kind == "blob":
            if self.binary:
                return _blob_to_bytes
            return lambda value: base64.b64encode(_blob_to_bytes(value)).decode("ascii")
        if kind in ("float", "double"):
            return float if self.binary else float_to_json
        if kind in ("integer", "long", "byte", "short"):
            return int
        if kind == "boolean":
            return bool
        return _identity

    def _build_decoder(self, shape: Shape) -> Convert:
        kind = shape.type_name
        if kind == "structure":
            if shape.is_document_type:
                return _identity
            table = {
                self._member_name(name, member): (name, self.decoder(member))
                for name, member in shape.members.items()
            }

            def decode_structure(value: Any) -> dict[str, Any]:
                if not isinstance(value, dict):
                    raise TypeError(f"{shape.name} must be an object")
                out = {}
                for key, item in value.items():
                    entry = table.get(key)
                    # Unknown keys (``__type`` in unions included) are ignored, as clients do.
                    if entry is not None and item is not None:
                        # Strings, most members of most requests, are taken without a call.
                        if type(item) is str and entry[1] is _str_from_wire:
                            out[entry[0]] = item
                        else:
                            out[entry[0]] = entry[1](item)
                return out

            return decode_structure
        if kind == "list":
            item_dec = self.decoder(shape.member)
            sparse_list = bool(shape.serialization.get("sparse") or shape.metadata.get("sparse"))

            def decode_list(value: Any) -> list[Any]:
                if not isinstance(value, list):
                    raise TypeError(f"{shape.name} must be a list")
                if not sparse_list and None in value:
                    # Only sparse lists hold nulls; services read every item as a value.
                    raise TypeError(f"{shape.name} cannot hold null items")
                return [None if v is None else item_dec(v) for v in value]

            return decode_list
        if kind == "map":
            value_dec = self.decoder(shape.value)
            sparse = bool(shape.serialization.get("sparse") or shape.metadata.get("sparse"))

            def decode_map(value: Any) -> dict[str, Any]:
                if not isinstance(value, dict):
                    raise TypeError(f"{shape.name} must be an object")
                return {
                    k: None if v is None else value_dec(v)
                    for k, v in value.items()
                    if sparse or v is not None
                }

            return decode_map
        if kind == "timestamp":
            return self._decode_timestamp
        if kind == "blob":
            return self._decode_blob
        if kind in ("float", "double"):
            return float_from_wire
        if kind in ("integer", "long", "byte", "short"):
            return _int_decoder(kind)
        if kind == "boolean":
            return _bool_from_wire
        if kind == "string":
            return _str_from_wire
        return _identity

    @staticmethod
    def _decode_timestamp(value: Any) -> datetime:
        if isinstance(value, bool):
            raise TypeError("boolean where a timestamp was expected")
        return timestamps.to_datetime(value)

    def _decode_blob(self, value: Any) -> bytes:
        if self.binary:
            if not isinstance(value, bytes | bytearray):
                raise TypeError("blob must be a byte string")
            return bytes(value)
        if not isinstance(value, str):
            raise TypeError("blob must be a base64 string")
        return base64.b64decode(value, validate=True)
