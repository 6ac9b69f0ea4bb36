"""smithy-rpc-v2-cbor: POST /service/<Service>/operation/<Op> with CBOR bodies both ways."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2
from botocore.model import OperationModel

from nubes.core.safejson import MAX_DEPTH
from nubes.protocol.base import HttpRequest, HttpResponse, ResponseContext, ServiceError
from nubes.protocol.document import ValueCodec
from nubes.protocol.json import query_error_header
from nubes.protocol.rest import error_shape

CODEC = ValueCodec(binary=True, wire_names=False)

MAX_BODY = 64 * 1024 * 1024
"""The largest CBOR body read, as for JSON."""


def _dumps(value: Any) -> bytes:
    # Timestamps go out as tag 1 (epoch seconds), which is what the protocol asks for.
    return bytes(cbor2.dumps(value, datetime_as_timestamp=True))


class CborProtocol:
    name = "smithy-rpc-v2-cbor"

    def parse(
        self, op: OperationModel, req: HttpRequest, uri_params: Mapping[str, str]
    ) -> dict[str, Any]:
        shape = op.input_shape
        raw = req.read_limited(MAX_BODY)
        if shape is None or not raw:
            return {}
        try:
            value = cbor2.loads(raw, max_depth=MAX_DEPTH)
        except (cbor2.CBORDecodeError, ValueError, EOFError) as exc:
            raise ServiceError("SerializationException", f"malformed CBOR body: {exc}") from exc
        if not isinstance(value, dict):
            raise ServiceError("SerializationException", "the request body must be a CBOR map")
        result: dict[str, Any] = CODEC.decode(shape, value)
        return result

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        shape = ctx.operation.output_shape if ctx.operation is not None else None
        body = CODEC.encode(shape, result) if shape is not None else {}
        return HttpResponse(200, self._headers(ctx), _dumps(body))

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        body = CODEC.error_body(error, error_shape(ctx, error.code), error.fields)
        headers = {**self._headers(ctx), **query_error_header(error, ctx.service), **error.headers}
        return HttpResponse(error.status, headers, _dumps(body))

    @staticmethod
    def _headers(ctx: ResponseContext) -> dict[str, str]:
        return {
            "Content-Type": "application/cbor",
            "smithy-protocol": "rpc-v2-cbor",
            "x-amzn-RequestId": ctx.request_id,
        }
