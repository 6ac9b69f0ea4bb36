"""awsJson 1.0 and 1.1: every operation is a POST of a JSON document; X-Amz-Target names it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from nubes.core import safejson
from nubes.protocol import eventstream
from nubes.protocol.base import HttpRequest, HttpResponse, ResponseContext, ServiceError
from nubes.protocol.document import ValueCodec
from nubes.protocol.rest import error_shape

CODEC = ValueCodec(binary=False, wire_names=True)

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
        raw = req.read_limited(MAX_BODY)
        if shape is None or not raw.strip():
            return {}
        value = loads(raw)
        if not isinstance(value, dict):
            raise ServiceError("SerializationException", "the request body must be a JSON object")
        result: dict[str, Any] = CODEC.decode(shape, value)
        return result

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        shape = ctx.operation.output_shape if ctx.operation is not None else None
        if shape is None:
            return HttpResponse(200, self._headers(ctx), b"{}")
        stream = shape.event_stream_name
        if stream:
            return self._event_stream(shape, stream, result, ctx)
        return HttpResponse(200, self._headers(ctx), encode_json(shape, result))

    def _event_stream(
        self, shape: Shape, stream: str, result: Mapping[str, Any], ctx: ResponseContext
    ) -> HttpResponse:
        """The other output members go first, as the stream's ``initial-response`` event."""
        headers = self._headers(ctx)
        initial = encode_json(shape, {k: v for k, v in result.items() if k != stream})
        body = eventstream.encode_stream(
            shape.members[stream],
            result.get(stream) or (),
            encode_json,
            headers["Content-Type"],
            initial=initial,
        )
        return HttpResponse(200, {**headers, "Content-Type": eventstream.CONTENT_TYPE}, body)

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        shape = error_shape(ctx, error.code)
        headers = {**self._headers(ctx), **query_error_header(error, ctx.service), **error.headers}
        return HttpResponse(
            error.status, headers, dumps(CODEC.error_body(error, shape, error.fields))
        )

    @staticmethod
    def _headers(ctx: ResponseContext) -> dict[str, str]:
        version = ctx.service.metadata.get("jsonVersion", "1.0")
        return {
            "Content-Type": f"application/x-amz-json-{version}",
            "x-amzn-RequestId": ctx.request_id,
        }
