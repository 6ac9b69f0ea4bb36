"""rest-json: the REST bindings with JSON bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import Shape

from nubes.protocol.base import HttpResponse, ResponseContext, ServiceError
from nubes.protocol.json import CODEC, dumps, encode_json, loads, query_error_header
from nubes.protocol.rest import RestProtocol


class RestJsonProtocol(RestProtocol):
    name = "rest-json"
    content_type = "application/json"

    def decode_body(self, shape: Shape, raw: bytes) -> dict[str, Any]:
        value = loads(raw)
        if not shape.is_document_type and not isinstance(value, dict):
            raise ServiceError("SerializationException", "the request body must be a JSON object")
        result: dict[str, Any] = CODEC.decode(shape, value)
        return result

    def encode_body(self, shape: Shape, value: Mapping[str, Any]) -> bytes:
        return encode_json(shape, value)

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        shape, headers, fields = self.error_parts(error, ctx)
        headers = {
            **self.base_headers(ctx),
            "Content-Type": self.content_type,
            "x-amzn-ErrorType": error.code,
            **query_error_header(error, ctx.service),
            **headers,
        }
        return HttpResponse(error.status, headers, dumps(CODEC.error_body(error, shape, fields)))
