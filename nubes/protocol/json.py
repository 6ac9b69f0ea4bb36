"""awsJson 1.0 and 1.1: every operation is a POST of a JSON document; X-Amz-Target names it.

The same operations also come as ``application/x-amz-cbor-1.1`` (the AWS SDK for Java sends
Kinesis requests so by default): a CBOR map with blobs as byte strings and timestamps as tag 1
holding epoch *milliseconds* (not the seconds RFC 8949 asks for: AWS's own deviation, which its
SDKs expect back). Such a request is answered, errors included, in the same encoding.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from nubes.core import safejson
from nubes.protocol import eventstream
from nubes.protocol.base import Body, HttpRequest, HttpResponse, ResponseContext, ServiceError
from nubes.protocol.document import ValueCodec
from nubes.protocol.rest import error_shape

CODEC = ValueCodec(binary=False, wire_names=True)
CBOR_CODEC = ValueCodec(binary=True, wire_names=True)
CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"
_cbor_request: ContextVar[bool] = ContextVar("json_cbor_request", default=False)
"""Whether the request being answered came as CBOR (parse and serialize run in one task)."""

MAX_BODY = 64 * 1024 * 1024
"""The largest JSON body read (DynamoDB's 16 MiB batches, base64 blobs of a few MiB, fit)."""


def loads(raw: bytes) -> Any:
    """A JSON body; anything unreadable is the client's SerializationException: malformed,
    nested deeper than :data:`nubes.core.safejson.MAX_DEPTH`, or holding a string that is not
    Unicode text (an escaped lone surrogate, which nothing downstream can store or encode)."""
    try:
        value = safejson.loads(raw)
    except ValueError as exc:
        raise ServiceError("SerializationException", f"malformed JSON body: {exc}") from exc
    if safejson.may_hold_surrogates(raw):
        bad = safejson.lone_surrogate(value)
        if bad is not None:
            raise ServiceError(
                "SerializationException",
                f"malformed JSON body: the string {bad!r} holds an unpaired surrogate",
            )
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_json(shape: Shape, value: Mapping[str, Any]) -> bytes:
    return dumps(CODEC.encode(shape, value))


def _cbor_millis(encoder: cbor2.CBOREncoder, value: datetime) -> None:
    encoder.encode(cbor2.CBORTag(1, round(value.timestamp() * 1000)))


def cbor_dumps(value: Any) -> bytes:
    return bytes(cbor2.dumps(value, encoders={datetime: _cbor_millis}))


def cbor_loads(raw: bytes) -> Any:
    try:
        return cbor2.loads(
            raw,
            max_depth=safejson.MAX_DEPTH,
            semantic_decoders={1: lambda millis, _immutable: _from_millis(millis)},
        )
    except (cbor2.CBORDecodeError, ValueError, EOFError) as exc:
        raise ServiceError("SerializationException", f"malformed CBOR body: {exc}") from exc


def _from_millis(millis: Any) -> datetime:
    if isinstance(millis, bool) or not isinstance(millis, int | float):
        raise ValueError("a timestamp tag must hold a number")
    return datetime.fromtimestamp(millis / 1000, UTC)


def encode_cbor(shape: Shape, value: Mapping[str, Any]) -> bytes:
    return cbor_dumps(CBOR_CODEC.encode(shape, value))


def query_error_header(error: ServiceError, service: ServiceModel) -> dict[str, str]:
    """Services that moved from the query protocol keep telling old clients the old code."""
    if "awsQueryCompatible" not in service.metadata:
        return {}
    fault = "Sender" if error.sender_fault else "Receiver"
    return {"x-amzn-query-error": f"{error.wire_code};{fault}"}


class JsonProtocol:
    name = "json"

    def parse(
        self, op: OperationModel, req: HttpRequest, uri_params: Mapping[str, str]
    ) -> dict[str, Any]:
        shape = op.input_shape
        cbor = req.headers.get("content-type", "").startswith(CBOR_CONTENT_TYPE)
        _cbor_request.set(cbor)
        raw = req.read_limited(MAX_BODY)
        if shape is None or not raw.strip():
            return {}
        value = cbor_loads(raw) if cbor else loads(raw)
        if not isinstance(value, dict):
            raise ServiceError("SerializationException", "the request body must be a JSON object")
        result: dict[str, Any] = (CBOR_CODEC if cbor else CODEC).decode(shape, value)
        return result

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        shape = ctx.operation.output_shape if ctx.operation is not None else None
        if shape is None:
            return HttpResponse(200, self._headers(ctx), b"{}")
        stream = shape.event_stream_name
        if stream:
            return self._event_stream(shape, stream, result, ctx)
        encode = encode_cbor if _cbor_request.get() else encode_json
        return HttpResponse(200, self._headers(ctx), encode(shape, result))

    def _event_stream(
        self, shape: Shape, stream: str, result: Mapping[str, Any], ctx: ResponseContext
    ) -> HttpResponse:
        """The other output members go first, as the stream's ``initial-response`` event."""
        headers = self._headers(ctx)
        encode = encode_cbor if _cbor_request.get() else encode_json
        initial = encode(shape, {k: v for k, v in result.items() if k != stream})
        events = result.get(stream) or ()
        body: Body
        if isinstance(events, AsyncIterable):
            body = eventstream.encode_async_stream(
                shape.members[stream], events, encode, headers["Content-Type"], initial=initial
            )
        else:
            body = eventstream.encode_stream(
                shape.members[stream], events, encode, headers["Content-Type"], initial=initial
            )
        return HttpResponse(200, {**headers, "Content-Type": eventstream.CONTENT_TYPE}, body)

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        shape = error_shape(ctx, error.code)
        headers = {**self._headers(ctx), **query_error_header(error, ctx.service), **error.headers}
        if _cbor_request.get():
            body = cbor_dumps(CBOR_CODEC.error_body(error, shape, error.fields))
        else:
            body = dumps(CODEC.error_body(error, shape, error.fields))
        return HttpResponse(error.status, headers, body)

    @staticmethod
    def _headers(ctx: ResponseContext) -> dict[str, str]:
        version = ctx.service.metadata.get("jsonVersion", "1.0")
        return {
            "Content-Type": CBOR_CONTENT_TYPE
            if _cbor_request.get()
            else f"application/x-amz-json-{version}",
            "x-amzn-RequestId": ctx.request_id,
        }
