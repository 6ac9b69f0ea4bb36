"""S3 errors for the requests answered before routing (CORS preflight, browser POST uploads):
no operation is in the path, so the error is handed to the rest-xml serializer directly."""

from __future__ import annotations

from nubes.core import ids
from nubes.gateway.catalog import catalog
from nubes.protocol import get_protocol
from nubes.protocol.base import HttpResponse, ResponseContext, ServiceError


def xml_error(status: int, code: str, message: str, **fields: str) -> HttpResponse:
    request_id, host_id = ids.s3_request_id(), ids.s3_host_id()
    ctx = ResponseContext(request_id, catalog().services["s3"].model, None, host_id)
    error = ServiceError(code, message, status, sender_fault=status < 500, fields=fields)
    resp = get_protocol("rest-xml").serialize_error(error, ctx)
    resp.headers["x-amz-request-id"] = request_id
    resp.headers["x-amz-id-2"] = host_id
    return resp
