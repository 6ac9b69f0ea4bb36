"""The HTTP bindings REST protocols share: uri labels, headers, query strings, status code, payload.

rest-json and rest-xml differ only in their body format and error envelope; everything a member's
``location`` says is handled here, once, from the operation's model.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from botocore.model import NoShapeFoundError, OperationModel, Shape

from nubes.protocol import eventstream, timestamps
from nubes.protocol.base import (
    Body,
    HttpRequest,
    HttpResponse,
    ResponseContext,
    ServiceError,
)
from nubes.protocol.document import int_in_range

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Bindings:
    """Where each member of a structure lives on the wire, worked out once per shape."""

    uri: tuple[tuple[str, str, Shape], ...] = ()
    headers: tuple[tuple[str, str, Shape], ...] = ()
    header_maps: tuple[tuple[str, str], ...] = ()
    """(member, lower-cased header prefix)"""
    query: tuple[tuple[str, str, Shape], ...] = ()
    query_map: tuple[str, Shape] | None = None
    status: str | None = None
    payload: tuple[str, Shape] | None = None
    body_members: frozenset[str] = field(default_factory=frozenset)


@lru_cache(maxsize=4096)
def bindings(shape: Shape) -> Bindings:
    uri, headers, header_maps, query, body = [], [], [], [], set()
    query_map = status = None
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            uri.append((name, wire, member))
        elif location == "header":
            headers.append((name, wire.lower(), member))
        elif location == "headers":
            header_maps.append((name, wire.lower() if "name" in member.serialization else ""))
        elif location == "querystring":
            if member.type_name == "map":
                query_map = (name, member)
            else:
                query.append((name, wire, member))
        elif location == "statusCode":
            status = name
        else:
            body.add(name)
    payload_name = shape.serialization.get("payload")
    payload = None
    if payload_name is not None:
        payload = (payload_name, shape.members[payload_name])
        body.discard(payload_name)
    return Bindings(
        uri=tuple(uri),
        headers=tuple(headers),
        header_maps=tuple(header_maps),
        query=tuple(query),
        query_map=query_map,
        status=status,
        payload=payload,
        body_members=frozenset(body),
    )


def _is_jsonvalue(shape: Shape) -> bool:
    return shape.type_name == "string" and bool(shape.serialization.get("jsonvalue"))


def _from_text(shape: Shape, text: str, default_ts: str) -> Any:
    """A scalar carried as text in a uri label, header or query string."""
    kind = shape.type_name
    if kind == "string":
        if _is_jsonvalue(shape):
            return json.loads(base64.b64decode(text))
        return text
    if kind in ("integer", "long", "byte", "short"):
        return int_in_range(kind, int(text))
    if kind in ("float", "double"):
        return float(text)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"not a boolean: {text!r}")
        return text == "true"
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", default_ts)
        if fmt == "unixTimestamp":
            return timestamps.to_datetime(float(text))
        return timestamps.parse(text)
    if kind == "blob":
        return base64.b64decode(text)
    return text


def _to_text(shape: Shape, value: Any, default_ts: str) -> str:
    kind = shape.type_name
    if kind == "string" and _is_jsonvalue(shape):
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(timestamps.format(value, shape.serialization.get("timestampFormat", default_ts)))
    if kind in ("float", "double"):
        value = float(value)
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    return str(value)


def split_header_list(text: str) -> list[str]:
    """Items of a comma-separated header; double-quoted items may hold commas and escaped quotes."""
    items: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            items.append("".join(chars))
            end = text.find(",", i)
            i = n + 1 if end < 0 else end + 1
        else:
            end = text.find(",", i)
            if end < 0:
                end = n
            items.append(text[i:end].strip())
            i = end + 1
    return items


def _header_list(member: Shape, text: str) -> list[Any]:
    item = member.member
    if item.type_name == "timestamp":
        fmt = item.serialization.get("timestampFormat", "rfc822")
        if fmt == "rfc822":
            # An HTTP date has its own comma: "Mon, 16 Dec 2019 23:48:18 GMT".
            parts = [p.strip() for p in text.split(",")]
            dates = [f"{parts[i]}, {parts[i + 1]}" for i in range(0, len(parts) - 1, 2)]
            return [timestamps.parse(d) for d in dates]
    return [_from_text(item, v, "rfc822") for v in split_header_list(text)]


def _quote_header_item(text: str) -> str:
    if "," in text or '"' in text or text != text.strip():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _stream_chunks(value: Any) -> Iterator[bytes]:
    if hasattr(value, "read"):
        return iter(lambda: value.read(_CHUNK), b"")
    return iter(value)


class RestProtocol:
    """The REST bindings; a subclass supplies the body format and the error envelope.

    Hooks:

    - ``content_type``: media type of structured bodies.
    - ``malformed_code``: the error code for input that doesn't fit the model.
    - ``max_body``, ``too_large_code``: the largest body parsed in memory, and the error for
      a larger one.
    - ``decode_body(shape, raw)``: the members of ``shape`` found in a non-empty body. Raise
      ServiceError (the protocol's serialization error) when it is malformed.
    - ``encode_body(shape, value)``: the body for ``value``, a dict holding only ``shape``'s
      body members (or a structure payload's value).
    - ``serialize_error(error, ctx)``: the error envelope; ``error_parts`` helps with the
      header-bound members of the error shape.
    """

    name: str
    content_type: str
    malformed_code = "SerializationException"
    max_body = 100 * 1024 * 1024
    """The largest non-streaming body read (Lambda's 50 MB zip files, base64 in JSON, fit)."""
    too_large_code = "RequestEntityTooLarge"

    def decode_body(self, shape: Shape, raw: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def encode_body(self, shape: Shape, value: Mapping[str, Any]) -> bytes:
        raise NotImplementedError

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        raise NotImplementedError

    # -- requests ---------------------------------------------------------------------------

    def parse(
        self, op: OperationModel, req: HttpRequest, uri_params: Mapping[str, str]
    ) -> dict[str, Any]:
        shape = op.input_shape
        if shape is None:
            return {}
        try:
            return self._parse(shape, req, uri_params)
        except ServiceError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ServiceError(self.malformed_code, f"malformed request: {exc}") from exc

    def _parse(
        self, shape: Shape, req: HttpRequest, uri_params: Mapping[str, str]
    ) -> dict[str, Any]:
        b = bindings(shape)
        out: dict[str, Any] = {}
        for name, wire, member in b.uri:
            if wire in uri_params:
                out[name] = _from_text(member, uri_params[wire], "iso8601")
        headers = req.headers
        for name, wire, member in b.headers:
            text = headers.get(wire)
            if text is None:
                continue
            if member.type_name == "list":
                out[name] = _header_list(member, text)
            else:
                out[name] = _from_text(member, text, "rfc822")
        for name, prefix in b.header_maps:
            out[name] = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
        if b.query or b.query_map:
            self._parse_query(b, req.query, out)
        if b.payload is not None:
            self._parse_payload(b.payload, req, out)
        elif b.body_members:
            raw = req.read_limited(self.max_body, self.too_large_code)
            if raw:
                out.update(self.decode_body(shape, raw))
        return out

    @staticmethod
    def _parse_query(b: Bindings, query: dict[str, list[str]], out: dict[str, Any]) -> None:
        for name, wire, member in b.query:
            values = query.get(wire)
            if values is None:
                continue
            if member.type_name == "list":
                item = member.member
                out[name] = [_from_text(item, v, "iso8601") for v in values]
            else:
                out[name] = _from_text(member, values[0], "iso8601")
        if b.query_map is not None:
            name, member = b.query_map
            value_shape = member.value
            found: dict[str, Any] = {}
            # Keys bound to their own members are repeated in the map, as clients expect.
            for key, values in query.items():
                if value_shape.type_name == "list":
                    item = value_shape.member
                    found[key] = [_from_text(item, v, "iso8601") for v in values]
                else:
                    found[key] = _from_text(value_shape, values[0], "iso8601")
            if found:
                out[name] = found

    def _parse_payload(self, payload: tuple[str, Shape], req: HttpRequest, out: dict) -> None:
        name, member = payload
        kind = member.type_name
        if kind == "blob" and member.serialization.get("streaming"):
            out[name] = req.body_stream()
            return
        raw = req.read_limited(self.max_body, self.too_large_code)
        if not raw:
            return
        if kind == "blob":
            out[name] = raw
        elif kind == "string":
            out[name] = raw.decode("utf-8")
        else:
            value = self.decode_body(member, raw)
            # Clients send an absent structure payload as an empty one.
            if value or member.is_document_type:
                out[name] = value

    # -- responses --------------------------------------------------------------------------

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        op = ctx.operation
        assert op is not None
        status = int(op.http.get("responseCode", 200))
        shape = op.output_shape
        if shape is None:
            return HttpResponse(status, self.base_headers(ctx), b"")
        status, headers, body = self.render(shape, result, status)
        if any(not prefix for _, prefix in bindings(shape).header_maps):
            # The output claims every header as its own: add none it didn't set.
            return HttpResponse(status, headers, body)
        return HttpResponse(status, {**self.base_headers(ctx), **headers}, body)

    def base_headers(self, ctx: ResponseContext) -> dict[str, str]:
        return {"x-amzn-RequestId": ctx.request_id}

    def render(
        self, shape: Shape, value: Mapping[str, Any], status: int
    ) -> tuple[int, dict[str, str], Body]:
        """Status, headers and body for ``value`` laid out by ``shape``'s bindings."""
        b = bindings(shape)
        headers: dict[str, str] = {}
        if b.status is not None and value.get(b.status) is not None:
            status = int(value[b.status])
        for name, wire, member in b.headers:
            item = value.get(name)
            if item is None:
                continue
            if member.type_name == "list":
                item_shape = member.member
                texts = [_to_text(item_shape, v, "rfc822") for v in item]
                headers[wire] = ", ".join(
                    t if item_shape.type_name == "timestamp" else _quote_header_item(t)
                    for t in texts
                )
            else:
                headers[wire] = _to_text(member, item, "rfc822")
        for name, prefix in b.header_maps:
            for key, item in (value.get(name) or {}).items():
                headers[prefix + key] = str(item)
        body: Body = b""
        if b.payload is not None:
            name, member = b.payload
            item = value.get(name)
            if item is not None:
                body = self._payload_body(member, item, headers)
        elif b.body_members:
            body_value = {k: v for k, v in value.items() if k in b.body_members}
            body = self.encode_body(shape, body_value)
            headers.setdefault("Content-Type", self.content_type)
        return status, headers, body

    def _payload_body(self, member: Shape, item: Any, headers: dict[str, str]) -> Body:
        kind = member.type_name
        if member.serialization.get("eventstream"):
            headers["Content-Type"] = eventstream.CONTENT_TYPE
            return eventstream.encode_stream(member, item, self.encode_body, self.content_type)
        if kind == "blob":
            has_type = any(k.lower() == "content-type" for k in headers)
            if not has_type:
                headers["Content-Type"] = "application/octet-stream"
            if isinstance(item, bytes | bytearray | memoryview):
                return bytes(item)
            if isinstance(item, str):
                return item.encode("utf-8")
            return _stream_chunks(item)
        if kind == "string":
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "text/plain"
            return item.encode("utf-8") if isinstance(item, str) else bytes(item)
        headers.setdefault("Content-Type", self.content_type)
        return self.encode_body(member, item)

    def error_parts(
        self, error: ServiceError, ctx: ResponseContext
    ) -> tuple[Shape | None, dict[str, str], dict[str, Any]]:
        """The error's modeled shape, its header-bound fields as headers, and its other fields."""
        shape = error_shape(ctx, error.code)
        if shape is None:
            return None, dict(error.headers), dict(error.fields)
        b = bindings(shape)
        _, headers, _ = self.render(
            shape, {k: v for k, v in error.fields.items() if k not in b.body_members}, error.status
        )
        headers.pop("Content-Type", None)
        headers.update(error.headers)
        body = {k: v for k, v in error.fields.items() if k in b.body_members}
        return shape, headers, body


def error_shape(ctx: ResponseContext, code: str) -> Shape | None:
    """The error's shape in the service model, found by name."""
    if ctx.operation is not None:
        for shape in ctx.operation.error_shapes:
            if shape.name == code:
                return shape
    try:
        shape = ctx.service.shape_for(code)
    except NoShapeFoundError:
        return None
    return shape if shape.metadata.get("exception") else None
